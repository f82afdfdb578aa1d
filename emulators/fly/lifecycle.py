"""Machine lifecycle: the states a machine goes through, on a clock.

A machine record carries a ``timeline``: ``[[state, at], ...]`` with ``at`` in
epoch seconds. Its state now is the last entry whose time has come, so nothing
has to run in the background and a restarted emulator picks up where it was.
Each action replaces the timeline from "now" on.

Actions go through a ``MachineBackend``. ``RecordBackend`` only keeps records;
a backend that runs real containers can hook the same points.
"""

from __future__ import annotations

import time

# The states that count as running, and those a start is allowed from.
RUNNING = ("starting", "started", "restarting")
STARTABLE = ("created", "stopped", "suspended", "failed")
# Docs: started, stopped, suspended, destroyed; the OpenAPI document adds failed and settled
# (whatever state the machine rests in once nothing more is under way).
WAITABLE = ("started", "stopped", "suspended", "destroyed", "failed", "settled")


def now():
    return time.time()


def state_at(machine, at=None):
    at = now() if at is None else at
    state = machine["timeline"][0][0]
    for name, since in machine["timeline"]:
        if since <= at:
            state = name
    return state


def is_settled(machine, at=None):
    """Nothing more is under way: the machine rests where its timeline ends."""
    return state_at(machine, at) == machine["timeline"][-1][0]


def is_running(machine, at=None):
    """Running, or on its way to ``started`` (a launch or start under way): what a destroy
    without ``force`` refuses."""
    return state_at(machine, at) in RUNNING or machine["timeline"][-1][0] == "started"


def entered_at(machine, state):
    """When the current timeline reaches ``state``, or None."""
    for name, since in machine["timeline"]:
        if name == state:
            return since
    return None


class MachineBackend:
    """Carries out what the API asked: each hook (launch, start, stop, restart, suspend,
    replace, destroy) answers the machine's new timeline, and ``checks`` its health.

    This base keeps time only. A backend that runs real containers subclasses it, does
    the work in the hooks, and calls up for the timeline."""

    def __init__(self, transition_seconds, image_rules):
        self.step = transition_seconds
        self.image_rules = image_rules  # callable: image -> {"healthy": bool, "start": bool}

    def _boot(self, machine, at):
        ending = "started" if self.image_rules(machine["config"].get("image"))["start"] else "failed"
        return [["starting", at], [ending, at + self.step]]

    def launch(self, machine, skip_launch):
        at = now()
        return [["created", at]] + ([] if skip_launch else self._boot(machine, at + self.step))

    def start(self, machine):
        return self._boot(machine, now())

    def stop(self, machine):
        at = now()
        return [["stopping", at], ["stopped", at + self.step]]

    def restart(self, machine):
        at = now()
        return [["restarting", at], ["started", at + self.step]]

    def suspend(self, machine):
        at = now()
        return [["suspending", at], ["suspended", at + self.step]]

    def replace(self, machine, skip_launch):
        at = now()
        if skip_launch:
            return [["replacing", at], ["stopped", at + self.step]]
        return [["replacing", at]] + self._boot(machine, at + self.step)

    def destroy(self, machine):
        at = now()
        return [["destroying", at], ["destroyed", at + self.step]]

    def checks(self, machine, at=None):
        """Health check results: passing one step after the machine started, unless the
        image is marked unhealthy; critical while it is not running."""
        at = now() if at is None else at
        config_checks = machine["config"].get("checks") or {}
        state = state_at(machine, at)
        started = entered_at(machine, "started")
        healthy = self.image_rules(machine["config"].get("image"))["healthy"]
        results = []
        for name in sorted(config_checks):
            if state == "started" and healthy and started is not None and at >= started + self.step:
                status, output = "passing", "200 OK"
            elif state == "started" and healthy:
                status, output = "warning", "waiting for the first check"
            else:
                status, output = "critical", "connection refused" if state == "started" else "machine is %s" % state
            results.append({"name": name, "status": status, "output": output,
                            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))})
        return results

    # --- what a backend running real things also hooks (nothing to do for records) ----------------
    def create_volume(self, volume, snapshot=None, source=None):
        """A volume was created, empty or from ``snapshot`` (a snapshot record) or ``source`` (a volume)."""

    def delete_volume(self, volume):
        pass

    def snapshot_volume(self, volume, snapshot):
        """``snapshot`` (its record, still being built) was taken of ``volume``."""

    def app_deleted(self, app_name, machines, volumes):
        pass

    def reset(self):
        pass

    def close(self):
        pass

    def proxy_view(self):
        return {"apps": {}}


class RecordBackend(MachineBackend):
    """Machines as records only: the timeline is the whole truth, nothing runs."""
