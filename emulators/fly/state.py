"""Everything a Fly emulator knows, in one object the handlers of every resource take: the records
(``store``), the settings, the service's lock and the machine backend (``backend``: lifecycles on the
clock, lifecycle.py; containers with --backend docker, docker_backend.py); with what more than one
resource reads or writes: an app, a machine, the live machines and the one a volume is attached to, a
machine's events, how a machine is answered, and the image rules the control surface sets.

The Docker backend and its proxy take this object as their ``service``: they read ``store``,
``settings``, ``lock``, ``live_machines``, ``org_apps`` and ``image_rule``, and write through ``event``
and ``save_machine``."""

from __future__ import annotations

import copy

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import RecordBackend, now, state_at
from emulators.fly.shared import instance_id, iso

# Events kept per machine, and shown by default (the document: "max of 50 ... 20 by default").
MAX_EVENTS = 50
DEFAULT_EVENTS = 20
# What a summary listing leaves out (the document: "omit config, checks, events, host_status, nonce").
SUMMARY_OMITS = ("config", "checks", "events", "host_status", "nonce")


class FlyState:
    def __init__(self, store, settings, lock):
        self.store = store
        self.settings = settings  # the service's own dict, changed in place
        self.lock = lock  # the service's: the backends' threads take it around their changes
        # Records only (the default); FlyService.use_docker replaces it with docker_backend.DockerBackend.
        self.backend = RecordBackend(settings["transition_seconds"], self.image_rule)

    # --- lookups --------------------------------------------------------------------------------------
    def app(self, app_name):
        app = self.store.get("app", app_name)
        if app is None:
            raise HTTPError(404, "app not found")
        return app

    def org_apps(self, org_slug):
        return [app for app in self.store.list("app") if app["org_slug"] == org_slug]

    def machine(self, app_name, machine_id, include_destroyed=True):
        self.app(app_name)
        machine = self.store.get("machine", machine_id)
        if machine is None or machine["app"] != app_name:
            raise HTTPError(404, "machine not found")
        if not include_destroyed and state_at(machine) == "destroyed":
            raise HTTPError(404, "machine not found")
        return machine

    def live_machines(self, app_name):
        return [m for m in self.store.list("machine", app_name) if state_at(m) != "destroyed"]

    def attached_machine(self, volume_id):
        volume = self.store.get("volume", volume_id)
        for machine in self.live_machines(volume["app"]):
            if any(mount.get("volume") == volume_id for mount in machine["config"].get("mounts") or []):
                return machine
        return None

    def image_rule(self, image):
        rules = self.store.get_meta("images", {})
        return dict({"healthy": True, "start": True}, **rules.get(image or "", {}))

    # --- a machine's record and how it is answered ------------------------------------------------------
    def event(self, machine, kind, status, source="user"):
        machine["events"].insert(0, {"id": instance_id(), "type": kind, "status": status, "source": source,
                                     "timestamp": int(now() * 1000)})
        del machine["events"][MAX_EVENTS:]

    def save_machine(self, machine):
        # Events a backend hook noted (a launch that failed) come after the handler's own.
        for deferred in machine.pop("deferred_events", []):
            self.event(machine, deferred["type"], deferred["status"], deferred["source"])
            if deferred.get("request"):
                machine["events"][0]["request"] = deferred["request"]
        machine["updated_at"] = iso()
        self.store.put("machine", machine["id"], machine, parent=machine["app"])

    def render_machine(self, machine, summary=False):
        out = {key: copy.deepcopy(machine[key]) for key in (
            "id", "name", "region", "instance_id", "private_ip", "config", "image_ref", "created_at",
            "updated_at")}
        out["events"] = copy.deepcopy(machine["events"][:DEFAULT_EVENTS])
        out["state"] = state_at(machine)
        out["checks"] = self.backend.checks(machine)
        out["host_status"] = "ok"
        if summary:
            for key in SUMMARY_OMITS:
                out.pop(key, None)
        return out
