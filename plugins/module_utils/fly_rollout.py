# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine operations and process-group rollouts for sophia.ops.fly_machine.

- ``GroupPlan`` works out, without touching anything, what a process group
  needs: machines to create, update, start, restart (after a volume grew) or
  destroy, volumes to grow or to give the wanted snapshot settings, and members
  already on the wanted config that are not healthy. Health is part of the plan: a member failing its checks is
  never "unchanged".
- ``next_batch`` picks the members to act on next so that the number of
  healthy members never drops below the floor (``size - max_unavailable``, and
  never zero for two or more): members that are down already go first and
  count against ``max_unavailable``.
- ``MachineOps`` does things to machines the safe way: under their lease,
  guarded by ``current_version``, with every wait through the one waiter, and
  ending as soon as a machine reaches a state the wanted one cannot come from.
- ``GroupRollout`` carries a plan out by a strategy. ``rolling``: batches acted
  on concurrently (flyctl's eight at a time; the client keeps within the rate
  limits) and waited for together, a rollback of the machines it changed when a
  batch does not come up. ``immediate``: everything at once, nothing waited for
  before the next write, then the machines watched for ``health_timeout`` only
  to say which became healthy. Either way a summary of what it did, on failure
  too.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import MACHINE_GONE, VOLUME_GONE, FlyTimeout
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import config_matches
from ansible_collections.sophia.ops.plugins.module_utils.waiter import WaitFailed, WaitTimeout

GROUP_KEY = "fly_process_group"
# States a machine rests in without running; `created` is a launched-never machine.
NOT_RUNNING = ("created", "stopped", "suspended", "failed")
# flyctl works on eight machines at a time.
MAX_WORKERS = 8
# Seconds from a machine's start to the first look at its checks.
CHECKS_SETTLE = 0.35
SUMMARY_KEYS = ("created", "updated", "started", "restarted", "destroyed", "rolled_back", "unchanged",
                "grown_volumes", "volumes_updated", "unhealthy", "left_unhealthy", "progress")
# How a group's changes are carried out (flyctl's names; canary and bluegreen are not here yet).
STRATEGIES = ("rolling", "immediate")
# Volume settings the API can change in place (PUT /apps/{app}/volumes/{id}), compared when given.
VOLUME_SETTINGS = ("snapshot_retention", "auto_backup_enabled")


class RolloutError(Exception):
    """A machine did not reach the wanted state or health, or the rollout may not go on."""

    def __init__(self, message, machine_ids=()):
        super().__init__(message)
        self.machine_ids = list(machine_ids)


class PlanError(Exception):
    """The wanted group cannot be reached from here (found before any write)."""


def empty_summary():
    return dict((key, []) for key in SUMMARY_KEYS)


def is_healthy(machine):
    """Runs and passes every health check it has."""
    return machine.get("state") == "started" and all(c.get("status") == "passing" for c in machine.get("checks") or [])


def autostops(config):
    """Whether Fly's proxy may stop (or suspend) the machine when it is idle: a service with autostop on."""
    return any(service.get("autostop") not in (None, False, "off") for service in (config or {}).get("services") or [])


def min_running(config):
    """The most machines any of the config's services keeps running (min_machines_running)."""
    return max([int(service.get("min_machines_running") or 0) for service in (config or {}).get("services") or []]
               or [0])


def is_parked(machine):
    """Stopped or suspended by Fly's proxy for want of traffic (autostop), on a config that allows it: at rest,
    not broken. The proxy starts it again on demand, so a run leaves it be. A machine a user stopped, or
    whose process exited, is not parked."""
    events = machine.get("events") or []
    latest = events[0] if events else {}
    return (machine.get("state") in ("stopped", "suspended") and autostops(machine.get("config"))
            and latest.get("source") == "flyd" and latest.get("type") in ("stop", "suspend"))


def health_problem(machine):
    """Why a machine is not healthy, for messages."""
    failing = ", ".join("%s=%s" % (c.get("name"), c.get("status")) for c in machine.get("checks") or []
                        if c.get("status") != "passing")
    if machine.get("state") != "started":
        return "state %s" % machine.get("state")
    return "checks %s" % failing


def group_of(machine):
    return ((machine.get("config") or {}).get("metadata") or {}).get(GROUP_KEY)


def batch_size(max_unavailable, size):
    """``max_unavailable`` as a number of machines: whole, or a fraction of the group (at least one)."""
    if max_unavailable >= 1:
        return int(max_unavailable)
    return max(1, int(max_unavailable * size))


def floor_for(size, max_unavailable):
    """Fewest healthy members a group of ``size`` keeps while it is rolled."""
    return max(size - max_unavailable, 1 if size >= 2 else 0)


def next_batch(pending, healthy_ids, size, max_unavailable):
    """The members of ``pending`` to act on now.

    Members that are down already go first: acting on them costs no healthy machine, but they
    count against ``max_unavailable``. Healthy members follow only while the group stays at or
    above its floor once they are down.
    """
    down = [m for m in pending if m["id"] not in healthy_ids]
    up = [m for m in pending if m["id"] in healthy_ids]
    batch = down[:max_unavailable]
    room = min(max_unavailable - len(batch), len(healthy_ids) - floor_for(size, max_unavailable))
    return batch + up[:max(0, room)]


def mounted_volume(machine, path):
    for mount in (machine.get("config") or {}).get("mounts") or []:
        if mount.get("path") == path:
            return mount.get("volume")
    return None


def volume_settings(volume):
    """The snapshot settings the ``volume`` option asks for (those given)."""
    return dict((key, volume[key]) for key in VOLUME_SETTINGS if (volume or {}).get(key) is not None)


class GroupPlan:
    """What a process group needs to become ``count`` healthy machines of ``config`` over ``regions``."""

    def __init__(self, machines, group, count, regions, config, volume=None, volumes=()):
        self.group = group
        self.config = config
        self.volume = volume
        self.volumes = list(volumes)
        live = [m for m in machines if group_of(m) == group and m.get("state") not in MACHINE_GONE]
        # Machines outside the wanted regions are replaced; then the surplus goes from the most crowded
        # region, unhealthy machines first, then the newest, so the longest-serving healthy ones stay.
        outside = [m for m in live if m.get("region") not in regions]
        kept = [m for m in live if m.get("region") in regions]
        per_region = dict((region, [m for m in kept if m.get("region") == region]) for region in regions)
        surplus = []
        while len(kept) - len(surplus) > count:
            region = max(regions, key=lambda r: (len(per_region[r]), -regions.index(r)))
            leaving = max(per_region[region], key=lambda m: (not is_healthy(m), m.get("created_at") or ""))
            per_region[region].remove(leaving)
            surplus.append(leaving)
        self.destroy = outside + surplus
        self.keep = [m for m in kept if m not in surplus]
        self.create_regions = []
        while len(self.keep) + len(self.create_regions) < count:
            region = min(regions, key=lambda r: (len(per_region[r]), regions.index(r)))
            per_region[region].append(None)
            self.create_regions.append(region)

        self.grow = self._volumes_to_grow()
        self.retune = self._volumes_to_retune(live)
        grown_machines = set(v.get("attached_machine_id") for v in self.grow)
        self.actions = {}  # machine ID -> update | start | restart
        self.unhealthy = []  # on the wanted config and meant to run, but not healthy: waited for first
        self.unchanged = []
        # Machines the proxy parked stay parked while enough others run to keep the services' minimum.
        running = len([m for m in self.keep if m.get("state") not in NOT_RUNNING and self.wanted_for(m)])
        floor = min_running(config)
        for machine in self.keep:
            if not self.wanted_for(machine):
                self.actions[machine["id"]] = "update"
            elif is_parked(machine) and running >= floor:
                self.unchanged.append(machine)
            elif machine.get("state") in NOT_RUNNING:
                running += 1
                self.actions[machine["id"]] = "start"
            elif machine["id"] in grown_machines:
                self.actions[machine["id"]] = "restart"  # to see the space its volume gained
            elif not is_healthy(machine):
                self.unhealthy.append(machine)
            else:
                self.unchanged.append(machine)

    def _volumes_to_grow(self):
        if not self.volume or not self.volume.get("size_gb"):
            return []
        wanted = self.volume["size_gb"]
        by_id = dict((v["id"], v) for v in self.volumes)
        grow = []
        for machine in self.keep:
            volume = by_id.get(mounted_volume(machine, self.volume["path"]))
            if volume is None:
                continue
            if volume.get("size_gb", 0) > wanted:
                raise PlanError("volume.size_gb is %d, but volume %s of machine %s already has %d GB; volumes never "
                                "shrink, so give at least %d"
                                % (wanted, volume["id"], machine["id"], volume["size_gb"], volume["size_gb"]))
            if volume.get("size_gb", 0) < wanted:
                grow.append(volume)
        return grow

    def _volumes_to_retune(self, live):
        """``[(volume, changes)]``: the group's volumes whose snapshot settings differ from the wanted ones.
        The group's volumes are those its machines mount and the free ones of its volume name, which new
        machines take."""
        wanted = volume_settings(self.volume)
        if not wanted:
            return []
        members = set(m["id"] for m in live)
        mounted = set(mounted_volume(m, self.volume["path"]) for m in live)
        retune = []
        for volume in self.volumes:
            holder = volume.get("attached_machine_id")
            ours = volume["id"] in mounted or (volume.get("name") == self.volume["name"]
                                               and (not holder or holder in members))
            if not ours or volume.get("state") in VOLUME_GONE:
                continue
            changes = dict((key, value) for key, value in wanted.items() if volume.get(key) != value)
            if changes:
                retune.append((volume, changes))
        return retune

    def wanted_for(self, machine):
        """True when the machine already has the wanted config."""
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

    def ids(self, action):
        return [m["id"] for m in self.keep if self.actions.get(m["id"]) == action]

    @property
    def changes(self):
        """Whether carrying the plan out writes anything (waiting for unhealthy members does not)."""
        return bool(self.destroy or self.create_regions or self.actions or self.grow or self.retune)

    def summary(self):
        """What carrying the plan out would do, in the shape of what a rollout did."""
        summary = empty_summary()
        summary.update(created=["new-%d" % n for n in range(1, len(self.create_regions) + 1)],
                       updated=self.ids("update"), started=self.ids("start"), restarted=self.ids("restart"),
                       destroyed=[m["id"] for m in self.destroy], unchanged=[m["id"] for m in self.unchanged],
                       grown_volumes=[v["id"] for v in self.grow],
                       volumes_updated=[v["id"] for v, dummy in self.retune],
                       unhealthy=[m["id"] for m in self.unhealthy])
        return summary


def in_parallel(func, items, workers=MAX_WORKERS):
    """``func(item)`` for every item on up to ``workers`` threads; answers ``[(item, result, error)]``."""
    if not items:
        return []

    def guarded(item):
        try:
            return item, func(item), None
        except (APIError, RolloutError, WaitFailed, WaitTimeout) as exc:
            return item, None, exc

    if len(items) == 1:
        return [guarded(items[0])]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(guarded, items))


def first_error(outcomes):
    errors = [error for dummy, dummy, error in outcomes if error is not None]
    return errors[0] if errors else None


class MachineOps:
    """Machine operations of one app. ``group`` names the process group whose listing serves health
    waits (one request for all its members); without it, machines are read one by one."""

    def __init__(self, client, app, leases, wait_timeout=300, health_timeout=120, group=None):
        self.client = client
        self.app = app
        self.leases = leases
        self.wait_timeout = wait_timeout
        self.health_timeout = health_timeout
        self.group = group
        # The group as last listed by a health wait; it serves as the task's result when nothing came after.
        self.listing = None

    def create(self, body):
        return self.client.create_machine(self.app, body)

    def update(self, machine, config, launch=True):
        """Replace the config under the machine's lease, guarded by its current version."""
        body = {"config": config, "current_version": machine["instance_id"]}
        if not launch:
            body["skip_launch"] = True
        nonce = self.leases.acquire(machine["id"])
        return self.client.update_machine(self.app, machine["id"], body, nonce=nonce)

    def act(self, machine, action):
        """start, stop, restart or suspend, under the lease."""
        nonce = self.leases.acquire(machine["id"])
        return self.client.machine_action(self.app, machine["id"], action, nonce=nonce)

    def wait_state(self, machine, state):
        """Wait for ``state`` of the machine's current version; a machine that fails instead ends the
        wait at once."""
        version = machine.get("instance_id")
        answer = self.client.wait_machine(self.app, machine["id"], states=(state, "failed") if state != "failed"
                                          else (state,), version=version if state != "destroyed" else None,
                                          timeout=self.wait_timeout)
        if answer.get("state") == "failed" and state != "failed":
            raise RolloutError("machine %s failed instead of reaching %s" % (machine["id"], state), [machine["id"]])
        return answer

    def read(self, ids):
        """The machines with these IDs as they are now (missing ones left out)."""
        if self.group:
            listed = self.client.list_machines(self.app, metadata={GROUP_KEY: self.group})
            self.listing = listed
            return dict((m["id"], m) for m in listed if m["id"] in ids)
        found = [self.client.get_machine(self.app, machine_id) for machine_id in ids]
        return dict((m["id"], m) for m in found if m)

    def wait_healthy(self, machines):
        """Wait until every machine runs the version it has now and passes its checks; answers them.

        Each may take ``wait_timeout`` to start and then ``health_timeout`` to pass its checks. A
        machine that fails, stops on that version or goes away ends the wait at once.
        """
        versions = dict((m["id"], m.get("instance_id")) for m in machines)
        waiter = self.client.waiter
        start_by = waiter.deadline_in(self.wait_timeout)
        started_at = {}
        healthy_seen, parked = set(), set()
        # Checks run once a machine has started, so right after it starts they cannot have passed yet.
        first_look = CHECKS_SETTLE if machines and self.wait_for_the_last(machines[-1]) else 0.0

        def probe(remaining):
            now = dict((i, m) for i, m in self.read(list(versions)).items())
            for machine_id, version in versions.items():
                machine = now.get(machine_id)
                if machine is None or machine.get("state") in MACHINE_GONE:
                    raise WaitFailed("machine %s went away while it was waited for" % machine_id, last=machine_id)
                state = machine.get("state")
                same_version = version in (None, machine.get("instance_id"))
                if same_version and machine_id in healthy_seen and is_parked(machine):
                    parked.add(machine_id)  # healthy, then stopped by the proxy for want of traffic: done
                    continue
                if state == "failed" or (same_version and state in ("stopped", "suspended")):
                    raise WaitFailed("machine %s is %s instead of running" % (machine_id, state), last=machine_id)
                if state == "started":
                    started_at.setdefault(machine_id, waiter.clock())
                elif waiter.remaining(start_by) <= 0:
                    raise WaitFailed("machine %s is %s, not started, after %ss"
                                     % (machine_id, state, self.wait_timeout), last=machine_id)
                if is_healthy(machine) and same_version:
                    healthy_seen.add(machine_id)
                if (not is_healthy(machine) and machine_id in started_at
                        and waiter.clock() - started_at[machine_id] > self.health_timeout):
                    raise WaitFailed("machine %s did not pass its health checks within %ss (%s)"
                                     % (machine_id, self.health_timeout, health_problem(machine)), last=machine_id)
            if all(is_healthy(now[i]) or i in parked for i in versions):
                return [now[i] for i in versions]
            return None

        try:
            return waiter.until(probe, self.wait_timeout + self.health_timeout, what="health of %s"
                                % ", ".join(versions), interval=0.7, max_interval=2.0, backoff=1.5,
                                delay=first_look)
        except WaitFailed as exc:
            raise RolloutError(str(exc), [exc.last]) from None
        except WaitTimeout as exc:
            raise RolloutError(str(exc), list(versions)) from None

    def wait_for_the_last(self, machine):
        """One long poll on the machine acted on last: it answers the moment that machine runs (or fails),
        and those acted on before it are most likely running by then. What is left is the checks, which
        the listing polls after it wait for; a wait that ends otherwise leaves the verdict to them."""
        try:
            answer = self.client.wait_machine(self.app, machine["id"], states=("started", "failed"),
                                              version=machine.get("instance_id"), timeout=self.wait_timeout)
        except FlyTimeout:
            return False
        return answer.get("state") == "started" and bool((machine.get("config") or {}).get("checks"))

    def destroy(self, machine):
        """Stop the machine, destroy it and wait until it is gone (its volume is free only then)."""
        current = self.client.get_machine(self.app, machine["id"])
        if not current or current.get("state") in MACHINE_GONE:
            return
        if current.get("state") not in NOT_RUNNING:
            self.act(current, "stop")
            self.wait_state(current, "stopped")
        nonce = self.leases.acquire(machine["id"])
        self.client.delete_machine(self.app, machine["id"], nonce=nonce)
        self.leases.release(machine["id"])
        self.listing = None
        self.client.wait_machine(self.app, machine["id"], states=("destroyed",), timeout=self.wait_timeout)


class VolumePool:
    """The app's volumes, listed once per run: free ones of the group's name are taken by new machines
    (volumes of destroyed machines keep their data and are used again), and made when there is none."""

    def __init__(self, client, app, wanted, listed):
        self.client = client
        self.app = app
        self.wanted = wanted
        self.known = list(listed)
        self.claimed = set()
        self.lock = threading.Lock()

    def claim(self, region):
        with self.lock:
            for volume in self.known:
                if (volume.get("name") == self.wanted["name"] and volume.get("region") == region
                        and not volume.get("attached_machine_id") and volume["id"] not in self.claimed
                        and volume.get("state") not in VOLUME_GONE):
                    self.claimed.add(volume["id"])
                    return volume["id"]
            known_ids = [v["id"] for v in self.known]
        body = dict({"name": self.wanted["name"], "region": region, "size_gb": self.wanted.get("size_gb") or 1},
                    **volume_settings(self.wanted))
        made = self.client.create_volume(self.app, body, known_ids=known_ids)
        with self.lock:
            self.known.append(made)
            self.claimed.add(made["id"])
        return made["id"]


class GroupRollout:
    """Carries a ``GroupPlan`` out; ``summary`` says what was done so far, whatever happens."""

    def __init__(self, ops, plan, max_unavailable=1, rollback=True, clock=time.monotonic, workers=MAX_WORKERS,
                 strategy="rolling"):
        if strategy not in STRATEGIES:
            raise ValueError("strategy %r is not one of %s" % (strategy, ", ".join(STRATEGIES)))
        self.ops = ops
        self.plan = plan
        self.strategy = strategy
        self.workers = workers
        self.size = len(plan.keep)
        self.max_unavailable = batch_size(max_unavailable, self.size or len(plan.create_regions))
        self.rollback = rollback
        self.clock = clock
        self.summary = empty_summary()
        self.summary["unchanged"] = [m["id"] for m in plan.unchanged]
        self.volumes = VolumePool(ops.client, ops.app, plan.volume, plan.volumes) if plan.volume else None
        self.healthy = set(m["id"] for m in plan.keep if is_healthy(m))

    def note(self, line):
        self.summary["progress"].append(line)

    def run(self):
        """Set volumes' snapshot settings, grow volumes; then, rolling, wait for unhealthy members, roll the
        rest in batches and create, or, immediate, act on every member and create at once; destroy the
        surplus. Raises RolloutError; ``summary`` holds what was done."""
        self.retune_volumes()
        self.grow_volumes()
        if self.strategy == "immediate":
            self.all_at_once()
        else:
            self.settle_unhealthy()
            self.roll()
            self.create()
        self.remove_surplus()
        return self.summary

    # ------------------------------------------------------------ volumes
    def retune_volumes(self):
        """Snapshot settings change in place: no machine is touched, so they go first, all at once."""
        outcomes = in_parallel(lambda pair: self.ops.client.update_volume(self.ops.app, pair[0]["id"], pair[1]),
                               self.plan.retune, self.workers)
        self.summary["volumes_updated"] = [v["id"] for (v, dummy), dummy, error in outcomes if error is None]
        error = first_error(outcomes)
        if error:
            raise RolloutError("updating the snapshot settings of volumes failed: %s" % error)
        if self.plan.retune:
            self.note("set the snapshot settings of %d volume(s)" % len(self.plan.retune))

    def grow_volumes(self):
        size = self.plan.volume["size_gb"] if self.plan.grow else None
        outcomes = in_parallel(lambda v: self.ops.client.extend_volume(self.ops.app, v["id"], size), self.plan.grow,
                               self.workers)
        self.summary["grown_volumes"] = [v["id"] for v, dummy, error in outcomes if error is None]
        error = first_error(outcomes)
        if error:
            raise RolloutError("growing volumes to %d GB failed: %s" % (size, error))
        if self.plan.grow:
            self.note("grew %d volume(s) to %d GB" % (len(self.plan.grow), size))

    # ------------------------------------------------------- health first
    def settle_unhealthy(self):
        """Members already on the wanted config that are not healthy are waited for before anything
        else is touched: if they do not come up, the wanted config is what fails, and spreading it
        further would only take more machines down."""
        if not self.plan.unhealthy:
            return
        ids = [m["id"] for m in self.plan.unhealthy]
        self.summary["unhealthy"] = ids
        try:
            self.ops.wait_healthy(self.plan.unhealthy)
        except RolloutError as exc:
            raise RolloutError("machine(s) %s already run the wanted config and do not become healthy (%s); the "
                               "wanted config looks broken, so it is not spread to more machines"
                               % (", ".join(ids), exc), exc.machine_ids) from None
        self.healthy.update(ids)
        self.note("waited for %s, already on the wanted config, to become healthy" % ", ".join(ids))

    # ------------------------------------------------------------ batches
    def roll(self):
        pending = [m for m in self.plan.keep if m["id"] in self.plan.actions]
        changed = []  # (machine before, machine after) of updates, for a rollback
        number = 0
        while pending:
            batch = next_batch(pending, self.healthy, self.size, self.max_unavailable)
            if not batch:
                raise RolloutError("%d machine(s) still to roll, but only %d of %d are healthy and at most %d may be "
                                   "down; not going below that" % (len(pending), len(self.healthy), self.size,
                                                                   self.max_unavailable), [m["id"] for m in pending])
            pending = [m for m in pending if m not in batch]
            number += 1
            began = self.clock()
            # While this batch comes up, the leases of the one that should follow it are taken.
            ahead = [m["id"] for m in next_batch(pending, self.healthy | set(m["id"] for m in batch), self.size,
                                                 self.max_unavailable)]
            outcomes, error = self.act_and_wait(self.act_on, batch,
                                                meanwhile=partial(self.ops.leases.acquire_soon, ahead))
            for machine, after, failure in outcomes:
                self.healthy.discard(machine["id"])
                if failure is None:
                    action = self.plan.actions[machine["id"]]
                    self.summary[{"update": "updated", "start": "started", "restart": "restarted"}[action]].append(
                        machine["id"])
                    if action == "update":
                        changed.append((machine, after))
            self.ops.leases.release_soon([m["id"] for m in batch])
            if error is not None:
                self.fail_batch(error, changed, batch)
            self.healthy.update(m["id"] for m in batch)
            self.note("batch %d: %s %s, healthy after %.1fs" % (
                number, "/".join(sorted(set(self.plan.actions[m["id"]] for m in batch))),
                ", ".join(m["id"] for m in batch), self.clock() - began))

    def act_and_wait(self, func, items, meanwhile=None):
        """``func`` on every item side by side, then one wait until the machines they answered are healthy
        (``meanwhile`` runs in between). Answers the outcomes and the first error, the wait's included."""
        outcomes = in_parallel(func, items, self.workers)
        if meanwhile:
            meanwhile()
        error = first_error(outcomes)
        if error is None:
            try:
                self.ops.wait_healthy([machine for dummy, machine, dummy in outcomes])
            except RolloutError as exc:
                error = exc
        return outcomes, error

    def act_on(self, machine):
        action = self.plan.actions[machine["id"]]
        if action == "update":
            config = self.with_volumes(self.plan.config_for(machine), machine["region"])
            return self.ops.update(machine, config)
        self.ops.act(machine, action)
        return self.ops.client.get_machine(self.ops.app, machine["id"]) or machine

    def fail_batch(self, error, changed, batch):
        ids = getattr(error, "machine_ids", None) or [m["id"] for m in batch]
        message = "machine(s) %s did not come up on the wanted config: %s" % (", ".join(i for i in ids if i), error)
        if self.rollback and changed:
            message += "; " + self.roll_back(changed)
        raise RolloutError(message + "; the wanted config is not spread further", ids)

    def roll_back(self, changed):
        """Put every machine this run updated back on the config it had. Answers what happened."""
        self.ops.leases.wait_released()

        def restore(pair):
            before, after = pair
            current = self.ops.client.get_machine(self.ops.app, after["id"]) or after
            return self.ops.update(current, before["config"])

        outcomes, error = self.act_and_wait(restore, changed)
        restored = [after for dummy, after, failure in outcomes if failure is None]
        self.summary["rolled_back"] = [m["id"] for m in restored]
        self.ops.leases.release_soon([before["id"] for before, dummy in changed])
        if error is not None:
            return "rolling back failed too: %s" % error
        return "rolled back: %s" % ", ".join(m["id"] for m in restored)

    # ------------------------------------------------------------ immediate
    def all_at_once(self):
        """Every member's action and every new machine at once, none waited for before the others (flyctl's
        immediate, for when waiting costs more than a broken release). No floor is kept and nothing is
        rolled back for health; the machines are then watched for ``health_timeout`` only to say which
        became healthy (``left_unhealthy`` names the others)."""
        began = self.clock()
        pending = [m for m in self.plan.keep if m["id"] in self.plan.actions]
        acted = in_parallel(self.act_on, pending, self.workers)
        made = in_parallel(self.make, self.plan.create_regions, self.workers)
        self.ops.leases.release_soon([m["id"] for m in pending])
        for machine, dummy, failure in acted:
            if failure is None:
                action = self.plan.actions[machine["id"]]
                self.summary[{"update": "updated", "start": "started", "restart": "restarted"}[action]].append(
                    machine["id"])
        self.summary["created"] = [machine["id"] for dummy, machine, failure in made if failure is None]
        error = first_error(acted + made)
        if error is not None:
            raise RolloutError("acting on every machine at once (immediate) failed: %s" % error,
                               getattr(error, "machine_ids", ()))
        machines = [machine for dummy, machine, dummy in acted + made]
        if not machines:
            return
        try:
            self.ops.wait_healthy(machines)
        except RolloutError:
            pass  # said below: immediate does not hold a deploy to health
        now = self.ops.read([m["id"] for m in machines])
        self.summary["left_unhealthy"] = [m["id"] for m in machines if not is_healthy(now.get(m["id"]) or {})]
        self.note("immediate: %d acted on and %d created at once; %d of %d passing their checks after %.1fs"
                  % (len(pending), len(made), len(machines) - len(self.summary["left_unhealthy"]), len(machines),
                     self.clock() - began))

    # -------------------------------------------------------- new machines
    def make(self, region):
        config = self.with_volumes(self.plan.config_for(None), region)
        return self.ops.create({"region": region, "config": config})

    def create(self):
        if not self.plan.create_regions:
            return
        began = self.clock()
        outcomes, error = self.act_and_wait(self.make, self.plan.create_regions)
        made = [machine for dummy, machine, failure in outcomes if failure is None]
        self.summary["created"] = [m["id"] for m in made]
        if error is not None:
            raise RolloutError("creating %d machine(s) failed: %s" % (len(self.plan.create_regions), error),
                               getattr(error, "machine_ids", ()))
        self.note("created %d machine(s), healthy after %.1fs" % (len(made), self.clock() - began))

    def with_volumes(self, config, region):
        """Fill mounts that still need a volume with one from the pool."""
        for mount in config.get("mounts") or []:
            if mount.get("volume") is None:
                mount["volume"] = self.volumes.claim(region)
        return config

    # ------------------------------------------------------------- surplus
    def remove_surplus(self):
        outcomes = in_parallel(self.ops.destroy, self.plan.destroy, self.workers)
        self.summary["destroyed"] = [m["id"] for m, dummy, error in outcomes if error is None]
        error = first_error(outcomes)
        if error is not None:
            raise RolloutError("destroying surplus machines failed: %s" % error)
        if self.plan.destroy:
            self.note("destroyed %d surplus machine(s)" % len(self.plan.destroy))
