# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine operations and process-group rollouts for sophia.ops.fly_machine.

``MachineOps`` does one thing to one machine the safe way: under its lease,
guarded by ``current_version``, then waiting until the new version runs and
passes its health checks. ``GroupPlan`` works out what a process group needs
(create, update, destroy) without touching anything, so check mode can show
it; ``GroupRollout`` carries a plan out batch by batch and rolls back what it
changed when a batch does not come up healthy.
"""

from __future__ import annotations

import time

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyAPIError, FlyTimeout
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import config_matches

GROUP_KEY = "fly_process_group"
GONE = ("destroying", "destroyed")
# States a machine rests in without running; `created` is a launched-never machine.
NOT_RUNNING = ("created", "stopped", "suspended", "failed")
# GET machine allows 5 requests a second; polling every half second per machine stays well under it.
POLL_SECONDS = 0.5


class RolloutError(Exception):
    """A machine did not reach the wanted state or health in time."""

    def __init__(self, message, machine_id=None):
        super().__init__(message)
        self.machine_id = machine_id


class MachineOps:
    def __init__(self, client, app, wait_timeout=300, health_timeout=120, lease_ttl=120):
        self.client = client
        self.app = app
        self.wait_timeout = wait_timeout
        self.health_timeout = health_timeout
        self.lease_ttl = lease_ttl

    def create(self, body):
        return self.client.create_machine(self.app, body)

    def update(self, machine, config, launch=True):
        """Replace the config under the machine's lease, guarded by its current version."""
        body = {"config": config, "current_version": machine["instance_id"]}
        if not launch:
            body["skip_launch"] = True
        with self.client.lease(self.app, machine["id"], ttl=self.lease_ttl) as nonce:
            return self.client.update_machine(self.app, machine["id"], body, nonce=nonce)

    def act(self, machine, action):
        """start, stop or suspend under the lease."""
        with self.client.lease(self.app, machine["id"], ttl=self.lease_ttl) as nonce:
            return self.client.machine_action(self.app, machine["id"], action, nonce=nonce)

    def wait_state(self, machine, state):
        """Wait for ``state`` of the machine's current version."""
        try:
            self.client.wait_machine(self.app, machine["id"], state=state, instance_id=machine.get("instance_id"),
                                     timeout=self.wait_timeout)
        except FlyTimeout:
            current = self.client.get_machine(self.app, machine["id"]) or {}
            raise RolloutError("machine %s is %s, not %s, after %ss" % (
                machine["id"], current.get("state", "gone"), state, self.wait_timeout), machine["id"])

    def wait_healthy(self, machine):
        """Wait until the machine runs its current version and every health check passes."""
        self.wait_state(machine, "started")
        deadline = time.monotonic() + self.health_timeout
        while True:
            current = self.client.get_machine(self.app, machine["id"]) or {}
            if current.get("state") == "failed":
                raise RolloutError("machine %s failed to start" % machine["id"], machine["id"])
            checks = current.get("checks") or []
            if current.get("state") == "started" and all(c.get("status") == "passing" for c in checks):
                return current
            if time.monotonic() >= deadline:
                failing = ", ".join("%s=%s" % (c.get("name"), c.get("status")) for c in checks
                                    if c.get("status") != "passing")
                raise RolloutError("machine %s did not pass its health checks within %ss (%s)" % (
                    machine["id"], self.health_timeout, failing or current.get("state")), machine["id"])
            time.sleep(POLL_SECONDS)

    def destroy(self, machine):
        """Stop the machine, wait until it is stopped, destroy it and wait until it is gone."""
        current = self.client.get_machine(self.app, machine["id"])
        if not current or current.get("state") in GONE:
            return
        if current.get("state") not in NOT_RUNNING:
            self.act(current, "stop")
            self.wait_state(current, "stopped")
        self.client.delete_machine(self.app, machine["id"])
        # Volumes are only free again once the machine is destroyed.
        self.wait_state(current, "destroyed")


def group_of(machine):
    return ((machine.get("config") or {}).get("metadata") or {}).get(GROUP_KEY)


class GroupPlan:
    """What a process group needs to look like ``count`` machines of ``config`` over ``regions``."""

    def __init__(self, machines, group, count, regions, config, volume=None):
        self.group = group
        self.config = config
        self.volume = volume
        live = [m for m in machines if group_of(m) == group and m.get("state") not in GONE]
        # Machines outside the wanted regions are replaced; then the surplus goes, from the most
        # crowded region first and the newest machine first, so the longest-serving stay.
        outside = [m for m in live if m.get("region") not in regions]
        kept = [m for m in live if m.get("region") in regions]
        per_region = dict((region, [m for m in kept if m.get("region") == region]) for region in regions)
        surplus = []
        while len(kept) - len(surplus) > count:
            region = max(regions, key=lambda r: (len(per_region[r]), regions.index(r)))
            newest = max(per_region[region], key=lambda m: m.get("created_at") or "")
            per_region[region].remove(newest)
            surplus.append(newest)
        self.destroy = outside + surplus
        self.keep = [m for m in kept if m not in surplus]
        self.create_regions = []
        while len(self.keep) + len(self.create_regions) < count:
            region = min(regions, key=lambda r: (len(per_region[r]), regions.index(r)))
            per_region[region].append(None)
            self.create_regions.append(region)
        self.update = [m for m in self.keep if not self.wanted_for(m) or m.get("state") != "started"]
        self.unchanged = [m for m in self.keep if m not in self.update]

    def wanted_for(self, machine):
        """True when the machine already runs the wanted config."""
        return config_matches(self.config_for(machine), machine.get("config"))

    def config_for(self, machine):
        """The config ``machine`` (None for a new one) should run. With a group volume, a
        machine keeps the volume it mounts; a mount without a volume ID is still to be found."""
        config = dict(self.config)
        config["metadata"] = dict(config.get("metadata") or {}, **{GROUP_KEY: self.group})
        if self.volume:
            mounted = [m for m in ((machine or {}).get("config") or {}).get("mounts") or []
                       if m.get("path") == self.volume["path"]]
            config["mounts"] = mounted or [{"volume": None, "path": self.volume["path"]}]
        return config

    @property
    def changes(self):
        return bool(self.destroy or self.create_regions or self.update)

    def summary(self):
        return {"create": list(self.create_regions), "update": [m["id"] for m in self.update],
                "destroy": [m["id"] for m in self.destroy], "unchanged": [m["id"] for m in self.unchanged]}


class GroupRollout:
    def __init__(self, ops, plan, max_unavailable=1, rollback=True):
        self.ops = ops
        self.plan = plan
        self.max_unavailable = max(1, max_unavailable)
        self.rollback = rollback
        self.done = {"created": [], "updated": [], "destroyed": [], "rolled_back": [], "unchanged":
                     [m["id"] for m in plan.unchanged]}
        self._claimed_volumes = set()

    def run(self):
        """Update in batches, then create, then destroy the surplus. Raises RolloutError."""
        self.update_in_batches()
        for region in self.plan.create_regions:
            made = self.ops.create({"region": region, "config": self.with_volumes(self.plan.config_for(None), region)})
            self.done["created"].append(made["id"])
            self.ops.wait_healthy(made)
        for machine in self.plan.destroy:
            self.ops.destroy(machine)
            self.done["destroyed"].append(machine["id"])
        return self.done

    def update_in_batches(self):
        pending = list(self.plan.update)
        updated = []  # (machine before, machine after), for a rollback
        while pending:
            batch, pending = pending[:self.max_unavailable], pending[self.max_unavailable:]
            try:
                started = []
                for machine in batch:
                    config = self.with_volumes(self.plan.config_for(machine), machine["region"])
                    after = self.ops.update(machine, config)
                    updated.append((machine, after))
                    started.append(after)
                for machine in started:
                    self.ops.wait_healthy(machine)
            except (RolloutError, FlyAPIError) as exc:
                if self.rollback and updated:
                    self.roll_back(updated)
                raise RolloutError(str(exc), getattr(exc, "machine_id", None))
            self.done["updated"].extend(m["id"] for m in started)

    def roll_back(self, updated):
        """Put every machine this run changed back on the config it had, newest change first."""
        for before, after in reversed(updated):
            current = self.ops.client.get_machine(self.ops.app, after["id"]) or after
            restored = self.ops.update(current, before["config"])
            self.ops.wait_state(restored, "started")
            self.done["rolled_back"].append(before["id"])

    def with_volumes(self, config, region):
        """Fill mounts that still need a volume with a free one of the group's name in ``region``,
        made when there is none (volumes of destroyed machines are used again)."""
        for mount in config.get("mounts") or []:
            if mount.get("volume") is None:
                mount["volume"] = self.free_volume(region)
        return config

    def free_volume(self, region):
        client, app, wanted = self.ops.client, self.ops.app, self.plan.volume
        for volume in client.list_volumes(app):
            if (volume.get("name") == wanted["name"] and volume.get("region") == region
                    and not volume.get("attached_machine_id") and volume["id"] not in self._claimed_volumes):
                self._claimed_volumes.add(volume["id"])
                return volume["id"]
        made = client.create_volume(app, {"name": wanted["name"], "region": region,
                                          "size_gb": wanted.get("size_gb") or 1})
        self._claimed_volumes.add(made["id"])
        return made["id"]
