"""Machines: create, read, update, destroy, the state actions, wait, events and versions,
and the organisation-wide listing (``/orgs/{org_slug}/machines``).

A machine's state is its ``timeline`` on the clock (lifecycle.py); the actions ask
``state.backend`` for the next timeline. Leases (leases.py) guard every change. How a machine
is looked up, saved and answered is the state's (state.py): the control surface shares it.
"""

from __future__ import annotations

import copy
import hashlib
import random
import time

from emulators.common.server import HTTPError
from emulators.fly.leases import new_lease, require_nonce
from emulators.fly.lifecycle import RUNNING, STARTABLE, WAITABLE, is_running, is_settled, state_at
from emulators.fly.platform import GUEST, check_guest, check_region
from emulators.fly.shared import (APP, BOOLEAN, DEFAULT_REGION, INTEGER, MACHINE, NUMBER, ORG, QUERY_BOOLEAN,
                                  QUERY_INTEGER, QUERY_STRING, STRING, STRING_MAP, STRINGS, array_of, flag,
                                  instance_id, integer_arg, iso, obj, one_of_words, org_listing, page, parse_iso,
                                  query, random_id, route)
from emulators.fly.state import DEFAULT_EVENTS, MAX_EVENTS

MAX_WAIT = 60
# The organisation-wide listing's page size (the document: "max of 1000 ... If omitted, the maximum").
MAX_ORG_MACHINES = 1000

# --- request schemas: fly.MachineConfig and the requests that carry it --------------------------------
SIGNALS = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM")
HTTP_HEADER = obj(name=STRING, values=STRINGS)
RESTART = obj(gpu_bid_price=NUMBER, max_retries=INTEGER, policy=one_of_words("no", "always", "on-failure",
                                                                             "spot-price"))
STOP_CONFIG = obj(signal=one_of_words(*SIGNALS), timeout=STRING)
SECRET_REF = obj(env_var=STRING, name=STRING)
ENV_FROM = obj(env_var=STRING, field_ref=one_of_words("id", "version", "app_name", "private_ip", "region", "image"))
FILE = obj(guest_path=STRING, image_config=STRING, mode=INTEGER, raw_value=STRING, secret_name=STRING)
CHECK = obj(grace_period=STRING, headers=array_of(HTTP_HEADER), interval=STRING,
            kind=one_of_words("informational", "readiness"), method=STRING, path=STRING, port=INTEGER,
            protocol=STRING, timeout=STRING, tls_server_name=STRING, tls_skip_verify=BOOLEAN, type=STRING)
SERVICE_CHECK = obj(grace_period=STRING, headers=array_of(HTTP_HEADER), interval=STRING, method=STRING,
                    path=STRING, port=INTEGER, protocol=STRING, timeout=STRING, tls_server_name=STRING,
                    tls_skip_verify=BOOLEAN, type=STRING)
CONTAINER_HEALTHCHECK = obj(
    exec=obj(command=STRINGS), failure_threshold=INTEGER, grace_period=INTEGER,
    http=obj(headers=array_of(HTTP_HEADER), method=STRING, path=STRING, port=INTEGER,
             scheme=one_of_words("http", "https"), tls_server_name=STRING, tls_skip_verify=BOOLEAN),
    interval=INTEGER, kind=one_of_words("readiness", "liveness"), name=STRING, success_threshold=INTEGER,
    tcp=obj(port=INTEGER), timeout=INTEGER, unhealthy=one_of_words("stop"))
CONTAINER = obj(
    cmd=STRINGS, depends_on=array_of(obj(condition=one_of_words("exited_successfully", "healthy", "started"),
                                         name=STRING)),
    entrypoint=STRINGS, env=STRING_MAP, env_from=array_of(ENV_FROM), exec=STRINGS, files=array_of(FILE),
    healthchecks=array_of(CONTAINER_HEALTHCHECK), image=STRING, name=STRING, restart=RESTART,
    secrets=array_of(SECRET_REF), stop=STOP_CONFIG, user=STRING)
PORT = obj(
    end_port=INTEGER, force_https=BOOLEAN, handlers=STRINGS,
    http_options=obj(compress=BOOLEAN, h2_backend=BOOLEAN, headers_read_timeout=INTEGER, idle_timeout=INTEGER,
                     replay_cache=array_of(obj(allow_bypass=BOOLEAN, name=STRING, path_prefix=STRING,
                                               ttl_seconds=INTEGER, type=one_of_words("cookie", "header"))),
                     response=obj(headers={"type": "object", "additionalProperties": {"type": "object"}},
                                  pristine=BOOLEAN)),
    port=INTEGER, proxy_proto_options=obj(version=STRING), start_port=INTEGER,
    tls_options=obj(alpn=STRINGS, default_self_signed=BOOLEAN, versions=STRINGS))
SERVICE = obj(
    autostart=BOOLEAN,
    # The docs: "string or bool ... off (or false), stop (or true), suspend"; stored as the word.
    autostop={"anyOf": [one_of_words("off", "stop", "suspend"), BOOLEAN]},
    checks=array_of(SERVICE_CHECK), concurrency=obj(hard_limit=INTEGER, soft_limit=INTEGER, type=STRING),
    force_instance_description=STRING, force_instance_key=STRING, internal_port=INTEGER,
    min_machines_running=INTEGER, ports=array_of(PORT), protocol=STRING)
MOUNT = obj(add_size_gb=INTEGER, encrypted=BOOLEAN, extend_threshold_percent=INTEGER, name=STRING, path=STRING,
            size_gb=INTEGER, size_gb_limit=INTEGER, volume=STRING)
MACHINE_CONFIG = obj(
    auto_destroy=BOOLEAN, cache_drive=obj(size_mb=INTEGER),
    checks={"type": "object", "additionalProperties": CHECK}, containers=array_of(CONTAINER),
    disable_machine_autostart=BOOLEAN,
    dns=obj(dns_forward_rules=array_of(obj(addr=STRING, basename=STRING)), hostname=STRING, hostname_fqdn=STRING,
            nameservers=STRINGS, options=array_of(obj(name=STRING, value=STRING)), searches=STRINGS,
            skip_registration=BOOLEAN),
    env=STRING_MAP, files=array_of(FILE), guest=GUEST, image=STRING,
    init=obj(cmd=STRINGS, entrypoint=STRINGS, exec=STRINGS, kernel_args=STRINGS, swap_size_mb=INTEGER,
             tty=BOOLEAN),
    metadata=STRING_MAP, metrics=obj(https=BOOLEAN, path=STRING, port=INTEGER), mounts=array_of(MOUNT),
    processes=array_of(obj(cmd=STRINGS, entrypoint=STRINGS, env=STRING_MAP, env_from=array_of(ENV_FROM),
                           exec=STRINGS, ignore_app_secrets=BOOLEAN, secrets=array_of(SECRET_REF), user=STRING)),
    restart=RESTART, rootfs=obj(persist=one_of_words("never", "always", "restart"), size_gb=INTEGER),
    schedule=STRING, services=array_of(SERVICE), size=STRING, standbys=STRINGS,
    statics=array_of(obj(required=["guest_path", "url_prefix"], guest_path=STRING, index_document=STRING,
                         tigris_bucket=STRING, url_prefix=STRING)),
    stop_config=STOP_CONFIG)

_MACHINE_REQUEST = dict(config=MACHINE_CONFIG, lease_ttl=INTEGER, lsvd=BOOLEAN, min_secrets_version=INTEGER,
                        name=STRING, region=STRING, skip_launch=BOOLEAN, skip_secrets=BOOLEAN,
                        skip_service_registration=BOOLEAN)
CREATE_MACHINE = obj(**_MACHINE_REQUEST)
UPDATE_MACHINE = obj(current_version=STRING, **_MACHINE_REQUEST)
STOP_REQUEST = obj(signal=one_of_words(*SIGNALS), timeout=STRING)

LIST_QUERY = query(include_deleted=QUERY_BOOLEAN, region=QUERY_STRING, state=QUERY_STRING, summary=QUERY_BOOLEAN)
ORG_LIST_QUERY = query(include_deleted=QUERY_BOOLEAN, region=QUERY_STRING, state=QUERY_STRING,
                       summary=QUERY_BOOLEAN, updated_after=QUERY_STRING, cursor=QUERY_STRING, limit=QUERY_INTEGER)
WAIT_QUERY = query(version=QUERY_STRING, instance_id=QUERY_STRING, from_event_id=QUERY_STRING,
                   timeout=QUERY_INTEGER,
                   # one state or several, comma-separated (repeated ones are checked by the handler)
                   state={"type": "string", "pattern": "^(%s)(,(%s))*$" % ("|".join(WAITABLE), "|".join(WAITABLE))})
RESTART_QUERY = query(timeout=QUERY_STRING, signal=one_of_words(*SIGNALS))


# --- what the platform makes of a request ----------------------------------------------------------
def image_ref(image):
    image = image or ""
    repository, tag = image.rsplit(":", 1) if ":" in image.split("/")[-1] else (image, "latest")
    registry = repository.split("/")[0] if "." in repository.split("/")[0] else "docker-hub-mirror.fly.io"
    return {"registry": registry, "repository": repository, "tag": tag or "latest",
            "digest": "sha256:" + hashlib.sha256((image or "").encode()).hexdigest(), "labels": {}}


def as_sent(config):
    """The config as the API keeps it: a service's ``autostop`` given as the older boolean becomes
    its word (the docs: false is off, true is stop), as the document types it."""
    config = copy.deepcopy(config)
    for service in config.get("services") or []:
        if isinstance(service.get("autostop"), bool):
            service["autostop"] = "stop" if service["autostop"] else "off"
    return config


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


def filtered(machines, request):
    """The list filters both listings share: include_deleted, region, state (comma-separated)."""
    if not flag(request, "include_deleted"):
        machines = [m for m in machines if state_at(m) != "destroyed"]
    if request.arg("region"):
        machines = [m for m in machines if m["region"] == request.arg("region")]
    if request.arg("state"):
        wanted_states = request.arg("state").split(",")
        machines = [m for m in machines if state_at(m) in wanted_states]
    return machines


def validate_config(state, app_name, config, region, machine_id=None):
    if not isinstance(config, dict) or not config.get("image"):
        raise HTTPError(400, "config.image is required")
    check_guest(config.get("guest"))
    for mount in config.get("mounts") or []:
        volume = state.store.get("volume", mount.get("volume") or "")
        if volume is None or volume["app"] != app_name:
            raise HTTPError(400, "volume %s not found" % mount.get("volume"))
        if region and volume["region"] != region:
            raise HTTPError(400, "volume %s is in region %s, not %s" % (volume["id"], volume["region"], region))
        holder = state.attached_machine(volume["id"])
        if holder and holder["id"] != machine_id:
            raise HTTPError(422, "volume %s is already attached to machine %s" % (volume["id"], holder["id"]))
        if not mount.get("path"):
            raise HTTPError(400, "mounts need a path")


# --- handlers -----------------------------------------------------------------------------------------
def list_machines(state, request, app_name):
    state.app(app_name)
    machines = filtered(state.store.list("machine", app_name), request)
    for name, values in request.query.items():
        if name.startswith("metadata."):
            key = name[len("metadata."):]
            machines = [m for m in machines if (m["config"].get("metadata") or {}).get(key) == values[0]]
    return 200, [state.render_machine(m, flag(request, "summary")) for m in machines]


def create_machine(state, request, app_name):
    state.app(app_name)
    body = request.json()
    config = body.get("config")
    region = body.get("region")
    if region:
        check_region(region)
    mounts = (config or {}).get("mounts") or []
    if not region and mounts and state.store.get("volume", mounts[0].get("volume") or ""):
        region = state.store.get("volume", mounts[0]["volume"])["region"]
    region = region or DEFAULT_REGION
    validate_config(state, app_name, config, region)
    config = as_sent(config)
    name = body.get("name") or "%s-%s-%d" % (random.choice(("aged", "bold", "calm", "dry")),
                                             random.choice(("wind", "sun", "fog", "dew")),
                                             random.randint(1000, 9999))
    if any(m["name"] == name for m in state.live_machines(app_name)):
        raise HTTPError(409, "a machine named %s already exists" % name)
    machine = {"id": random_id(), "app": app_name, "name": name, "region": region,
               "instance_id": instance_id(), "config": with_server_defaults(config),
               "private_ip": "fdaa:0:1:a7b:%x:%x:%x:2" % tuple(random.randint(1, 65535) for dummy in range(3)),
               "created_at": iso(), "events": [],
               # Docs: "like a combined Create and Cordon operation".
               "cordoned": bool(body.get("skip_service_registration"))}
    machine["image_ref"] = image_ref(config["image"])
    machine["timeline"] = state.backend.launch(machine, bool(body.get("skip_launch")))
    machine["versions"] = [{"version": machine["instance_id"], "user_config": copy.deepcopy(config)}]
    state.event(machine, "launch", "created")
    answer = None
    if body.get("lease_ttl"):
        machine["lease"] = new_lease(state, machine, body["lease_ttl"], "")
        answer = machine["lease"]["nonce"]
    state.save_machine(machine)
    rendered = state.render_machine(machine)
    if answer:
        rendered["nonce"] = answer
    return 200, rendered


def get_machine(state, request, app_name, machine_id):
    return 200, state.render_machine(state.machine(app_name, machine_id))


def update_machine(state, request, app_name, machine_id):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    body = request.json()
    if body.get("current_version") and body["current_version"] != machine["instance_id"]:
        raise HTTPError(409, "machine version %s is not the current version %s"
                             % (body["current_version"], machine["instance_id"]))
    for immutable in ("region", "name"):
        if body.get(immutable) and body[immutable] != machine[immutable]:
            raise HTTPError(400, "%s cannot be changed" % immutable)
    config = body.get("config")
    validate_config(state, app_name, config, machine["region"], machine_id)
    config = as_sent(config)
    machine["config"] = with_server_defaults(config)
    machine["image_ref"] = image_ref(config["image"])
    machine["instance_id"] = instance_id()
    machine["versions"].insert(0, {"version": machine["instance_id"], "user_config": copy.deepcopy(config)})
    machine["timeline"] = state.backend.replace(machine, bool(body.get("skip_launch")))
    state.event(machine, "update", "replacing")
    state.save_machine(machine)
    return 200, state.render_machine(machine)


def delete_machine(state, request, app_name, machine_id):
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    if is_running(machine) and not flag(request, "force"):
        raise HTTPError(412, "failed_precondition: unable to destroy machine, not currently "
                             "stopped, suspended or failed (state %s)" % state_at(machine))
    machine["timeline"] = state.backend.destroy(machine)
    machine.pop("lease", None)
    state.event(machine, "destroy", "destroying")
    state.save_machine(machine)
    return 200, {"ok": True}


def machine_action(state, request, app_name, machine_id):
    action = request.path.rsplit("/", 1)[1]
    machine = state.machine(app_name, machine_id, include_destroyed=False)
    require_nonce(machine, request)
    current = state_at(machine)
    if action in ("cordon", "uncordon"):
        machine["cordoned"] = action == "cordon"
        state.save_machine(machine)
        return 200, {"ok": True}
    if action == "start":
        if current in RUNNING:
            raise HTTPError(412, "failed_precondition: machine is already %s" % current)
        if current not in STARTABLE:
            raise HTTPError(412, "failed_precondition: unable to start machine from state %s" % current)
        machine["timeline"] = state.backend.start(machine)
        answer = {"previous_state": current, "migrated": False, "new_host": ""}
    else:  # stop, restart, suspend
        if current not in RUNNING:
            raise HTTPError(412, "failed_precondition: unable to %s machine in state %s" % (action, current))
        machine["timeline"] = getattr(state.backend, action)(machine)
        answer = {"ok": True}
    state.event(machine, action, state_at(machine))
    state.save_machine(machine)
    return 200, answer


def wait_machine(state, request, app_name, machine_id):
    # The document: "desired state(s), supports repeated or comma-separated values".
    wanted = [word for value in request.query.get("state") or ["started"] for word in value.split(",")]
    if not wanted or any(word not in WAITABLE for word in wanted):
        raise HTTPError(400, "state must be one or more of %s" % ", ".join(WAITABLE))
    timeout = max(0, min(MAX_WAIT, integer_arg(request, "timeout", MAX_WAIT)))
    # version is the document's current name (the one the official Go client sends); instance_id the older one.
    wanted_instance = request.arg("version") or request.arg("instance_id")
    if "stopped" in wanted and not wanted_instance:
        raise HTTPError(400, "version (or instance_id) is required when waiting for stopped")
    deadline = time.monotonic() + timeout
    while True:
        # The route is unlocked (a wait must not hold the service up): the lock is taken per look.
        with state.lock:
            machine = state.machine(app_name, machine_id)
            versions = [v["version"] for v in machine["versions"]]
            if wanted_instance and wanted_instance not in versions:
                raise HTTPError(400, "version %s is not a version of this machine" % wanted_instance)
            same_version = not wanted_instance or wanted_instance == machine["instance_id"]
            current = state_at(machine)
            reached = current in wanted or ("settled" in wanted and is_settled(machine))
            if reached and (same_version or current == "destroyed"):
                return 200, {"ok": True, "state": current, "version": machine["instance_id"],
                             "event_id": machine["events"][0]["id"]}
        if time.monotonic() >= deadline:
            raise HTTPError(408, "deadline_exceeded: machine %s did not reach state %s in %ss"
                                 % (machine_id, ",".join(wanted), timeout))
        time.sleep(0.02)


def machine_events(state, request, app_name, machine_id):
    limit = max(0, min(MAX_EVENTS, integer_arg(request, "limit", DEFAULT_EVENTS)))
    return 200, copy.deepcopy(state.machine(app_name, machine_id)["events"][:limit])


def machine_versions(state, request, app_name, machine_id):
    return 200, copy.deepcopy(state.machine(app_name, machine_id)["versions"])


def list_org_machines(state, request, org_slug):
    """Every machine of the organisation's apps, least recently updated first."""
    machines = [m for app in state.org_apps(org_slug) for m in state.store.list("machine", app["name"])]
    machines = filtered(machines, request)
    after = request.arg("updated_after")
    if after and not request.arg("cursor"):  # the document: the cursor takes precedence
        since = parse_iso(after)
        if since is None:
            raise HTTPError(400, "updated_after must be an RFC 3339 timestamp, such as 2026-01-02T15:04:05Z")
        machines = [m for m in machines if parse_iso(m["updated_at"]) > since]
    machines.sort(key=lambda m: parse_iso(m["updated_at"]))
    chosen, cursor = page(machines, request, MAX_ORG_MACHINES, MAX_ORG_MACHINES)
    summary = flag(request, "summary")
    rows = []
    for machine in chosen:
        row = {"id": machine["id"], "name": machine["name"], "app_name": machine["app"],
               "region": machine["region"], "state": state_at(machine), "private_ip": machine["private_ip"],
               "instance_id": machine["instance_id"], "version": machine["instance_id"],
               "created_at": machine["created_at"], "updated_at": machine["updated_at"]}
        if not summary:
            row["config"] = {key: copy.deepcopy(machine["config"][key]) for key in ("image", "guest", "metadata")
                             if key in machine["config"]}
        rows.append(row)
    return org_listing("machine", rows, cursor)


ROUTES = [
    route("GET", APP + r"/machines", list_machines, query=LIST_QUERY),
    route("POST", APP + r"/machines", create_machine, body=CREATE_MACHINE),
    route("GET", MACHINE, get_machine),
    route("POST", MACHINE, update_machine, body=UPDATE_MACHINE),
    route("DELETE", MACHINE, delete_machine, query=query(force=QUERY_BOOLEAN)),
    route("POST", MACHINE + "/start", machine_action, "start"),
    route("POST", MACHINE + "/stop", machine_action, "stop", body=STOP_REQUEST),
    route("POST", MACHINE + "/restart", machine_action, "restart", query=RESTART_QUERY),
    route("POST", MACHINE + "/suspend", machine_action, "suspend"),
    route("POST", MACHINE + "/cordon", machine_action, "cordon"),
    route("POST", MACHINE + "/uncordon", machine_action, "uncordon"),
    route("GET", MACHINE + "/wait", wait_machine, "wait", locked=False, query=WAIT_QUERY),
    route("GET", MACHINE + "/versions", machine_versions, "versions"),
    route("GET", MACHINE + "/events", machine_events, "events", query=query(limit=QUERY_INTEGER)),
    route("GET", ORG + r"/machines", list_org_machines, query=ORG_LIST_QUERY),
]
