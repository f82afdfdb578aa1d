"""The Fly emulator's Docker backend (``python -m emulators.fly --backend docker --stack S``): machines
that really run. It answers the API's hooks (lifecycle.MachineBackend) with three parts of its own:

- docker_containers.py: a machine is a container of ``config.image`` on its organisation's network; stop is
  ``docker stop`` (the config's ``stop_config``), suspend pause, start from suspended unpause, an update
  replaces the container (the volume stays), destroy removes it; a monitor applies ``config.restart`` to
  containers that exit on their own.
- docker_checks.py: ``config.checks`` (http, tcp) run at their interval against each container's address.
- docker_volumes.py: a volume is a Docker volume, a snapshot a tar of its files.
- Fly's proxy, in small, is proxy.py.

The hooks run under the service lock and do the Docker work at once (a tenth of a second or so); the
monitor, the checker and the proxy are threads that take the same lock before they touch a record.
"""

from __future__ import annotations

import threading

from emulators.common.docker_engine import DockerEngine, DockerError
from emulators.fly.docker_checks import HealthChecks
from emulators.fly.docker_containers import Containers, stop_seconds
from emulators.fly.docker_volumes import VolumeData
from emulators.fly.lifecycle import MachineBackend, now
from emulators.fly.proxy import Proxy

# How often the monitor looks at the containers, and the checker's tick (each check keeps its own interval).
MONITOR_SECONDS = 0.5
CHECK_TICK_SECONDS = 0.2


class DockerBackend(MachineBackend):
    def __init__(self, service, stack, data_dir, engine=None):
        super().__init__(service.settings["transition_seconds"], service.image_rule)
        self.service = service
        self.stack = stack
        self.engine = engine or DockerEngine(stack)
        self.data_dir = data_dir
        self.volumes = VolumeData(self.engine, stack, data_dir, self.engine_labels)
        self.containers = Containers(service, self.engine, stack, self.volumes)
        self.health = HealthChecks(service, self.containers.address)
        self.proxy = Proxy(service, self)
        self.containers.flycast_hosts = self.proxy.flycast_hosts
        self.stopping = threading.Event()
        self.threads = []

    def engine_labels(self, **extra):
        return self.engine.labels(sophia__emulator="fly", **extra)

    # Machine output onto NATS (logs.MachineLogs), set by the service; None ships nothing.
    @property
    def logs(self):
        return self.containers.logs

    @logs.setter
    def logs(self, logs):
        self.containers.logs = logs

    # --- what the proxy asks for --------------------------------------------------------------------
    def address(self, machine):
        return self.containers.address(machine)

    def org_network(self, org_slug):
        return self.containers.org_network(org_slug)

    def proxy_view(self):
        return self.proxy.view()

    # --- threads ------------------------------------------------------------------------------------
    def begin(self):
        for target, name in ((self.monitor_loop, "fly-monitor"), (self.check_loop, "fly-checks"),
                             (self.proxy.loop, "fly-proxy")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def monitor_loop(self):
        self.every(MONITOR_SECONDS, lambda: self.containers.monitor(self.forget))

    def check_loop(self):
        self.every(CHECK_TICK_SECONDS, self.health.tick)

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

    def boot(self, machine, at, before=()):
        problem = self.containers.run(machine)
        if problem:
            self.defer_event(machine, "exit", "failed", {"error": problem})
            return list(before) + [["starting", at], ["failed", now()]]
        return list(before) + [["starting", at], ["started", now()]]

    def forget(self, machine_id):
        self.containers.forget(machine_id)
        self.health.forget(machine_id)

    # --- the API's hooks ------------------------------------------------------------------------------
    def launch(self, machine, skip_launch):
        at = now()
        if skip_launch:
            return [["created", at]]
        return self.boot(machine, at, before=[["created", at]])

    def start(self, machine):
        at = now()
        info = self.containers.current(machine)
        try:
            if info and info["State"].get("Paused"):
                self.engine.unpause(info["Id"])
                return [["starting", at], ["started", now()]]
            if info:
                self.engine.start(info["Id"])
                self.containers.started_again(machine)
                return [["starting", at], ["started", now()]]
        except DockerError as error:
            self.defer_event(machine, "exit", "failed", {"error": error.message})
            return [["starting", at], ["failed", now()]]
        return self.boot(machine, at)

    def stop(self, machine):
        at = now()
        info = self.containers.current(machine)
        if info:
            if info["State"].get("Paused"):
                self.engine.unpause(info["Id"])
            self.engine.stop(info["Id"], timeout=stop_seconds(machine))
        return [["stopping", at], ["stopped", now()]]

    def restart(self, machine):
        at = now()
        info = self.containers.current(machine)
        if info is None:
            return self.boot(machine, at, before=[["restarting", at]])
        self.engine.restart(info["Id"], timeout=stop_seconds(machine))
        self.containers.started_again(machine)
        return [["restarting", at], ["started", now()]]

    def suspend(self, machine):
        at = now()
        info = self.containers.current(machine)
        if info and info["State"].get("Running") and not info["State"].get("Paused"):
            self.engine.pause(info["Id"])
        return [["suspending", at], ["suspended", now()]]

    def replace(self, machine, skip_launch):
        at = now()
        self.engine.remove(self.containers.name(machine["id"]))
        self.forget(machine["id"])
        if skip_launch:
            return [["replacing", at], ["stopped", now()]]
        return self.boot(machine, at, before=[["replacing", at]])

    def destroy(self, machine):
        at = now()
        self.engine.remove(self.containers.name(machine["id"]))
        self.forget(machine["id"])
        return [["destroying", at], ["destroyed", now()]]

    def checks(self, machine, at=None):
        return self.health.of(machine, at)

    # --- volumes and snapshots --------------------------------------------------------------------------
    def create_volume(self, volume, snapshot=None, source=None):
        self.volumes.create(volume, snapshot, source)

    def delete_volume(self, volume):
        self.volumes.delete(volume)

    def snapshot_volume(self, volume, snapshot):
        self.volumes.snapshot(volume, snapshot)

    # --- apps, resets ---------------------------------------------------------------------------------
    def app_deleted(self, app_name, machines, volumes):
        for machine in machines:
            self.engine.remove(self.containers.name(machine["id"]))
            self.forget(machine["id"])
        for volume in volumes:
            self.volumes.delete(volume)
        self.proxy.forget_app(app_name)

    def reset(self):
        """Every machine container, volume and snapshot of the Fly emulator in this stack, gone (the
        stack's other objects, PostgreSQL and Redis, stay)."""
        self.containers.reset()
        self.volumes.reset()
        self.health.reset()
        self.proxy.reset()
