"""An in-memory Fly app on a fake clock, standing in for FlyClient under the rollout engine.

Machines take ``boot`` seconds from a launch, update, start or restart to be started and
healthy; machines of a ``broken`` image start but never pass their checks. Every change a
machine goes through is kept as a down interval, so a test can ask for the fewest healthy
machines there ever were.
"""

from __future__ import annotations

import itertools

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyAPIError
from ansible_collections.sophia.ops.plugins.module_utils.waiter import Waiter

FOREVER = float("inf")


class SimFly:
    timeout = 30

    def __init__(self, clock, boot=3.0, broken=()):
        self.clock = clock
        self.boot = boot
        self.broken = set(broken)
        self.waiter = Waiter(clock=clock.time, sleep=clock.sleep)
        self.machines = {}
        self.volumes = {}
        self.leases = {}
        self.down = []  # (machine ID, from, until): when a machine was not healthy
        self.state_changes = 0
        self.writes = []
        self.ids = itertools.count(1)

    # ------------------------------------------------------------ set-up
    def add_machine(self, image, group="app", healthy=True, state="started"):
        machine_id = "m%d" % next(self.ids)
        self.machines[machine_id] = {
            "id": machine_id, "region": "iad", "instance_id": "v%d" % next(self.ids), "created_at": machine_id,
            "config": {"image": image, "metadata": {"fly_process_group": group}},
            "state": state, "ready_at": self.clock.now if healthy else FOREVER}
        if not healthy or state != "started" or image in self.broken:
            self.down.append((machine_id, self.clock.now, FOREVER))
        return machine_id

    # ------------------------------------------------------------ reading
    def healthy(self, machine):
        return (machine["state"] == "started" and self.clock.now >= machine["ready_at"]
                and machine["config"]["image"] not in self.broken)

    def render(self, machine):
        state = machine["state"]
        if state == "started" and self.clock.now < machine["ready_at"] and machine["ready_at"] != FOREVER:
            state = "starting"
        status = "passing" if self.healthy(machine) else "critical"
        return dict(machine, state=state, checks=[{"name": "alive", "status": status}])

    def list_machines(self, app, metadata=None):
        return [self.render(m) for m in self.machines.values()]

    def get_machine(self, app, machine_id):
        machine = self.machines.get(machine_id)
        return self.render(machine) if machine else None

    def fewest_healthy(self, until=None):
        """The fewest healthy machines at any moment so far (of the machines there are now)."""
        moments = sorted(set([start for dummy, start, dummy in self.down] + [end for dummy, dummy, end in self.down
                                                                             if end != FOREVER]))
        counts = [len(self.machines) - len(set(m for m, start, end in self.down if start <= t < end))
                  for t in moments]
        return min(counts) if counts else len(self.machines)

    # ------------------------------------------------------------ writing
    def _take_down(self, machine, image):
        """The machine leaves service now and comes back ``boot`` seconds later, if its image works."""
        now = self.clock.now
        # An earlier "down for good" (stopped, or a broken image) ends where the new interval starts.
        self.down = [(m, start, now if m == machine["id"] and end == FOREVER else end) for m, start, end in self.down]
        machine["ready_at"] = now + self.boot
        comes_back = FOREVER if image in self.broken else now + self.boot
        self.down.append((machine["id"], now, comes_back))
        self.state_changes += 1

    def _check_lease(self, machine_id, nonce):
        held = self.leases.get(machine_id)
        if held and held["nonce"] != nonce:
            raise FlyAPIError("leased", status=409)

    def update_machine(self, app, machine_id, body, nonce=None):
        self._check_lease(machine_id, nonce)
        machine = self.machines[machine_id]
        if body.get("current_version") != machine["instance_id"]:
            raise FlyAPIError("stale version", status=409)
        machine["config"] = dict(body["config"])
        machine["instance_id"] = "v%d" % next(self.ids)
        machine["state"] = "started"
        self.writes.append(("update", machine_id, self.clock.now))
        self._take_down(machine, machine["config"]["image"])
        return self.render(machine)

    def machine_action(self, app, machine_id, action, nonce=None):
        self._check_lease(machine_id, nonce)
        machine = self.machines[machine_id]
        self.writes.append((action, machine_id, self.clock.now))
        if action in ("start", "restart"):
            machine["state"] = "started"
            self._take_down(machine, machine["config"]["image"])
        elif action == "stop":
            machine["state"] = "stopped"
            self.down.append((machine_id, self.clock.now, FOREVER))
            self.state_changes += 1
        return {"ok": True}

    def create_machine(self, app, body):
        machine_id = "m%d" % next(self.ids)
        machine = {"id": machine_id, "region": body["region"], "instance_id": "v%d" % next(self.ids),
                   "created_at": machine_id, "config": dict(body["config"]), "state": "started"}
        self.machines[machine_id] = machine
        self.writes.append(("create", machine_id, self.clock.now))
        self._take_down(machine, machine["config"]["image"])
        return self.render(machine)

    def wait_machine(self, app, machine_id, states=("started",), version=None, timeout=60):
        machine = self.machines[machine_id]
        self.clock.sleep(0.1)
        return {"ok": True, "state": machine["state"]}

    # ------------------------------------------------------------ leases
    def acquire_lease(self, app, machine_id, ttl, description, nonce=None):
        held = self.leases.get(machine_id)
        if held and held["expires_at"] > self.clock.now and held["nonce"] != nonce:
            raise FlyAPIError("lease held", status=409)
        nonce = nonce or "n-%s-%d" % (machine_id, next(self.ids))
        self.leases[machine_id] = {"nonce": nonce, "description": description, "owner": "sim",
                                   "expires_at": self.clock.now + ttl}
        return nonce

    def get_lease(self, app, machine_id):
        held = self.leases.get(machine_id)
        return dict(held) if held and held["expires_at"] > self.clock.now else None

    def release_lease(self, app, machine_id, nonce):
        if self.leases.get(machine_id, {}).get("nonce") == nonce:
            del self.leases[machine_id]

    # ------------------------------------------------------------ volumes
    def extend_volume(self, app, volume_id, size_gb):
        self.volumes[volume_id]["size_gb"] = size_gb
        return {"needs_restart": True, "volume": self.volumes[volume_id]}
