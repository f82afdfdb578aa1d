"""The Docker backend's containers: a machine is the container ``<stack>-m-<machine_id>`` of ``config.image``
with the config's env, the app's secrets and Fly's runtime variables, its ``files`` written before start,
``init`` honoured and its volumes mounted, on the organisation's network ``<stack>-org-<org>`` (Fly's
private network: aliases ``<app>.internal`` and ``<machine_id>.vm.<app>.internal``) and on ``<stack>-public``
for egress. A monitor notices containers that exit on their own and applies ``config.restart``."""

from __future__ import annotations

import base64
import io
import tarfile
import threading
import time

from emulators.common.docker_engine import DockerError
from emulators.fly.docker_checks import parse_duration
from emulators.fly.lifecycle import now, state_at

# Fly's default kill timeout, and the most a stop may hold the service lock.
DEFAULT_STOP_SECONDS = 5.0
MAX_STOP_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 10


def files_archive(files, secrets):
    """A tar of ``config.files`` (raw_value, or secret_name: the secret holds the base64 contents)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made = set()
        for entry in files:
            path = (entry.get("guest_path") or "").lstrip("/")
            if not path:
                continue
            encoded = entry.get("raw_value")
            if encoded is None and entry.get("secret_name"):
                encoded = secrets.get(entry["secret_name"])
            if encoded is None:
                continue
            try:
                data = base64.b64decode(encoded)
            except (ValueError, TypeError):
                data = encoded.encode()
            parents = path.split("/")[:-1]
            for depth in range(1, len(parents) + 1):
                directory = "/".join(parents[:depth])
                if directory not in made:
                    made.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), int(entry.get("mode") or 0o644), int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def stop_seconds(machine):
    stop = machine["config"].get("stop_config") or {}
    return min(MAX_STOP_SECONDS, parse_duration(stop.get("timeout"), DEFAULT_STOP_SECONDS))


class Containers:
    def __init__(self, service, engine, stack, volumes):
        self.service = service
        self.engine = engine
        self.stack = stack
        self.volumes = volumes  # docker_volumes.VolumeData: the Docker volume of each mount
        self.flycast_hosts = lambda org_slug: {}  # the proxy's, once it exists (docker_backend.py)
        # Machine output onto NATS (logs.MachineLogs), when the service sets one up; None ships nothing.
        self.logs = None
        self.lock = threading.Lock()
        self.addresses = {}  # (machine id, instance id) -> the container's address on the org network
        self.retries = {}  # (machine id, instance id) -> restarts done for on-failure
        self.gateways = {}  # org network name -> its gateway address

    # --- names, labels, networks -----------------------------------------------------------------
    def name(self, machine_id):
        return "%s-m-%s" % (self.stack, machine_id)

    def org_network_name(self, org_slug):
        return "%s-org-%s" % (self.stack, org_slug)

    def labels(self, **extra):
        return self.engine.labels(sophia__emulator="fly", **extra)

    def network(self, name, **labels):
        """The network's record, created when missing; a 409 is another creator's race: read it again."""
        try:
            return self.engine.ensure_network(name, **labels)
        except DockerError as error:
            if error.status != 409:
                raise
            return self.engine.call("GET", "/networks/%s" % name)[1]

    def org_network(self, org_slug):
        return self.network(self.org_network_name(org_slug), sophia__network="org", sophia__fly__org=org_slug)

    def org_of(self, app_name):
        app = self.service.store.get("app", app_name)
        return app["org_slug"] if app else "personal"

    # --- one machine's container ----------------------------------------------------------------
    def environment(self, machine, secrets):
        config = machine["config"]
        env = dict(config.get("env") or {})
        env.update(secrets)
        env.update({
            "FLY_APP_NAME": machine["app"], "FLY_MACHINE_ID": machine["id"], "FLY_ALLOC_ID": machine["id"],
            "FLY_REGION": machine["region"], "FLY_IMAGE_REF": config.get("image") or "",
            "FLY_PROCESS_GROUP": (config.get("metadata") or {}).get("fly_process_group", "app"),
            "FLY_PRIVATE_IP": machine["private_ip"], "FLY_MACHINE_VERSION": machine["instance_id"],
            "FLY_VM_MEMORY_MB": str((config.get("guest") or {}).get("memory_mb", 256)),
        })
        env.setdefault("PRIMARY_REGION", machine["region"])
        return ["%s=%s" % item for item in env.items()]

    def spec(self, machine, org_net, gateway, secrets):
        config = machine["config"]
        init = config.get("init") or {}
        stop = config.get("stop_config") or {}
        app = machine["app"]
        hosts = ["%s:%s" % item for item in sorted(self.flycast_hosts(self.org_of(app)).items())]
        if gateway:
            hosts.append("nats.flyio.internal:%s" % gateway)  # logs.py's server, on the org network's gateway
        spec = {
            "Image": config["image"], "Hostname": machine["id"], "Env": self.environment(machine, secrets),
            "Labels": self.labels(sophia__fly__app=app, sophia__fly__machine=machine["id"],
                                  sophia__fly__instance=machine["instance_id"]),
            "StopSignal": stop.get("signal") or "SIGTERM",
            "StopTimeout": int(min(MAX_STOP_SECONDS, parse_duration(stop.get("timeout"), DEFAULT_STOP_SECONDS))),
            "HostConfig": {
                # Fly runs its own init as PID 1; docker-init forwards signals the same way.
                "Init": True, "NetworkMode": org_net, "ExtraHosts": hosts,
                "Mounts": [{"Type": "volume", "Source": self.volumes.volume_name(mount["volume"]),
                            "Target": mount["path"]} for mount in config.get("mounts") or []],
            },
            # Fly's internal DNS: the app, the machine, the region and the process group (<group>.process.<app>.internal).
            "NetworkingConfig": {"EndpointsConfig": {org_net: {"Aliases": [
                "%s.internal" % app, "%s.vm.%s.internal" % (machine["id"], app),
                "%s.%s.internal" % (machine["region"], app),
                "%s.process.%s.internal" % ((config.get("metadata") or {}).get("fly_process_group") or "app", app)]}}},
        }
        if init.get("exec"):
            spec["Entrypoint"], spec["Cmd"] = init["exec"], []
        else:
            if init.get("entrypoint"):
                spec["Entrypoint"] = init["entrypoint"]
            if init.get("cmd"):
                spec["Cmd"] = init["cmd"]
        return spec

    def run(self, machine):
        """A fresh container for the machine's current config, started: None, or why it could not run."""
        config = machine["config"]
        name = self.name(machine["id"])
        self.engine.remove(name)
        if not self.engine.image_exists(config["image"]):
            return "image %s not found (build or tag it locally: scripts/images)" % config["image"]
        try:
            org_net = self.org_network_name(self.org_of(machine["app"]))
            network = self.org_network(self.org_of(machine["app"]))
            gateway = ((network.get("IPAM") or {}).get("Config") or [{}])[0].get("Gateway")
            self.gateways[org_net] = gateway
            self.network("%s-public" % self.stack, sophia__network="public")
            for mount in config.get("mounts") or []:
                self.volumes.ensure(mount["volume"], machine["app"])
            secrets = {s["name"]: s["value"] for s in self.service.store.list("secret", machine["app"])}
            self.engine.create_container(name, self.spec(machine, org_net, gateway, secrets))
            self.engine.connect("%s-public" % self.stack, name)
            if config.get("files"):
                self.engine.put_archive(name, "/", files_archive(config["files"], secrets))
            self.engine.start(name)
        except DockerError as error:
            self.engine.remove(name)
            return "could not run the machine's container: %s" % error.message
        self.remember_address(machine)
        self.follow_logs(machine)
        return None

    def follow_logs(self, machine):
        """Ship the (re)started container's output, when logs are set up."""
        if self.logs is None:
            return
        org = self.org_of(machine["app"])
        if self.org_network_name(org) not in self.gateways:
            network = self.org_network(org)
            self.gateways[network["Name"]] = ((network.get("IPAM") or {}).get("Config") or [{}])[0].get("Gateway")
        gateway = self.gateways.get(self.org_network_name(org))
        if gateway:
            self.logs.follow(self.name(machine["id"]), gateway, machine["app"], machine["region"],
                             machine["id"], machine["instance_id"])

    def remember_address(self, machine):
        info = self.engine.inspect(self.name(machine["id"]))
        networks = ((info or {}).get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(self.org_network_name(self.org_of(machine["app"]))) or {}).get("IPAddress")
        with self.lock:
            self.addresses[(machine["id"], machine["instance_id"])] = address or None
        return address

    def address(self, machine):
        """The container's address on the org network (what checks and the proxy connect to)."""
        with self.lock:
            address = self.addresses.get((machine["id"], machine["instance_id"]))
        return address or self.remember_address(machine)

    def started_again(self, machine):
        """After a start or restart of the machine's container: its address and its output, anew."""
        self.remember_address(machine)
        self.follow_logs(machine)

    def current(self, machine):
        """The machine's container when it runs the machine's current version, else None."""
        info = self.engine.inspect(self.name(machine["id"]))
        if info and (info["Config"].get("Labels") or {}).get("sophia.fly.instance") == machine["instance_id"]:
            return info
        return None

    def remove(self, machine_id):
        self.engine.remove(self.name(machine_id))
        self.forget(machine_id)

    def forget(self, machine_id):
        with self.lock:
            for table in (self.addresses, self.retries):
                for key in [key for key in table if key[0] == machine_id]:
                    del table[key]

    def reset(self):
        """Every machine container of the Fly emulator in this stack, gone."""
        for container in self.engine.containers(sophia__emulator="fly"):
            self.engine.remove(container["Id"])
        with self.lock:
            self.addresses.clear()
            self.retries.clear()

    # --- containers that exit on their own ----------------------------------------------------------
    def monitor(self, forget):
        """One look at the containers: a started machine whose container is gone or ended is ``exited``."""
        with self.service.lock:
            containers = {}
            for container in self.engine.containers(sophia__emulator="fly"):
                machine_id = (container.get("Labels") or {}).get("sophia.fly.machine")
                if machine_id:
                    containers[machine_id] = container
            for machine in self.service.store.list("machine"):
                if state_at(machine) != "started":
                    continue
                container = containers.get(machine["id"])
                labels = (container or {}).get("Labels") or {}
                if container and labels.get("sophia.fly.instance") == machine["instance_id"] \
                        and container.get("State") in ("running", "paused", "restarting"):
                    continue
                self.exited(machine, container, forget)

    def exited(self, machine, container, forget):
        """The machine's container stopped by itself (or vanished): restart it as its policy says, or
        record the machine stopped, with an exit event carrying the exit code. ``forget(machine_id)`` drops
        what the backend knew of an auto-destroyed machine."""
        info = self.engine.inspect(container["Id"]) if container else None
        state = (info or {}).get("State") or {}
        code = state.get("ExitCode", -1) if info else -1
        policy = machine["config"].get("restart") or {}
        key = (machine["id"], machine["instance_id"])
        with self.lock:
            done = self.retries.get(key, 0)
        wanted = policy.get("policy", "always")
        restart = info is not None and (wanted == "always" or (
            wanted == "on-failure" and code != 0 and done < int(policy.get("max_retries") or DEFAULT_MAX_RETRIES)))
        exit_event = {"exit_event": {"exit_code": code, "oom_killed": bool(state.get("OOMKilled")),
                                     "requested_stop": False, "restarting": restart,
                                     "exited_at": state.get("FinishedAt") or ""}}
        at = now()
        if restart:
            with self.lock:
                self.retries[key] = done + 1
            self.service.event(machine, "exit", "restarting", "flyd")
            machine["events"][0]["request"] = exit_event
            try:
                self.engine.start(info["Id"])
                self.started_again(machine)
                machine["timeline"] = [["restarting", at], ["started", now()]]
                self.service.event(machine, "restart", "started", "flyd")
            except DockerError as error:
                machine["timeline"] = [["failed", at]]
                self.service.event(machine, "exit", "failed", "flyd")
                machine["events"][0]["request"] = {"error": error.message}
        elif machine["config"].get("auto_destroy"):
            if info:
                self.engine.remove(info["Id"])
            forget(machine["id"])
            machine["timeline"] = [["destroyed", at]]
            machine.pop("lease", None)
            self.service.event(machine, "exit", "destroyed", "flyd")
            machine["events"][0]["request"] = exit_event
        else:
            machine["timeline"] = [["stopped", at]]
            self.service.event(machine, "exit", "stopped", "flyd")
            machine["events"][0]["request"] = exit_event
        self.service.save_machine(machine)
