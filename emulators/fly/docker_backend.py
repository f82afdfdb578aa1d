"""The Fly emulator's Docker backend (``python -m emulators.fly --backend docker --stack S``): machines
that really run.

- A launched machine is the container ``<stack>-m-<machine_id>`` of ``config.image`` (a local image; when
  there is none the machine ends ``failed``), with the config's env, the app's secrets and Fly's runtime
  variables, its ``files`` written before start, ``init`` honoured and its volumes mounted. It sits on the
  organisation's network ``<stack>-org-<org>`` (Fly's private network: aliases ``<app>.internal`` and
  ``<machine_id>.vm.<app>.internal``) and on ``<stack>-public`` for egress.
- stop is ``docker stop`` (the config's ``stop_config``), suspend pause, start from suspended unpause, an
  update replaces the container (the volume stays), destroy removes it.
- A monitor notices containers that exit on their own (machine ``stopped``, an ``exit`` event with the exit
  code) and applies ``config.restart``; a checker runs ``config.checks`` (http, tcp) at their interval
  against the container's address on the org network.
- A volume is the Docker volume ``<stack>-v-<volume_id>``; a snapshot is a tar of its files under
  ``<data-dir>/snapshots/``, read and written through a helper container that is never started.
- Fly's proxy, in small, is proxy.py.

The API's hooks (lifecycle.MachineBackend) run under the service lock and do the Docker work at once
(a tenth of a second or so); the monitor, the checker and the proxy are threads that take the same lock
before they touch a record.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import re
import socket
import ssl
import tarfile
import threading
import time
import uuid

from emulators.common.docker_engine import DockerEngine, DockerError
from emulators.fly.lifecycle import MachineBackend, now, state_at
from emulators.fly.proxy import Proxy

# Creates no process: only mounts a volume so that its files can be read or written as a tar.
HELPER_IMAGE = "sophia-local/base:latest"
# How often the monitor looks at the containers, and the checker's tick (each check keeps its own interval).
MONITOR_SECONDS = 0.5
CHECK_TICK_SECONDS = 0.2
DEFAULT_CHECK_INTERVAL = 15.0
DEFAULT_CHECK_TIMEOUT = 2.0
# Fly's default kill timeout, and the most a stop may hold the service lock.
DEFAULT_STOP_SECONDS = 5.0
MAX_STOP_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 10
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text, default):
    """Seconds of a Go duration ("10s", "1m30s", "500ms") or a bare number of seconds."""
    if text in (None, ""):
        return default
    if isinstance(text, (int, float)):
        return float(text)
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return default
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * scale[unit] for number, unit in parts)


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


class DockerBackend(MachineBackend):
    def __init__(self, service, stack, data_dir, engine=None):
        super().__init__(service.settings["transition_seconds"], service.image_rule)
        self.service = service
        self.stack = stack
        self.engine = engine or DockerEngine(stack)
        self.snapshot_dir = os.path.join(data_dir, "snapshots")
        self.data_dir = data_dir
        self.results = {}  # (machine id, instance id) -> {check name: result}
        self.due = {}  # (machine id, instance id, check name) -> when the check runs next
        self.probing = set()
        self.addresses = {}  # (machine id, instance id) -> the container's address on the org network
        self.retries = {}  # (machine id, instance id) -> restarts done for on-failure
        self.state_lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.proxy = Proxy(service, self)
        # Machine output onto NATS (logs.MachineLogs), when the service sets one up; None ships nothing.
        self.logs = None
        self.gateways = {}  # org network name -> its gateway address

    # --- names, labels, networks -----------------------------------------------------------------
    def container_name(self, machine_id):
        return "%s-m-%s" % (self.stack, machine_id)

    def volume_name(self, volume_id):
        return "%s-v-%s" % (self.stack, volume_id)

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

    # --- threads ------------------------------------------------------------------------------------
    def begin(self):
        for target, name in ((self.monitor_loop, "fly-monitor"), (self.check_loop, "fly-checks"),
                             (self.proxy.loop, "fly-proxy")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self):
        self.stopping.set()
        self.proxy.close()

    def every(self, seconds, step):
        while not self.stopping.wait(seconds):
            try:
                step()
            except Exception as error:  # a Docker hiccup must not end the thread
                print("fly docker backend: %s: %r" % (threading.current_thread().name, error), flush=True)

    # --- running a machine --------------------------------------------------------------------------
    def defer_event(self, machine, kind, status, request=None):
        """An event the handler's save adds after its own (machines.py save_machine)."""
        machine.setdefault("deferred_events", []).append(
            {"type": kind, "status": status, "source": "flyd", "request": request or {}})

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

    def container_spec(self, machine, org_net, gateway, secrets):
        config = machine["config"]
        init = config.get("init") or {}
        stop = config.get("stop_config") or {}
        app = machine["app"]
        hosts = ["%s:%s" % item for item in sorted(self.proxy.flycast_hosts(self.org_of(app)).items())]
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
                "Mounts": [{"Type": "volume", "Source": self.volume_name(mount["volume"]), "Target": mount["path"]}
                           for mount in config.get("mounts") or []],
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
        name = self.container_name(machine["id"])
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
                self.engine.create_volume(self.volume_name(mount["volume"]), sophia__emulator="fly",
                                          sophia__fly__app=machine["app"], sophia__fly__volume=mount["volume"])
            secrets = {s["name"]: s["value"] for s in self.service.store.list("secret", machine["app"])}
            self.engine.create_container(name, self.container_spec(machine, org_net, gateway, secrets))
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
            self.logs.follow(self.container_name(machine["id"]), gateway, machine["app"], machine["region"],
                             machine["id"], machine["instance_id"])

    def remember_address(self, machine):
        info = self.engine.inspect(self.container_name(machine["id"]))
        networks = ((info or {}).get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(self.org_network_name(self.org_of(machine["app"]))) or {}).get("IPAddress")
        with self.state_lock:
            self.addresses[(machine["id"], machine["instance_id"])] = address or None
        return address

    def address(self, machine):
        """The container's address on the org network (what checks and the proxy connect to)."""
        with self.state_lock:
            address = self.addresses.get((machine["id"], machine["instance_id"]))
        return address or self.remember_address(machine)

    def boot(self, machine, at, before=()):
        problem = self.run(machine)
        if problem:
            self.defer_event(machine, "exit", "failed", {"error": problem})
            return list(before) + [["starting", at], ["failed", now()]]
        return list(before) + [["starting", at], ["started", now()]]

    def forget(self, machine_id):
        with self.state_lock:
            for table in (self.results, self.addresses, self.retries):
                for key in [key for key in table if key[0] == machine_id]:
                    del table[key]

    def current_container(self, machine):
        """The machine's container when it runs the machine's current version, else None."""
        info = self.engine.inspect(self.container_name(machine["id"]))
        if info and (info["Config"].get("Labels") or {}).get("sophia.fly.instance") == machine["instance_id"]:
            return info
        return None

    def stop_seconds(self, machine):
        stop = machine["config"].get("stop_config") or {}
        return min(MAX_STOP_SECONDS, parse_duration(stop.get("timeout"), DEFAULT_STOP_SECONDS))

    # --- the API's hooks ------------------------------------------------------------------------------
    def launch(self, machine, skip_launch):
        at = now()
        if skip_launch:
            return [["created", at]]
        return self.boot(machine, at, before=[["created", at]])

    def start(self, machine):
        at = now()
        info = self.current_container(machine)
        try:
            if info and info["State"].get("Paused"):
                self.engine.unpause(info["Id"])
                return [["starting", at], ["started", now()]]
            if info:
                self.engine.start(info["Id"])
                self.remember_address(machine)
                self.follow_logs(machine)
                return [["starting", at], ["started", now()]]
        except DockerError as error:
            self.defer_event(machine, "exit", "failed", {"error": error.message})
            return [["starting", at], ["failed", now()]]
        return self.boot(machine, at)

    def stop(self, machine):
        at = now()
        info = self.current_container(machine)
        if info:
            if info["State"].get("Paused"):
                self.engine.unpause(info["Id"])
            self.engine.stop(info["Id"], timeout=self.stop_seconds(machine))
        return [["stopping", at], ["stopped", now()]]

    def restart(self, machine):
        at = now()
        info = self.current_container(machine)
        if info is None:
            return self.boot(machine, at, before=[["restarting", at]])
        self.engine.restart(info["Id"], timeout=self.stop_seconds(machine))
        self.remember_address(machine)
        self.follow_logs(machine)
        return [["restarting", at], ["started", now()]]

    def suspend(self, machine):
        at = now()
        info = self.current_container(machine)
        if info and info["State"].get("Running") and not info["State"].get("Paused"):
            self.engine.pause(info["Id"])
        return [["suspending", at], ["suspended", now()]]

    def replace(self, machine, skip_launch):
        at = now()
        self.engine.remove(self.container_name(machine["id"]))
        self.forget(machine["id"])
        if skip_launch:
            return [["replacing", at], ["stopped", now()]]
        return self.boot(machine, at, before=[["replacing", at]])

    def destroy(self, machine):
        at = now()
        self.engine.remove(self.container_name(machine["id"]))
        self.forget(machine["id"])
        return [["destroying", at], ["destroyed", now()]]

    def checks(self, machine, at=None):
        at = now() if at is None else at
        state = state_at(machine, at)
        with self.state_lock:
            results = dict(self.results.get((machine["id"], machine["instance_id"])) or {})
        out = []
        for name in sorted(machine["config"].get("checks") or {}):
            if state != "started":
                result = {"status": "critical", "output": "machine is %s" % state, "updated_at": at}
            else:
                result = results.get(name) or {"status": "warning", "output": "waiting for the first check",
                                               "updated_at": at}
            out.append({"name": name, "status": result["status"], "output": result["output"],
                        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result["updated_at"]))})
        return out

    # --- containers that exit on their own ----------------------------------------------------------
    def monitor_loop(self):
        self.every(MONITOR_SECONDS, self.monitor_once)

    def monitor_once(self):
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
                self.exited(machine, container)

    def exited(self, machine, container):
        """The machine's container stopped by itself (or vanished): restart it as its policy says, or
        record the machine stopped, with an exit event carrying the exit code."""
        info = self.engine.inspect(container["Id"]) if container else None
        state = (info or {}).get("State") or {}
        code = state.get("ExitCode", -1) if info else -1
        policy = machine["config"].get("restart") or {}
        key = (machine["id"], machine["instance_id"])
        with self.state_lock:
            done = self.retries.get(key, 0)
        wanted = policy.get("policy", "always")
        restart = info is not None and (wanted == "always" or (
            wanted == "on-failure" and code != 0 and done < int(policy.get("max_retries") or DEFAULT_MAX_RETRIES)))
        exit_event = {"exit_event": {"exit_code": code, "oom_killed": bool(state.get("OOMKilled")),
                                     "requested_stop": False, "restarting": restart,
                                     "exited_at": state.get("FinishedAt") or ""}}
        at = now()
        if restart:
            with self.state_lock:
                self.retries[key] = done + 1
            self.service.event(machine, "exit", "restarting", "flyd")
            machine["events"][0]["request"] = exit_event
            try:
                self.engine.start(info["Id"])
                self.remember_address(machine)
                self.follow_logs(machine)
                machine["timeline"] = [["restarting", at], ["started", now()]]
                self.service.event(machine, "restart", "started", "flyd")
            except DockerError as error:
                machine["timeline"] = [["failed", at]]
                self.service.event(machine, "exit", "failed", "flyd")
                machine["events"][0]["request"] = {"error": error.message}
        elif machine["config"].get("auto_destroy"):
            if info:
                self.engine.remove(info["Id"])
            self.forget(machine["id"])
            machine["timeline"] = [["destroyed", at]]
            machine.pop("lease", None)
            self.service.event(machine, "exit", "destroyed", "flyd")
            machine["events"][0]["request"] = exit_event
        else:
            machine["timeline"] = [["stopped", at]]
            self.service.event(machine, "exit", "stopped", "flyd")
            machine["events"][0]["request"] = exit_event
        self.service.save_machine(machine)

    # --- health checks --------------------------------------------------------------------------------
    def check_loop(self):
        self.every(CHECK_TICK_SECONDS, self.check_once)

    def check_once(self):
        with self.service.lock:
            machines = [m for m in self.service.store.list("machine")
                        if m["config"].get("checks") and state_at(m) == "started"]
        at = time.monotonic()
        for machine in machines:
            for name, check in machine["config"]["checks"].items():
                key = (machine["id"], machine["instance_id"], name)
                with self.state_lock:
                    if key in self.probing or self.due.get(key, 0) > at:
                        continue
                    self.probing.add(key)
                    self.due[key] = at + max(0.2, parse_duration(check.get("interval"), DEFAULT_CHECK_INTERVAL))
                threading.Thread(target=self.probe, args=(machine, name, check), daemon=True).start()

    def probe(self, machine, name, check):
        key = (machine["id"], machine["instance_id"], name)
        try:
            address = self.address(machine)
            status, output = self.run_check(address, check) if address else ("critical", "no address")
            with self.state_lock:
                self.results.setdefault(key[:2], {})[name] = {"status": status, "output": output,
                                                              "updated_at": now()}
        except Exception as error:  # a probe never ends the checker
            with self.state_lock:
                self.results.setdefault(key[:2], {})[name] = {"status": "critical", "output": repr(error),
                                                              "updated_at": now()}
        finally:
            with self.state_lock:
                self.probing.discard(key)

    @staticmethod
    def run_check(address, check):
        timeout = max(0.1, parse_duration(check.get("timeout"), DEFAULT_CHECK_TIMEOUT))
        port = int(check.get("port") or 8080)
        kind = (check.get("type") or "tcp").lower()
        try:
            if kind == "tcp":
                socket.create_connection((address, port), timeout=timeout).close()
                return "passing", "connected to %s:%d" % (address, port)
            if (check.get("protocol") or "http").lower() == "https":
                context = ssl.create_default_context()
                if check.get("tls_skip_verify"):
                    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
            else:
                connection = http.client.HTTPConnection(address, port, timeout=timeout)
            headers = {header["name"]: ", ".join(header.get("values") or []) for header in check.get("headers") or []}
            try:
                connection.request((check.get("method") or "GET").upper(), check.get("path") or "/", headers=headers)
                response = connection.getresponse()
                response.read(65536)
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as error:
            return "critical", "%s:%d: %s" % (address, port, error)
        status = "passing" if 200 <= response.status < 400 else "critical"
        return status, "%d %s" % (response.status, response.reason)

    # --- volumes and snapshots --------------------------------------------------------------------------
    def helper(self, volume_id):
        """A container (never started) with the volume at /v, for reading or writing its files as a tar."""
        name = "%s-vh-%s" % (self.stack, uuid.uuid4().hex[:10])
        self.engine.create_container(name, {
            "Image": HELPER_IMAGE, "Cmd": ["/bin/true"], "NetworkDisabled": True,
            "Labels": self.labels(sophia__fly__role="volume-helper"),
            "HostConfig": {"Mounts": [{"Type": "volume", "Source": self.volume_name(volume_id), "Target": "/v"}]}})
        return name

    def volume_tar(self, volume_id):
        name = self.helper(volume_id)
        try:
            return self.engine.get_archive(name, "/v")
        finally:
            self.engine.remove(name)

    def fill_volume(self, volume_id, tar_bytes):
        name = self.helper(volume_id)
        try:
            self.engine.put_archive(name, "/", tar_bytes)  # the tar's top directory is "v"
        finally:
            self.engine.remove(name)

    def snapshot_path(self, snapshot_id):
        return os.path.join(self.snapshot_dir, "%s.tar" % snapshot_id)

    def create_volume(self, volume, snapshot=None, source=None):
        self.engine.create_volume(self.volume_name(volume["id"]), sophia__emulator="fly",
                                  sophia__fly__app=volume["app"], sophia__fly__volume=volume["id"])
        data = None
        if snapshot is not None and os.path.exists(self.snapshot_path(snapshot["id"])):
            with open(self.snapshot_path(snapshot["id"]), "rb") as stream:
                data = stream.read()
        elif source is not None:
            data = self.volume_tar(source["id"])
        if data:
            self.fill_volume(volume["id"], data)

    def delete_volume(self, volume):
        self.engine.remove_volume(self.volume_name(volume["id"]))
        for snapshot in volume.get("snapshots") or []:
            try:
                os.remove(self.snapshot_path(snapshot["id"]))
            except OSError:
                pass

    def snapshot_volume(self, volume, snapshot):
        data = self.volume_tar(volume["id"])
        os.makedirs(self.snapshot_dir, exist_ok=True)
        partial = self.snapshot_path(snapshot["id"]) + ".part"
        with open(partial, "wb") as stream:
            stream.write(data)
        os.replace(partial, self.snapshot_path(snapshot["id"]))
        snapshot["size"] = len(data)

    # --- apps, resets, the proxy ----------------------------------------------------------------------
    def app_deleted(self, app_name, machines, volumes):
        for machine in machines:
            self.engine.remove(self.container_name(machine["id"]))
            self.forget(machine["id"])
        for volume in volumes:
            self.delete_volume(volume)
        self.proxy.forget_app(app_name)

    def reset(self):
        """Every machine container, volume and snapshot of the Fly emulator in this stack, gone (the
        stack's other objects, PostgreSQL and Redis, stay)."""
        for container in self.engine.containers(sophia__emulator="fly"):
            self.engine.remove(container["Id"])
        for volume in self.engine.volumes(sophia__emulator="fly"):
            self.engine.remove_volume(volume["Name"])
        for name in os.listdir(self.snapshot_dir) if os.path.isdir(self.snapshot_dir) else ():
            os.remove(os.path.join(self.snapshot_dir, name))
        with self.state_lock:
            for table in (self.results, self.addresses, self.retries, self.due):
                table.clear()
        self.proxy.reset()

    def proxy_view(self):
        return self.proxy.view()
