"""The Fly Machines API (``/v1``) as the emulator serves it.

Contract: the official OpenAPI document plus the docs pages; where they
disagree the docs win (see docs/emulator-spec-deviations.md).

``FlyService`` is the common serving (auth, routing, request schemas, faults, rate
limits, the request log; emulators/common/server.py) composed with one mixin per
resource, each in its own module with its request schemas, route table and handlers:

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

They share ``self.store`` (state in SQLite), ``self.backend`` (machine lifecycles on the
clock, lifecycle.py) and ``self.settings``; shared.py holds ids, times and the schema vocabulary.
"""

from __future__ import annotations

from emulators.common.server import Service
from emulators.fly.apps import Apps
from emulators.fly.certificates import Certificates
from emulators.fly.control import Control
from emulators.fly.ips import IPs
from emulators.fly.leases import Leases
from emulators.fly.lifecycle import RecordBackend
from emulators.fly.machines import Machines
from emulators.fly.metadata import Metadata
from emulators.fly.platform import Platform
from emulators.fly.secrets import Secrets
from emulators.fly.volumes import Volumes

RESOURCES = (Apps, Machines, Leases, Metadata, Volumes, Secrets, IPs, Certificates, Platform)


class FlyService(Apps, Machines, Leases, Metadata, Volumes, Secrets, IPs, Certificates, Platform, Control, Service):
    default_settings = {"rate_limits": True, "transition_seconds": 0.2, "lease_ttl_max": 3600}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        self.backend = RecordBackend(self.settings["transition_seconds"], self.image_rule)
        for resource in RESOURCES:
            for method, pattern, handler, action, options in resource.ROUTES:
                self.add_route(method, pattern, getattr(self, handler), action, **options)
        for method, pattern, handler in Control.CONTROL_ROUTES:
            self.add_control_route(method, pattern, getattr(self, handler))

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
        self.backend.step = float(self.settings["transition_seconds"])

    # --- the Docker backend (python -m emulators.fly --backend docker --stack S) ----------------------
    def use_docker(self, stack, data_dir):
        """Run machines as containers of the stack ``stack`` (docker_backend.py) instead of records."""
        # The record backend needs no engine.
        from emulators.fly.docker_backend import DockerBackend
        from emulators.fly.logs import MachineLogs

        # Fly's proxy stops idle machines after minutes; seconds keep a local run observable.
        self.default_settings = dict(self.default_settings, proxy_autostop_seconds=5.0)
        self.settings.setdefault("proxy_autostop_seconds", 5.0)
        self.backend = DockerBackend(self, stack, data_dir)
        # The machines' output on NATS, as Fly's log stream carries it (logs.py), for the log shipper.
        self.backend.logs = MachineLogs(self.backend.engine.path, data_dir)
        self.backend.begin()

    def close(self):
        self.backend.close()
        if getattr(self.backend, "logs", None) is not None:
            self.backend.logs.close()

    def restorable(self):
        return isinstance(self.backend, RecordBackend)

    def reset_state(self):
        self.backend.reset()
        super().reset_state()

    def delete_app(self, request, app_name):
        machines, volumes = self.store.list("machine", app_name), self.store.list("volume", app_name)
        status, body = super().delete_app(request, app_name)
        self.backend.app_deleted(app_name, machines, volumes)
        return status, body
