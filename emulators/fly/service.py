"""The Fly Machines API (``/v1``) as the emulator serves it.

Contract: the official OpenAPI document plus the docs pages; where they
disagree the docs win (see docs/emulator-spec-deviations.md).

``FlyService`` is the common serving (auth, routing, request schemas, faults, rate
limits, the request log; emulators/common/server.py) with Fly's error shape, limits and
backends. What it serves is one module per resource, each with its request schemas and a
route table of plain functions over one ``FlyState`` (state.py):

    apps.py          /apps, /apps/{app}
    machines.py      /apps/{app}/machines[/{id}[/start|stop|...|wait|events|versions]], /orgs/{org}/machines
    leases.py        .../machines/{id}/lease
    metadata.py      .../machines/{id}/metadata[/{key}]
    volumes.py       /apps/{app}/volumes[/{id}[/extend|/snapshots]], /orgs/{org}/volumes
    secrets.py       /apps/{app}/secrets[/{name}]
    ips.py           /apps/{app}/ip_assignments[/{ip}]
    certificates.py  /apps/{app}/certificates[...]
    platform.py      /platform/regions, /platform/placements; the region, guest and size rules
    control.py       the Fly part of /_emulator/ (images, drift, the machines watcher)

The state holds the store (SQLite), the settings, the lock and the machine backend (lifecycles
on the clock, lifecycle.py); shared.py holds ids, times and the schema vocabulary.
"""

from __future__ import annotations

import functools

from emulators.common.server import Service
from emulators.fly import apps, certificates, control, ips, leases, machines, metadata, platform, secrets, volumes
from emulators.fly.lifecycle import RecordBackend
from emulators.fly.state import FlyState

RESOURCES = (apps, machines, leases, metadata, volumes, secrets, ips, certificates, platform)


class FlyService(Service):
    default_settings = {"rate_limits": True, "transition_seconds": 0.2, "lease_ttl_max": 3600}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        self.state = FlyState(store, self.settings, self.lock)
        for resource in RESOURCES:
            for method, pattern, handler, action, options in resource.ROUTES:
                self.add_route(method, pattern, functools.partial(handler, self.state), action, **options)
        for method, pattern, handler in control.CONTROL_ROUTES:
            self.add_control_route(method, pattern, functools.partial(handler, self.state))

    # --- shape of errors and limits -------------------------------------------
    def error_body(self, status, message):
        return {"error": message}

    def rate_limit(self, route, request):
        # Docs: per action and per machine (or app): 1 req/s, burst 3; Get Machine 5/s, burst 10;
        # app deletions 100 a minute in all.
        if route.action == "delete_app":
            return ("delete_app", ""), 100 / 60.0, 100
        key = (route.action, request.params.get("machine_id") or request.params.get("app_name") or "")
        return (key, 5, 10) if route.action == "get_machine" else (key, 1, 3)

    def apply_settings(self):
        self.state.backend.step = float(self.settings["transition_seconds"])

    # --- the Docker backend (python -m emulators.fly --backend docker --stack S) ----------------------
    def use_docker(self, stack, data_dir):
        """Run machines as containers of the stack ``stack`` (docker_backend.py) instead of records."""
        # The record backend needs no engine.
        from emulators.fly.docker_backend import DockerBackend
        from emulators.fly.logs import MachineLogs

        # Fly's proxy stops idle machines after minutes; seconds keep a local run observable.
        self.default_settings = dict(self.default_settings, proxy_autostop_seconds=5.0)
        self.settings.setdefault("proxy_autostop_seconds", 5.0)
        # The backend reads and writes through the state, as the handlers do.
        self.state.backend = DockerBackend(self.state, stack, data_dir)
        # The machines' output on NATS, as Fly's log stream carries it (logs.py), for the log shipper.
        self.state.backend.logs = MachineLogs(self.state.backend.engine.path, data_dir)
        self.state.backend.begin()

    def close(self):
        self.state.backend.close()
        if getattr(self.state.backend, "logs", None) is not None:
            self.state.backend.logs.close()

    def restorable(self):
        return isinstance(self.state.backend, RecordBackend)

    def reset_state(self):
        self.state.backend.reset()
        super().reset_state()
