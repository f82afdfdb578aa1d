"""The Fly Machines API (``/v1``) as the emulator serves it.

Contract: the official OpenAPI document plus the docs pages; where they
disagree the docs win (see docs/emulator-spec-deviations.md).
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import re
import secrets as random_tokens
import string
import time

from emulators.common.server import HTTPError, Service
from emulators.fly.lifecycle import RUNNING, STARTABLE, WAITABLE, RecordBackend, is_running, is_settled, now, state_at

APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
VOLUME_NAME = re.compile(r"^[a-z0-9_]{1,30}$")
IP_TYPES = ("v4", "v6", "shared_v4", "private_v6")
MACHINE = r"/apps/(?P<app_name>[^/]+)/machines/(?P<machine_id>[^/]+)"
VOLUME = r"/apps/(?P<app_name>[^/]+)/volumes/(?P<volume_id>[^/]+)"
CERT = r"/apps/(?P<app_name>[^/]+)/certificates/(?P<hostname>[^/]+)"
MAX_WAIT = 60
# Events kept per machine, and shown by default (the document: "max of 50 ... 20 by default").
MAX_EVENTS = 50
DEFAULT_EVENTS = 20
# Where machines and volumes go when the request names no region (the emulated app's primary region).
DEFAULT_REGION = "iad"
NONCE_HEADER = "fly-machine-lease-nonce"
# What a fresh volume's file system takes, and what a snapshot of it holds.
EMPTY_VOLUME_BYTES = 4 * 1024 ** 2


def iso(at=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now() if at is None else at))


def secret_digest(value):
    """What the list answer shows for a value: a short SHA-256 prefix, never the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def random_id(length=14, alphabet=string.digits + "abcdef"):
    return "".join(random.choice(alphabet) for dummy in range(length))


def instance_id():
    return "01" + "".join(random.choice(string.digits + string.ascii_uppercase) for dummy in range(24))


def image_ref(image):
    image = image or ""
    repository, tag = image.rsplit(":", 1) if ":" in image.split("/")[-1] else (image, "latest")
    registry = repository.split("/")[0] if "." in repository.split("/")[0] else "docker-hub-mirror.fly.io"
    return {"registry": registry, "repository": repository, "tag": tag or "latest",
            "digest": "sha256:" + hashlib.sha256((image or "").encode()).hexdigest(), "labels": {}}


def with_server_defaults(config):
    """The config as the API stores it: the user's fields plus what the platform fills in."""
    config = copy.deepcopy(config)
    guest = config.setdefault("guest", {})
    guest.setdefault("cpu_kind", "shared")
    guest.setdefault("cpus", 1)
    guest.setdefault("memory_mb", 256)
    config.setdefault("restart", {"policy": "always"})
    config.setdefault("init", {})
    config.setdefault("dns", {})
    for service in config.get("services") or []:
        service.setdefault("protocol", "tcp")
        for port in service.get("ports") or []:
            port.setdefault("handlers", [])
    return config


class FlyService(Service):
    default_settings = {"rate_limits": True, "transition_seconds": 0.2, "lease_ttl_max": 3600}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        self.backend = RecordBackend(self.settings["transition_seconds"], self.image_rule)
        self._routes()

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

    def image_rule(self, image):
        rules = self.store.get_meta("images", {})
        return dict({"healthy": True, "start": True}, **rules.get(image or "", {}))

    # --- lookups ------------------------------------------------------------------
    def app(self, app_name):
        app = self.store.get("app", app_name)
        if app is None:
            raise HTTPError(404, {"error": "app not found"})
        return app

    def machine(self, app_name, machine_id, include_destroyed=True):
        self.app(app_name)
        machine = self.store.get("machine", machine_id)
        if machine is None or machine["app"] != app_name:
            raise HTTPError(404, {"error": "machine not found"})
        if not include_destroyed and state_at(machine) == "destroyed":
            raise HTTPError(404, {"error": "machine not found"})
        return machine

    def volume(self, app_name, volume_id):
        self.app(app_name)
        volume = self.store.get("volume", volume_id)
        if volume is None or volume["app"] != app_name:
            raise HTTPError(404, {"error": "volume not found"})
        return volume

    def snapshot(self, app_name, snapshot_id):
        """A snapshot of one of the app's volumes (a volume create restores it)."""
        for volume in self.store.list("volume", app_name):
            for snapshot in volume["snapshots"]:
                if snapshot["id"] == snapshot_id:
                    return snapshot
        raise HTTPError(404, {"error": "snapshot %s not found" % snapshot_id})

    def live_machines(self, app_name):
        return [m for m in self.store.list("machine", app_name) if state_at(m) != "destroyed"]

    def attached_machine(self, volume_id):
        volume = self.store.get("volume", volume_id)
        for machine in self.live_machines(volume["app"]):
            if any(mount.get("volume") == volume_id for mount in machine["config"].get("mounts") or []):
                return machine
        return None

    # --- presentation ---------------------------------------------------------
    def render_app(self, app):
        machines = self.live_machines(app["name"])
        volumes = self.store.list("volume", app["name"])
        organization = {"name": app["org_slug"], "slug": app["org_slug"]}
        return {"id": app["id"], "name": app["name"], "status": "deployed" if machines else "pending",
                "network": app.get("network") or "default", "organization": organization,
                "machine_count": len(machines), "volume_count": len(volumes)}

    def render_machine(self, machine):
        out = {key: copy.deepcopy(machine[key]) for key in (
            "id", "name", "region", "instance_id", "private_ip", "config", "image_ref", "created_at",
            "updated_at")}
        out["events"] = copy.deepcopy(machine["events"][:DEFAULT_EVENTS])
        out["state"] = state_at(machine)
        out["checks"] = self.backend.checks(machine)
        out["host_status"] = "ok"
        return out

    def render_volume(self, volume):
        out = {key: value for key, value in volume.items() if key not in ("app", "snapshots")}
        attached = self.attached_machine(volume["id"])
        if attached:  # the document types these as plain strings: absent, not null, when free
            out["attached_machine_id"] = attached["id"]
            out["attached_alloc_id"] = attached["instance_id"]
        out["blocks"] = volume["size_gb"] * 262144
        out["blocks_free"] = out["blocks_avail"] = out["blocks"] - 1024
        out["bytes_total"] = volume["size_gb"] * 1024 ** 3
        out["bytes_used"] = volume.get("bytes_used", EMPTY_VOLUME_BYTES)
        return out

    def lease_of(self, machine):
        lease = machine.get("lease")
        if lease and lease["expires_at"] > now():
            return lease
        return None

    def require_nonce(self, machine, request):
        lease = self.lease_of(machine)
        if lease and request.headers.get(NONCE_HEADER) != lease["nonce"]:
            raise HTTPError(409, {"error": "machine %s is leased by another process; send the lease nonce "
                                           "in the %s header" % (machine["id"], NONCE_HEADER)})

    def event(self, machine, kind, status, source="user"):
        machine["events"].insert(0, {"id": instance_id(), "type": kind, "status": status, "source": source,
                                     "timestamp": int(now() * 1000)})
        del machine["events"][MAX_EVENTS:]

    def save_machine(self, machine):
        machine["updated_at"] = iso()
        self.store.put("machine", machine["id"], machine, parent=machine["app"])

    # --- routes --------------------------------------------------------------------
    def _routes(self):
        add = self.add_route
        add("GET", r"/apps", self.list_apps, "list_apps")
        add("POST", r"/apps", self.create_app, "create_app")
        add("GET", r"/apps/(?P<app_name>[^/]+)", self.get_app, "get_app")
        add("DELETE", r"/apps/(?P<app_name>[^/]+)", self.delete_app, "delete_app")

        add("GET", r"/apps/(?P<app_name>[^/]+)/machines", self.list_machines, "list_machines")
        add("POST", r"/apps/(?P<app_name>[^/]+)/machines", self.create_machine, "create_machine")
        add("GET", MACHINE, self.get_machine, "get_machine")
        add("POST", MACHINE, self.update_machine, "update_machine")
        add("DELETE", MACHINE, self.delete_machine, "delete_machine")
        for action in ("start", "stop", "restart", "suspend", "cordon", "uncordon"):
            add("POST", MACHINE + "/" + action, self.machine_action, action)
        add("GET", MACHINE + "/wait", self.wait_machine, "wait", locked=False)
        add("GET", MACHINE + "/versions", self.machine_versions, "versions")
        add("GET", MACHINE + "/events", self.machine_events, "events")
        add("GET", MACHINE + "/lease", self.get_lease, "get_lease")
        add("POST", MACHINE + "/lease", self.acquire_lease, "acquire_lease")
        add("DELETE", MACHINE + "/lease", self.release_lease, "release_lease")
        add("GET", MACHINE + "/metadata", self.get_metadata, "get_metadata")
        add("GET", MACHINE + "/metadata/(?P<key>[^/]+)", self.get_metadata_key, "get_metadata")
        add("POST", MACHINE + "/metadata/(?P<key>[^/]+)", self.set_metadata_key, "set_metadata")
        add("DELETE", MACHINE + "/metadata/(?P<key>[^/]+)", self.delete_metadata_key, "delete_metadata")

        add("GET", r"/apps/(?P<app_name>[^/]+)/volumes", self.list_volumes, "list_volumes")
        add("POST", r"/apps/(?P<app_name>[^/]+)/volumes", self.create_volume, "create_volume")
        add("GET", VOLUME, self.get_volume, "get_volume")
        add("PUT", VOLUME, self.update_volume, "update_volume")
        add("DELETE", VOLUME, self.delete_volume, "delete_volume")
        add("PUT", VOLUME + "/extend", self.extend_volume, "extend_volume")
        add("GET", VOLUME + "/snapshots", self.list_snapshots, "list_snapshots")
        add("POST", VOLUME + "/snapshots", self.create_snapshot, "create_snapshot")

        add("GET", r"/apps/(?P<app_name>[^/]+)/secrets", self.list_secrets, "list_secrets")
        add("POST", r"/apps/(?P<app_name>[^/]+)/secrets", self.update_secrets, "update_secrets")

        add("GET", r"/apps/(?P<app_name>[^/]+)/ip_assignments", self.list_ips, "list_ips")
        add("POST", r"/apps/(?P<app_name>[^/]+)/ip_assignments", self.assign_ip, "assign_ip")
        add("DELETE", r"/apps/(?P<app_name>[^/]+)/ip_assignments/(?P<ip>[^/]+)", self.release_ip, "release_ip")

        add("GET", r"/apps/(?P<app_name>[^/]+)/certificates", self.list_certificates, "list_certificates")
        add("POST", r"/apps/(?P<app_name>[^/]+)/certificates/acme", self.request_certificate, "acme_certificate")
        add("GET", CERT, self.get_certificate, "get_certificate")
        add("POST", CERT + "/check", self.check_certificate, "check_certificate")
        add("DELETE", CERT, self.delete_certificate, "delete_certificate")

    # --- apps ----------------------------------------------------------------------
    def list_apps(self, request):
        org = request.arg("org_slug")
        if not org:
            raise HTTPError(400, {"error": "org_slug is required"})
        apps = [self.render_app(a) for a in self.store.list("app") if a["org_slug"] == org]
        return 200, {"total_apps": len(apps), "apps": apps}

    def create_app(self, request):
        body = request.json()
        name = body.get("app_name") or body.get("name")  # docs: app_name; spec: name
        if not name or not APP_NAME.match(name):
            raise HTTPError(400, {"error": "app_name must be 3-63 lowercase letters, digits and dashes"})
        if not body.get("org_slug"):
            raise HTTPError(400, {"error": "org_slug is required"})
        if self.store.get("app", name):
            raise HTTPError(422, {"error": "Name has already been taken"})
        self.store.put("app", name, {"id": random_id(16, string.ascii_lowercase + string.digits), "name": name,
                                     "org_slug": body["org_slug"], "network": body.get("network"),
                                     "created_at": iso(), "secrets_version": 0})
        # The docs show a {"id", "created_at"} body; the document declares none, and the contract check has no
        # deviation for it, so the answer is empty (clients read the app back).
        return 201, None

    def get_app(self, request, app_name):
        return 200, self.render_app(self.app(app_name))

    def delete_app(self, request, app_name):
        self.app(app_name)
        # Docs: machines should be stopped first; force stops and deletes them.
        running = [m for m in self.live_machines(app_name) if is_running(m)]
        if running and not request.flag("force"):
            raise HTTPError(412, {"error": "failed_precondition: app has machines that are not stopped (%s); "
                                           "stop them first or use force" % ", ".join(m["id"] for m in running)})
        self.store.delete_children(app_name)
        self.store.delete("app", app_name)
        return 202, None

    # --- machines ----------------------------------------------------------------
    def list_machines(self, request, app_name):
        self.app(app_name)
        machines = self.store.list("machine", app_name)
        if not request.flag("include_deleted"):
            machines = [m for m in machines if state_at(m) != "destroyed"]
        if request.arg("region"):
            machines = [m for m in machines if m["region"] == request.arg("region")]
        if request.arg("state"):  # one state, or several separated by commas
            wanted_states = request.arg("state").split(",")
            machines = [m for m in machines if state_at(m) in wanted_states]
        for name, values in request.query.items():
            if name.startswith("metadata."):
                key = name[len("metadata."):]
                machines = [m for m in machines if (m["config"].get("metadata") or {}).get(key) == values[0]]
        return 200, [self.render_machine(m) for m in machines]

    def validate_config(self, app_name, config, region, machine_id=None):
        if not isinstance(config, dict) or not config.get("image"):
            raise HTTPError(400, {"error": "config.image is required"})
        for mount in config.get("mounts") or []:
            volume = self.store.get("volume", mount.get("volume") or "")
            if volume is None or volume["app"] != app_name:
                raise HTTPError(400, {"error": "volume %s not found" % mount.get("volume")})
            if region and volume["region"] != region:
                raise HTTPError(400, {"error": "volume %s is in region %s, not %s"
                                               % (volume["id"], volume["region"], region)})
            holder = self.attached_machine(volume["id"])
            if holder and holder["id"] != machine_id:
                raise HTTPError(422, {"error": "volume %s is already attached to machine %s"
                                               % (volume["id"], holder["id"])})
            if not mount.get("path"):
                raise HTTPError(400, {"error": "mounts need a path"})

    def create_machine(self, request, app_name):
        self.app(app_name)
        body = request.json()
        config = body.get("config")
        region = body.get("region")
        mounts = (config or {}).get("mounts") or []
        if not region and mounts and self.store.get("volume", mounts[0].get("volume") or ""):
            region = self.store.get("volume", mounts[0]["volume"])["region"]
        region = region or DEFAULT_REGION
        self.validate_config(app_name, config, region)
        name = body.get("name") or "%s-%s-%d" % (random.choice(("aged", "bold", "calm", "dry")),
                                                 random.choice(("wind", "sun", "fog", "dew")),
                                                 random.randint(1000, 9999))
        if any(m["name"] == name for m in self.live_machines(app_name)):
            raise HTTPError(409, {"error": "a machine named %s already exists" % name})
        machine = {"id": random_id(), "app": app_name, "name": name, "region": region,
                   "instance_id": instance_id(), "config": with_server_defaults(config),
                   "private_ip": "fdaa:0:1:a7b:%x:%x:%x:2" % tuple(random.randint(1, 65535) for dummy in range(3)),
                   "created_at": iso(), "events": [], "cordoned": False}
        machine["image_ref"] = image_ref(config["image"])
        machine["timeline"] = self.backend.launch(machine, bool(body.get("skip_launch")))
        machine["versions"] = [{"version": machine["instance_id"], "user_config": copy.deepcopy(config)}]
        self.event(machine, "launch", "created")
        answer = None
        if body.get("lease_ttl"):
            machine["lease"] = self.new_lease(machine, body["lease_ttl"], "")
            answer = machine["lease"]["nonce"]
        self.save_machine(machine)
        rendered = self.render_machine(machine)
        if answer:
            rendered["nonce"] = answer
        return 200, rendered

    def get_machine(self, request, app_name, machine_id):
        return 200, self.render_machine(self.machine(app_name, machine_id))

    def update_machine(self, request, app_name, machine_id):
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        self.require_nonce(machine, request)
        body = request.json()
        if body.get("current_version") and body["current_version"] != machine["instance_id"]:
            raise HTTPError(409, {"error": "machine version %s is not the current version %s"
                                           % (body["current_version"], machine["instance_id"])})
        for immutable in ("region", "name"):
            if body.get(immutable) and body[immutable] != machine[immutable]:
                raise HTTPError(400, {"error": "%s cannot be changed" % immutable})
        config = body.get("config")
        self.validate_config(app_name, config, machine["region"], machine_id)
        machine["config"] = with_server_defaults(config)
        machine["image_ref"] = image_ref(config["image"])
        machine["instance_id"] = instance_id()
        machine["versions"].insert(0, {"version": machine["instance_id"], "user_config": copy.deepcopy(config)})
        machine["timeline"] = self.backend.replace(machine, bool(body.get("skip_launch")))
        self.event(machine, "update", "replacing")
        self.save_machine(machine)
        return 200, self.render_machine(machine)

    def delete_machine(self, request, app_name, machine_id):
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        self.require_nonce(machine, request)
        if is_running(machine) and not request.flag("force"):
            raise HTTPError(412, {"error": "failed_precondition: unable to destroy machine, not currently "
                                           "stopped, suspended or failed (state %s)" % state_at(machine)})
        machine["timeline"] = self.backend.destroy(machine)
        machine.pop("lease", None)
        self.event(machine, "destroy", "destroying")
        self.save_machine(machine)
        return 200, {"ok": True}

    def machine_action(self, request, app_name, machine_id):
        action = request.path.rsplit("/", 1)[1]
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        self.require_nonce(machine, request)
        state = state_at(machine)
        if action in ("cordon", "uncordon"):
            machine["cordoned"] = action == "cordon"
            self.save_machine(machine)
            return 200, {"ok": True}
        if action == "start":
            if state in RUNNING:
                raise HTTPError(412, {"error": "failed_precondition: machine is already %s" % state})
            if state not in STARTABLE:
                raise HTTPError(412, {"error": "failed_precondition: unable to start machine from state %s" % state})
            machine["timeline"] = self.backend.start(machine)
            answer = {"previous_state": state, "migrated": False, "new_host": ""}
        elif action in ("stop", "restart", "suspend"):
            if state not in RUNNING:
                raise HTTPError(412, {"error": "failed_precondition: unable to %s machine in state %s"
                                               % (action, state)})
            machine["timeline"] = getattr(self.backend, action)(machine)
            answer = {"ok": True}
        self.event(machine, action, state_at(machine))
        self.save_machine(machine)
        return 200, answer

    def wait_machine(self, request, app_name, machine_id):
        # The document: "desired state(s), supports repeated or comma-separated values".
        wanted = [state for value in request.query.get("state") or ["started"] for state in value.split(",")]
        if not wanted or any(state not in WAITABLE for state in wanted):
            raise HTTPError(400, {"error": "state must be one or more of %s" % ", ".join(WAITABLE)})
        try:
            timeout = min(MAX_WAIT, int(request.arg("timeout", MAX_WAIT)))
        except ValueError:
            raise HTTPError(400, {"error": "timeout must be an integer number of seconds"}) from None
        wanted_instance = request.arg("instance_id") or request.arg("version")  # the document's name for it
        if "stopped" in wanted and not wanted_instance:
            raise HTTPError(400, {"error": "instance_id is required when waiting for stopped"})
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                machine = self.machine(app_name, machine_id)
                versions = [v["version"] for v in machine["versions"]]
                if wanted_instance and wanted_instance not in versions:
                    raise HTTPError(400, {"error": "instance_id %s is not a version of this machine"
                                                   % wanted_instance})
                same_version = not wanted_instance or wanted_instance == machine["instance_id"]
                state = state_at(machine)
                reached = state in wanted or ("settled" in wanted and is_settled(machine))
                if reached and (same_version or state == "destroyed"):
                    return 200, {"ok": True, "state": state, "version": machine["instance_id"],
                                 "event_id": machine["events"][0]["id"]}
            if time.monotonic() >= deadline:
                raise HTTPError(408, {"error": "deadline_exceeded: machine %s did not reach state %s in %ss"
                                               % (machine_id, ",".join(wanted), timeout)})
            time.sleep(0.02)

    def machine_events(self, request, app_name, machine_id):
        try:
            limit = min(MAX_EVENTS, int(request.arg("limit", DEFAULT_EVENTS)))
        except ValueError:
            raise HTTPError(400, {"error": "limit must be an integer"}) from None
        return 200, copy.deepcopy(self.machine(app_name, machine_id)["events"][:limit])

    def machine_versions(self, request, app_name, machine_id):
        machine = self.machine(app_name, machine_id)
        return 200, copy.deepcopy(machine["versions"])

    # --- leases ------------------------------------------------------------------
    def new_lease(self, machine, ttl, description):
        ttl = max(1, min(int(ttl or 30), self.settings["lease_ttl_max"]))
        # Whole seconds, rounded up: a lease never ends before its TTL has passed.
        return {"nonce": random_tokens.token_hex(6), "expires_at": int(math.ceil(now() + ttl)),
                "owner": "emulator@sophia.ops",
                "description": description or "", "version": machine["instance_id"]}

    def get_lease(self, request, app_name, machine_id):
        lease = self.lease_of(self.machine(app_name, machine_id))
        if not lease:
            raise HTTPError(404, {"error": "lease not found"})
        return 200, {"status": "success", "data": lease}

    def acquire_lease(self, request, app_name, machine_id):
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        body = request.json()
        held = self.lease_of(machine)
        if held and request.headers.get(NONCE_HEADER) != held["nonce"]:
            raise HTTPError(409, {"error": "lease currently held by %s until %s"
                                           % (held["owner"], held["expires_at"])})
        lease = self.new_lease(machine, body.get("ttl"), body.get("description"))
        if held:  # refreshing keeps the nonce the holder already knows
            lease["nonce"] = held["nonce"]
        machine["lease"] = lease
        self.save_machine(machine)
        return 201, {"status": "success", "data": lease}

    def release_lease(self, request, app_name, machine_id):
        machine = self.machine(app_name, machine_id)
        held = self.lease_of(machine)
        if held and request.headers.get(NONCE_HEADER) != held["nonce"]:
            raise HTTPError(409, {"error": "the lease nonce does not match"})
        machine.pop("lease", None)
        self.save_machine(machine)
        return 200, {"status": "success", "data": {"ok": True}}

    # --- metadata ------------------------------------------------------------------
    def get_metadata(self, request, app_name, machine_id):
        return 200, dict(self.machine(app_name, machine_id)["config"].get("metadata") or {})

    def get_metadata_key(self, request, app_name, machine_id, key):
        metadata = self.machine(app_name, machine_id)["config"].get("metadata") or {}
        if key not in metadata:
            raise HTTPError(404, {"error": "metadata key not found"})
        return 200, {"value": metadata[key]}

    def set_metadata_key(self, request, app_name, machine_id, key):
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        self.require_nonce(machine, request)
        value = request.json().get("value")
        if not isinstance(value, str):
            raise HTTPError(400, {"error": "value must be a string"})
        machine["config"].setdefault("metadata", {})
        machine["config"]["metadata"] = dict(machine["config"]["metadata"] or {}, **{key: value})
        self.save_machine(machine)
        return 204, None

    def delete_metadata_key(self, request, app_name, machine_id, key):
        machine = self.machine(app_name, machine_id, include_destroyed=False)
        self.require_nonce(machine, request)
        (machine["config"].get("metadata") or {}).pop(key, None)
        self.save_machine(machine)
        return 204, None

    # --- volumes -------------------------------------------------------------------
    def list_volumes(self, request, app_name):
        self.app(app_name)
        return 200, [self.render_volume(v) for v in self.store.list("volume", app_name)]

    def create_volume(self, request, app_name):
        self.app(app_name)
        body = request.json()
        if not VOLUME_NAME.match(body.get("name") or ""):
            raise HTTPError(400, {"error": "name must be 1-30 lowercase letters, digits and underscores"})
        source = self.snapshot(app_name, body["snapshot_id"]) if body.get("snapshot_id") is not None else None
        # A restore is at least as large as the volume the snapshot was taken of, and that is its default size.
        least = int(math.ceil(source["volume_size"] / 1024.0 ** 3)) if source else 1
        size = body.get("size_gb", least if source else 3)
        if not isinstance(size, int) or not 1 <= size <= 500:
            raise HTTPError(400, {"error": "size_gb must be between 1 and 500"})
        if size < least:
            raise HTTPError(400, {"error": "size_gb must be at least %d, the size of the volume snapshot %s was "
                                           "taken of" % (least, source["id"])})
        retention = body.get("snapshot_retention", 5)
        if not isinstance(retention, int) or not 1 <= retention <= 60:
            raise HTTPError(400, {"error": "snapshot_retention must be between 1 and 60"})
        volume = {"id": "vol_" + random_id(16, string.ascii_lowercase + string.digits), "app": app_name,
                  "name": body["name"], "region": body.get("region") or DEFAULT_REGION, "size_gb": size,
                  "state": "created",
                  "encrypted": body.get("encrypted", True), "snapshot_retention": retention,
                  "auto_backup_enabled": body.get("auto_backup_enabled", True), "fstype": "ext4",
                  "block_size": 4096, "type": "local", "zone": random_id(4), "host_status": "ok",
                  "created_at": iso(), "snapshots": [],
                  # A restored volume holds the snapshot's data; a new one only its empty file system.
                  "bytes_used": source["size"] if source else EMPTY_VOLUME_BYTES}
        self.store.put("volume", volume["id"], volume, parent=app_name)
        return 200, self.render_volume(volume)

    def get_volume(self, request, app_name, volume_id):
        return 200, self.render_volume(self.volume(app_name, volume_id))

    def update_volume(self, request, app_name, volume_id):
        volume = self.volume(app_name, volume_id)
        body = request.json()
        unknown = set(body) - {"snapshot_retention", "auto_backup_enabled"}
        if unknown:
            raise HTTPError(400, {"error": "only snapshot_retention and auto_backup_enabled can be updated, "
                                           "not %s" % ", ".join(sorted(unknown))})
        if "snapshot_retention" in body:
            if not isinstance(body["snapshot_retention"], int) or not 1 <= body["snapshot_retention"] <= 60:
                raise HTTPError(400, {"error": "snapshot_retention must be between 1 and 60"})
            volume["snapshot_retention"] = body["snapshot_retention"]
        if "auto_backup_enabled" in body:
            volume["auto_backup_enabled"] = bool(body["auto_backup_enabled"])
        self.store.put("volume", volume_id, volume, parent=app_name)
        return 200, self.render_volume(volume)

    def extend_volume(self, request, app_name, volume_id):
        volume = self.volume(app_name, volume_id)
        size = request.json().get("size_gb")
        if not isinstance(size, int) or size > 500:
            raise HTTPError(400, {"error": "size_gb must be an integer up to 500"})
        if size <= volume["size_gb"]:
            raise HTTPError(400, {"error": "size_gb must be greater than the current size (%d GB); volumes "
                                           "cannot shrink" % volume["size_gb"]})
        volume["size_gb"] = size
        self.store.put("volume", volume_id, volume, parent=app_name)
        return 200, {"needs_restart": self.attached_machine(volume_id) is not None,
                     "volume": self.render_volume(volume)}

    def delete_volume(self, request, app_name, volume_id):
        volume = self.volume(app_name, volume_id)
        holder = self.attached_machine(volume_id)
        if holder:
            raise HTTPError(412, {"error": "failed_precondition: volume %s is attached to machine %s; destroy "
                                           "the machine first" % (volume_id, holder["id"])})
        rendered = self.render_volume(volume)
        rendered["state"] = "destroyed"
        self.store.delete("volume", volume_id)
        return 200, rendered

    def list_snapshots(self, request, app_name, volume_id):
        return 200, self.volume(app_name, volume_id)["snapshots"]

    def create_snapshot(self, request, app_name, volume_id):
        volume = self.volume(app_name, volume_id)
        volume["snapshots"].append({"id": "vs_" + random_id(12), "created_at": iso(), "status": "created",
                                    "size": volume.get("bytes_used", EMPTY_VOLUME_BYTES), "volume_size": volume["size_gb"] * 1024 ** 3,
                                    "retention_days": volume["snapshot_retention"],
                                    "digest": hashlib.md5(volume_id.encode()).hexdigest() + "-1"})
        self.store.put("volume", volume_id, volume, parent=app_name)
        return 200, None

    # --- secrets -------------------------------------------------------------------
    def list_secrets(self, request, app_name):
        self.app(app_name)
        return 200, {"secrets": [self.render_secret(s) for s in self.store.list("secret", app_name)]}

    @staticmethod
    def render_secret(secret):
        return {key: secret[key] for key in ("name", "digest", "created_at", "updated_at")}

    def update_secrets(self, request, app_name):
        app = self.app(app_name)
        values = request.json().get("values")
        if not isinstance(values, dict) or not values:
            raise HTTPError(400, {"error": "values must be a non-empty object of name to value (null deletes)"})
        for name, value in values.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise HTTPError(400, {"error": "invalid secret name %r" % name})
            if value is not None and not isinstance(value, str):
                raise HTTPError(400, {"error": "secret %s must be a string or null" % name})
        for name, value in values.items():
            key = "%s/%s" % (app_name, name)
            if value is None:
                self.store.delete("secret", key)
                continue
            existing = self.store.get("secret", key) or {"created_at": iso()}
            # The value is kept so that a container backend can inject it; the API never returns it.
            self.store.put("secret", key, {"key": key, "name": name, "digest": secret_digest(value),
                                           "value": value, "created_at": existing["created_at"],
                                           "updated_at": iso()}, parent=app_name)
        app["secrets_version"] += 1
        self.store.put("app", app_name, app)
        return 200, {"secrets": [self.render_secret(s) for s in self.store.list("secret", app_name)],
                     "version": app["secrets_version"]}

    # --- ip assignments ----------------------------------------------------------
    def list_ips(self, request, app_name):
        self.app(app_name)
        return 200, {"ips": [self.render_ip(ip) for ip in self.store.list("ip", app_name)]}

    @staticmethod
    def render_ip(ip):
        return {key: ip[key] for key in ("ip", "region", "service_name", "shared", "created_at")}

    def assign_ip(self, request, app_name):
        self.app(app_name)
        body = request.json()
        kind = body.get("type")
        if kind not in IP_TYPES:
            raise HTTPError(400, {"error": "type must be one of %s" % ", ".join(IP_TYPES)})
        octets = [random.randint(1, 254) for dummy in range(2)]
        address = {
            "v4": "137.66.%d.%d" % tuple(octets),
            "shared_v4": "66.241.124.%d" % octets[0],
            "v6": "2a09:8280:1::%x:%x" % tuple(octets),
            "private_v6": "fdaa:0:1:0::%x:%x" % tuple(octets),
        }[kind]
        ip = {"id": address, "key": address, "ip": address, "region": body.get("region") or "global",
              "service_name": body.get("service_name") or "", "shared": kind == "shared_v4",
              "type": kind, "created_at": iso()}
        self.store.put("ip", address, ip, parent=app_name)
        return 200, self.render_ip(ip)

    def release_ip(self, request, app_name, ip):
        self.app(app_name)
        found = self.store.get("ip", ip)
        if not found or found["id"] not in [i["id"] for i in self.store.list("ip", app_name)]:
            raise HTTPError(404, {"error": "ip assignment not found"})
        self.store.delete("ip", ip)
        return 204, None

    # --- certificates ------------------------------------------------------------
    def certificate(self, app_name, hostname):
        self.app(app_name)
        cert = self.store.get("certificate", "%s/%s" % (app_name, hostname))
        if cert is None:
            raise HTTPError(404, {"error": "certificate not found"})
        return cert

    def cert_status(self, cert):
        # Validation completes a few clock steps after the request, as DNS would.
        return "active" if now() >= cert["requested_at"] + 3 * self.backend.step else "pending_validation"

    def render_certificate(self, cert, app_name):
        active = self.cert_status(cert) == "active"
        ips = [ip["ip"] for ip in self.store.list("ip", app_name)]
        entries = [{"source": "fly", "status": "active", "issuer": "Let's Encrypt", "created_at": cert["created_at"],
                    "expires_at": iso(cert["requested_at"] + 90 * 86400),
                    "issued": [{"type": "ecdsa", "certificate_authority": "lets_encrypt",
                                "expires_at": iso(cert["requested_at"] + 90 * 86400)}]}] if active else []
        return {"hostname": cert["hostname"], "configured": active, "acme_requested": True,
                "status": self.cert_status(cert), "dns_provider": "emulated", "certificates": entries,
                "validation": {"dns_configured": active, "alpn_configured": active, "http_configured": active,
                               "ownership_txt_configured": active},
                "dns_requirements": {
                    "a": [ip for ip in ips if "." in ip], "aaaa": [ip for ip in ips if ":" in ip],
                    "cname": "%s.fly.dev" % app_name,
                    "acme_challenge": {"name": "_acme-challenge." + cert["hostname"],
                                       "target": "%s.%s.flydns.net" % (cert["hostname"], app_name)},
                    "ownership": {"name": "_fly-ownership." + cert["hostname"], "app_value": "app-" + app_name,
                                  "org_value": "org-emulated"}},
                "validation_errors": []}

    def list_certificates(self, request, app_name):
        self.app(app_name)
        certs = self.store.list("certificate", app_name)
        wanted = request.arg("filter")
        if wanted:
            certs = [c for c in certs if wanted in c["hostname"]]
        summaries = []
        for cert in certs:
            active = self.cert_status(cert) == "active"
            summaries.append({"hostname": cert["hostname"], "status": self.cert_status(cert), "configured": active,
                              "acme_requested": True, "acme_dns_configured": active, "acme_alpn_configured": active,
                              "acme_http_configured": active, "ownership_txt_configured": active,
                              "has_custom_certificate": False, "has_fly_certificate": active,
                              "dns_provider": "emulated", "created_at": cert["created_at"],
                              "updated_at": cert["created_at"]})
        return 200, {"certificates": summaries, "total_count": len(summaries)}

    def request_certificate(self, request, app_name):
        self.app(app_name)
        hostname = request.json().get("hostname") or ""
        if not re.match(r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$", hostname):
            raise HTTPError(422, {"error": "hostname is not a valid domain name"})
        key = "%s/%s" % (app_name, hostname)
        if self.store.get("certificate", key):
            raise HTTPError(422, {"error": "hostname %s already has a certificate on this app" % hostname})
        cert = {"key": key, "hostname": hostname, "created_at": iso(), "requested_at": now()}
        self.store.put("certificate", key, cert, parent=app_name)
        return 201, self.render_certificate(cert, app_name)

    def get_certificate(self, request, app_name, hostname):
        return 200, self.render_certificate(self.certificate(app_name, hostname), app_name)

    def check_certificate(self, request, app_name, hostname):
        answer = self.render_certificate(self.certificate(app_name, hostname), app_name)
        answer["dns_records"] = {"a": answer["dns_requirements"]["a"], "aaaa": answer["dns_requirements"]["aaaa"],
                                 "cname": [answer["dns_requirements"]["cname"]] if answer["configured"] else []}
        return 200, answer

    def delete_certificate(self, request, app_name, hostname):
        cert = self.certificate(app_name, hostname)
        self.store.delete("certificate", cert["key"])
        return 204, None

    # --- Fly-specific control endpoints ----------------------------------------
    def control(self, method, parts, request):
        if parts == ["images"] and method == "POST":
            body = request.json()
            rules = self.store.get_meta("images", {})
            rules[body["image"]] = {"healthy": bool(body.get("healthy", True)), "start": bool(body.get("start", True))}
            self.store.put_meta("images", rules)
            return 200, rules
        if len(parts) == 4 and parts[0] == "apps" and parts[2] == "machines" and method == "POST":
            return 200, self.drift(parts[1], parts[3], request.json())
        if len(parts) == 3 and parts[0] == "apps" and parts[2] == "machines" and method == "GET":
            # For tests that watch machines while a module works: not rate limited, not in the request log.
            return 200, [self.render_machine(m) for m in self.live_machines(parts[1])]
        raise HTTPError(404, {"error": "unknown control endpoint"})

    def drift(self, app_name, machine_id, changes):
        """Change a machine behind the API's back, as another operator or a crash would."""
        machine = self.machine(app_name, machine_id)
        if "config" in changes:
            merged = deep_merge(machine["config"], changes["config"])
            machine["config"] = merged
            machine["instance_id"] = instance_id()
            machine["versions"].insert(0, {"version": machine["instance_id"], "user_config": copy.deepcopy(merged)})
            machine["image_ref"] = image_ref(merged.get("image"))
        if "metadata" in changes:
            machine["config"]["metadata"] = dict(machine["config"].get("metadata") or {}, **changes["metadata"])
        if "state" in changes:
            machine["timeline"] = [[changes["state"], now()]]
            self.event(machine, "exit" if changes["state"] != "started" else "start", changes["state"], "flyd")
        self.save_machine(machine)
        return self.render_machine(machine)


def deep_merge(base, changes):
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
