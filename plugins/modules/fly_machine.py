#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_machine
short_description: Converge one Fly.io machine, or a whole process group of them
version_added: 0.1.0
description:
  - With O(name) or O(machine_id), brings one machine to a config and a state (started, stopped, suspended)
    or destroys it.
  - With O(group), brings a whole process group to O(count) healthy, identical machines spread over O(regions),
    in one task. Health is part of the plan (a machine is healthy when it is started and passes every health
    check). Members that are down already are handled first; then machines whose config differs are updated
    in batches of at most O(rollout.max_unavailable), acted on concurrently and waited for together. The
    number of healthy members never drops below the group's size minus O(rollout.max_unavailable), nor to
    zero for a group of two or more, on any run, first or repeated.
  - When machines already on the wanted config do not become healthy, or a batch does not come up, the task
    stops and says so instead of spreading the config; machines it updated go back to the config they had
    (O(rollout.rollback)) and machines not reached yet keep serving untouched.
  - That is the V(rolling) O(rollout.strategy), flyctl's default. With V(immediate), every member is acted on
    and every new machine made at once, nothing is waited for between them, no floor is kept and nothing is
    rolled back for health; the machines are then watched for O(rollout.health_timeout) only to say which
    became healthy (a warning, and C(left_unhealthy) in O(ignore:summary), name the others).
  - Only what the caller sets is compared (see O(config)), so a second run with the same arguments changes
    nothing and sends no write.
  - Every update and state change holds the machine's lease, taken for O(lease_ttl) seconds and refreshed
    while the work goes on, and names the machine's current version, so a concurrent deploy cannot be
    overwritten unnoticed. Leases are released on every way out of the task.
  - Every write is safe to retry after a lost answer; C(changed) and O(ignore:summary) tell what was done on
    failure too.
  - Arguments are checked against the platform's rules before any request (app and volume names, regions, the
    machine size in C(config.guest), counts, sizes and timeouts); a bad one fails the task naming the option and
    the values it accepts, with nothing written. With O(state=absent), O(config), O(region), O(regions) and O(volume)
    are not checked.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - In process-group mode the result carries the plan (what would be created, updated and destroyed).
      - An app that does not exist yet has no machines; the creates are predicted.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  app:
    description:
      - Name of the app (a name M(sophia.ops.fly_app) accepts; any other fails before any request).
    type: str
    required: true
  name:
    description:
      - Name of one machine (unique within the app). Identifies the machine, and names it when it is created.
    type: str
  machine_id:
    description:
      - ID of one existing machine.
    type: str
  region:
    description:
      - Region a new single machine is created in. A machine never moves; a different region of an existing
        machine is reported as a warning.
      - One of Fly.io's public regions (for example V(iad), V(ord), V(ams)).
    type: str
  group:
    description:
      - Process group to converge, as a whole. Its machines carry the metadata C(fly_process_group=<group>).
    type: str
  count:
    description:
      - How many machines the process group runs (0 or more; a negative count fails before any request).
    type: int
    default: 1
  regions:
    description:
      - Regions the process group's machines are spread over, round-robin; new machines go to the region with
        the fewest. Machines of the group in other regions are destroyed and replaced.
      - Each one of Fly.io's public regions; at least one for a group of one or more machines.
    type: list
    elements: str
    default: [iad]
  config:
    description:
      - The machine config as the Machines API takes it (C(image), C(guest), C(env), C(services), C(checks),
        C(mounts), C(metadata), C(restart), ...). Required unless O(state=absent).
      - Only what is given here is compared. Top-level keys left out, and fields left out inside objects such
        as C(guest), a service or a check, are left as the platform has them. For a new machine the platform
        fills in C(guest) as C(cpu_kind=shared), C(cpus=1), C(memory_mb=256) (each only when left out),
        C(restart.policy=always) and C(protocol=tcp) on services; set a field to have it compared.
      - Inside C(env), C(metadata) and C(checks), the keys given are all the keys there are; an extra one on
        the machine is a difference.
      - C(guest) must be a size the platform offers, each field left out counting as its default above.
        C(cpu_kind=shared) takes 1, 2, 4, 6 or 8 C(cpus) and 256 to 2048 MB of C(memory_mb) per CPU;
        C(cpu_kind=performance) takes 1, 2, 4, 8 or 16 C(cpus) and 2048 to 8192 MB per CPU; memory always in
        steps of 256 MB.
      - In process-group mode it must not hold C(mounts) (see O(volume)).
      - Whole numbers the API takes (ports, C(guest) sizes, concurrency limits, C(min_machines_running), ...) may
        come as decimal strings, as templates inside a dict render them before ansible-core 2.19; they are sent
        as numbers.
    type: dict
  volume:
    description:
      - In process-group mode, one volume per machine, mounted at O(volume.path). A machine keeps the volume
        it has; a new one gets a free volume of that name in its region, or a new one.
      - Volumes of destroyed machines are kept (with their data) and used again by later machines.
      - O(volume.snapshot_retention) and O(volume.auto_backup_enabled), when given, are set on every new volume
        and compared on the group's volumes (those its machines mount, and free ones of O(volume.name)); a
        volume that differs is updated in place, before any machine is touched, and listed in the summary's
        C(volumes_updated).
    type: dict
    suboptions:
      name:
        description: Volume name, 1 to 30 lowercase letters, digits and underscores.
        type: str
        required: true
      path:
        description: Where the volume is mounted in the machine.
        type: str
        required: true
      size_gb:
        description:
          - Size of every member's volume, in GB, 1 to 500. Volumes that are smaller are extended (the machine is
            restarted, in batches, when the platform says it needs one to see the space); volumes never
            shrink, so a size below an existing volume's fails before any write.
          - When not set, existing volumes are left as they are and new ones get 1 GB.
        type: int
      snapshot_retention:
        description:
          - Days Fly.io keeps the snapshots of every member's volume (1 to 60).
          - When not set, existing volumes keep theirs and new ones get the platform's default (5).
        type: int
      auto_backup_enabled:
        description:
          - Whether Fly.io takes a daily snapshot of every member's volume.
          - When not set, existing volumes keep theirs and new ones get the platform's default (V(true)).
        type: bool
  state:
    description:
      - V(started), V(stopped) or V(suspended) for one machine; V(started) or V(absent) for a process group.
      - V(absent) stops and destroys the machine, or every machine of the group.
    type: str
    choices: [started, stopped, suspended, absent]
    default: started
  rollout:
    description:
      - How changes are rolled out and waited for.
    type: dict
    default: {}
    suboptions:
      strategy:
        description:
          - V(rolling) updates the group in batches of O(rollout.max_unavailable), each waited for until its
            machines pass their checks, keeping the healthy floor and rolling back a batch that does not come
            up.
          - V(immediate) acts on every machine at once without waiting for any of them, for a development
            environment where waiting costs more than a broken release; it keeps no floor and rolls nothing
            back, and reports which machines became healthy within O(rollout.health_timeout).
        type: str
        choices: [rolling, immediate]
        default: rolling
      max_unavailable:
        description:
          - Machines of the group that may be down at once, those already down included. Below 1, a
            fraction of the group (at least one machine). Must be above 0. Not used by V(immediate).
        type: float
        default: 1
      wait_timeout:
        description:
          - Seconds to wait for a machine to reach a state (1 or more). A machine that fails, or stops on the
            version waited for, ends the wait at once.
        type: int
        default: 300
      health_timeout:
        description:
          - Seconds to wait, once a machine runs, for all its health checks to pass (1 or more). With
            V(immediate), how long the machines are watched before the task says which became healthy.
        type: int
        default: 120
      rollback:
        description: Put machines changed by the task back on their previous config when a batch fails (V(rolling)).
        type: bool
        default: true
  lease_ttl:
    description:
      - Seconds a lease lasts unless refreshed (1 or more). The task refreshes its leases every third of it while
        it works, so a killed run leaves leases that end within this time.
    type: int
    default: 30
  lease_wait_timeout:
    description:
      - Seconds to wait for a lease left by an earlier, interrupted run of this collection to end (0 or more). A
        lease held by anyone else is never waited for; the task fails naming its holder.
    type: int
    default: 90
notes:
  - Secrets are not part of the config; machines pick them up from the app (see M(sophia.ops.fly_secret)).
seealso:
  - module: sophia.ops.fly_machine_info
  - module: sophia.ops.fly_volume
"""

EXAMPLES = r"""
- name: Unified API, 4 machines over two regions, rolled out two at a time
  sophia.ops.fly_machine:
    app: sophia-unified-api
    group: app
    count: 4
    regions: [iad, ord]
    config:
      image: registry.fly.io/sophia-unified-api:1.4.2
      guest: {cpu_kind: performance, cpus: 4, memory_mb: 4096}
      env: {LOG_LEVEL: info}
      services:
        - protocol: tcp
          internal_port: 8000
          ports: [{port: 443, handlers: [tls, http]}]
      checks:
        alive: {type: http, port: 8000, method: GET, path: /health, interval: 15s, timeout: 5s}
    rollout:
      max_unavailable: 2
      health_timeout: 180

- name: Weaviate with a data volume on each machine, snapshotted daily and kept two weeks
  sophia.ops.fly_machine:
    app: sophia-weaviate
    group: app
    count: 2
    regions: [iad]
    volume:
      name: weaviate_data
      path: /var/lib/weaviate
      size_gb: 20
      snapshot_retention: 14
      auto_backup_enabled: true
    config:
      image: semitechnologies/weaviate:1.32.0
      guest: {cpus: 2, memory_mb: 2048}

- name: A one-off maintenance machine, stopped until needed
  sophia.ops.fly_machine:
    app: sophia-mcp-memory
    name: fts-reindex
    region: iad
    state: stopped
    config:
      image: registry.fly.io/sophia-mcp-memory:2.0.1
      init: {cmd: [python, -m, mcp.reindex]}
"""

RETURN = r"""
fly_machine:
  description: One machine after the run (single-machine mode); empty once destroyed.
  returned: when O(group) is not set
  type: dict
  contains:
    id:
      description: Machine ID.
      type: str
      sample: 1857156b526dd8
    name:
      description: Machine name.
      type: str
      sample: fts-reindex
    state:
      description: Machine state.
      type: str
      sample: stopped
    region:
      description: Region.
      type: str
      sample: iad
    instance_id:
      description: The current version of the machine.
      type: str
      sample: 01HEPA330HZ37A78TK080NAK1M
    config:
      description: The config as the API holds it, defaults filled in.
      type: dict
      sample: {"image": "registry.fly.io/sophia-mcp-memory:2.0.1"}
machines:
  description: The process group's machines after the run (process-group mode).
  returned: when O(group) is set
  type: list
  elements: dict
  sample: [{"id": "1857156b526dd8", "region": "iad", "state": "started", "config": {"image": "..."}}]
summary:
  description:
    - What the task did to the process group, in the same shape whether it changed anything, failed or ran
      in check mode (then what it would do; machines still to be made are named C(new-1), C(new-2), ...).
    - C(created), C(updated), C(started), C(restarted), C(destroyed), C(rolled_back), C(unchanged) list
      machine IDs; C(grown_volumes) and C(volumes_updated) (snapshot settings set) volume IDs; C(unhealthy)
      the members found on the wanted config but not healthy, which are waited for first; C(left_unhealthy)
      the machines an V(immediate) rollout acted on that did not pass their checks within
      O(rollout.health_timeout); C(progress) one line per step (each batch, creates, volumes).
  returned: when O(group) is set, on failure too
  type: dict
  sample: {"created": ["3d8d413b29d089"], "updated": [], "started": [], "restarted": [], "destroyed": [],
           "rolled_back": [], "unchanged": [], "grown_volumes": [], "volumes_updated": [], "unhealthy": [],
           "left_unhealthy": [], "progress": ["created 1 machine(s), healthy after 3.1s"]}
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import MACHINE_GONE
from ansible_collections.sophia.ops.plugins.module_utils.fly_lease import Leases
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import (
    comparable,
    config_matches,
    shown_configs,
    whole_numbers,
)
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import (
    check_app_name,
    check_guest,
    check_region,
    check_regions,
    check_snapshot_retention,
    check_volume_name,
    check_volume_size,
)
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import (
    GROUP_KEY,
    NOT_RUNNING,
    STRATEGIES,
    GroupPlan,
    GroupRollout,
    MachineOps,
    PlanError,
    RolloutError,
    is_healthy,
)
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import (
    InvalidInput,
    at_least,
    given,
    number_above,
    whole_number,
)

STATE_REACHED_BY = {"start": "started", "stop": "stopped", "suspend": "suspended"}


def machine_view(machine):
    """What a diff shows of a group's machine."""
    return {"region": machine.get("region"), "image": (machine.get("config") or {}).get("image"),
            "state": machine.get("state")}


def group_diff(plan, image):
    """Before and after of a process group: its machines by ID, new ones as new-1, new-2, ..., and the
    snapshot settings of the volumes whose settings change."""
    before = dict((m["id"], machine_view(m)) for m in plan.keep + plan.destroy)
    after = dict((m["id"], dict(machine_view(m), image=image, state="started")) for m in plan.keep)
    for number, region in enumerate(plan.create_regions, 1):
        after["new-%d" % number] = {"region": region, "image": image, "state": "started"}
    before, after = {"machines": before}, {"machines": after}
    if plan.retune:
        before["volumes"] = dict((v["id"], dict((key, v.get(key)) for key in changes)) for v, changes in plan.retune)
        after["volumes"] = dict((v["id"], dict(changes)) for v, changes in plan.retune)
    return before, after


def state_actions(state, wanted, updated=False):
    """Actions that take a machine from ``state`` to ``wanted``. An update launches the new
    version unless the machine should be stopped, so the actions start from there."""
    if updated:
        state = "stopped" if wanted == "stopped" else "started"
    running = state not in NOT_RUNNING
    if wanted == "started":
        return [] if running else ["start"]
    if wanted == "stopped":
        return ["stop"] if running else []
    if state == "suspended":
        return []
    return ["suspend"] if running else ["start", "suspend"]


class FlyMachine(FlyModule):
    supports_check_mode = True
    argument_spec = dict(
        app=dict(type="str", required=True),
        name=dict(type="str"),
        machine_id=dict(type="str"),
        region=dict(type="str"),
        group=dict(type="str"),
        count=dict(type="int", default=1),
        regions=dict(type="list", elements="str", default=["iad"]),
        config=dict(type="dict"),
        volume=dict(type="dict", options=dict(
            name=dict(type="str", required=True),
            path=dict(type="str", required=True),
            size_gb=dict(type="int"),
            snapshot_retention=dict(type="int"),
            auto_backup_enabled=dict(type="bool"),
        )),
        state=dict(type="str", choices=["started", "stopped", "suspended", "absent"], default="started"),
        rollout=dict(type="dict", default={}, options=dict(
            strategy=dict(type="str", choices=list(STRATEGIES), default="rolling"),
            max_unavailable=dict(type="float", default=1),
            wait_timeout=dict(type="int", default=300),
            health_timeout=dict(type="int", default=120),
            rollback=dict(type="bool", default=True),
        )),
        lease_ttl=dict(type="int", default=30),
        lease_wait_timeout=dict(type="int", default=90),
    )
    module_options = dict(
        required_one_of=[("name", "machine_id", "group")],
        mutually_exclusive=[("group", "name"), ("group", "machine_id")],
        required_if=[("state", "started", ("config",)), ("state", "stopped", ("config",)),
                     ("state", "suspended", ("config",))],
    )

    def __init__(self, module):
        super().__init__(module)
        # Group mode returns the group's machines, one machine mode the machine (the option decides, not a verb).
        self.resource_key = "machines" if self.params["group"] else "fly_machine"
        self.app = self.params["app"]
        self.rollout = self.params["rollout"]
        # Ports, sizes and counts templated into the config arrive as strings on ansible-core before 2.19.
        if self.params["config"]:
            self.params["config"] = whole_numbers(self.params["config"])

    def validate(self):
        params = self.params
        given(params, app=check_app_name, lease_ttl=at_least(1, "seconds"), lease_wait_timeout=at_least(0, "seconds"))
        whole_number("count", params["count"], 0)
        number_above("rollout.max_unavailable", self.rollout["max_unavailable"], 0)
        given(self.rollout, within="rollout", wait_timeout=at_least(1, "seconds"),
              health_timeout=at_least(1, "seconds"))
        if params["group"] and params["state"] in ("stopped", "suspended"):
            raise InvalidInput("state", "a process group is either started or absent, not %s" % params["state"],
                               "started, absent")
        if params["state"] == "absent":
            return  # what is destroyed is found by name, ID or group; the rest does not matter
        given(params, region=check_region, regions=check_regions)
        config = params["config"] or {}
        check_guest("config.guest", config.get("guest"))
        if params["group"]:
            self.validate_group(config)

    def validate_group(self, config):
        params = self.params
        if params["count"] and not config:
            raise InvalidInput("config", "a process group of %d machines needs a config" % params["count"],
                               "a machine config with at least an image")
        if params["count"] and not params["regions"]:
            raise InvalidInput("regions", "a process group of %d machines needs a region" % params["count"],
                               "one or more Fly.io regions")
        if "mounts" in config:
            raise InvalidInput("config.mounts", "a process group's machines each get their volume from the volume "
                               "option", "no config.mounts in process-group mode; use volume")
        volume = params["volume"]
        if volume:
            check_volume_name("volume.name", volume["name"])
            given(volume, within="volume", size_gb=check_volume_size, snapshot_retention=check_snapshot_retention)

    def dispatch(self):
        with Leases(self.client, self.app, ttl=self.params["lease_ttl"],
                    wait_timeout=self.params["lease_wait_timeout"]) as leases:
            self.ops = MachineOps(self.client, self.app, leases, wait_timeout=self.rollout["wait_timeout"],
                                  health_timeout=self.rollout["health_timeout"], group=self.params["group"])
            try:
                if self.params["group"]:
                    return self.converge_group()
                return self.converge_one()
            except RolloutError as exc:
                self.fail(str(exc), machine_ids=exc.machine_ids)
            except PlanError as exc:
                self.fail(str(exc))
            finally:
                self.warnings.extend(leases.problems)

    # ------------------------------------------------------------ one machine
    def find(self):
        if self.params["machine_id"]:
            machine = self.client.get_machine(self.app, self.params["machine_id"])
            return machine if machine and machine.get("state") not in MACHINE_GONE else None
        machines = self.app_listing(self.client.list_machines, self.app)
        named = [m for m in machines if m.get("name") == self.params["name"] and m.get("state") not in MACHINE_GONE]
        return named[0] if named else None

    def converge_one(self):
        machine = self.find()
        wanted = self.params["state"]
        config = self.params["config"]
        if wanted == "absent":
            return self.destroy_one(machine)
        if machine is None:
            return self.create_one(config, wanted)
        if self.params["region"] and self.params["region"] != machine.get("region"):
            self.warnings.append("machine %s is in %s; a machine cannot move to %s"
                                 % (machine["id"], machine.get("region"), self.params["region"]))
        update = not config_matches(config, machine.get("config"))
        actions = state_actions(machine.get("state"), wanted, updated=update)
        if not update and not actions:
            if wanted == "started" and not is_healthy(machine):
                return self.settle_one(machine)
            return machine
        self.changed = True
        self.differences.add("state", machine.get("state"), wanted)
        self.differences.add("config", *shown_configs(comparable(machine.get("config"), config), config))
        if self.check_mode:
            return machine
        if update:
            machine = self.ops.update(machine, config, wanted != "stopped")
            if wanted == "stopped":
                self.ops.wait_state(machine, "stopped")
            else:
                self.ops.wait_healthy([machine])
        for step in actions:
            self.ops.act(machine, step)
            self.ops.wait_state(machine, STATE_REACHED_BY[step])
        if wanted == "started" and actions:
            self.ops.wait_healthy([machine])
        return self.client.get_machine(self.app, machine["id"])

    def settle_one(self, machine):
        """Started on the wanted config but not healthy: nothing to write; say whether it comes up."""
        if self.check_mode:
            self.warnings.append("machine %s is not healthy" % machine["id"])
            return machine
        try:
            return self.ops.wait_healthy([machine])[0]
        except RolloutError as exc:
            raise RolloutError("machine %s runs the wanted config and is not healthy: %s" % (machine["id"], exc),
                               [machine["id"]]) from None

    def create_one(self, config, wanted):
        if not self.params["name"]:
            self.fail("machine %s does not exist; name a machine to create it" % self.params["machine_id"])
        body = {"name": self.params["name"], "config": config, "skip_launch": wanted == "stopped"}
        if self.params["region"]:
            body["region"] = self.params["region"]
        self.changed = True
        self.differences.add("state", after=wanted)
        self.differences.add("config", after=shown_configs({}, config)[1])
        if self.check_mode:
            return dict(body, state=wanted)
        machine = self.ops.create(body)
        if wanted != "stopped":
            self.ops.wait_healthy([machine])
        if wanted == "suspended":
            self.ops.act(machine, "suspend")
            self.ops.wait_state(machine, "suspended")
        return self.client.get_machine(self.app, machine["id"])

    def destroy_one(self, machine):
        if machine is None:
            return {}
        self.changed = True
        self.differences.add_all({"state": machine.get("state"), "id": machine["id"]}, {})
        if not self.check_mode:
            self.ops.destroy(machine)
        return {}

    # ---------------------------------------------------------- process group
    def converge_group(self):
        count = 0 if self.params["state"] == "absent" else self.params["count"]
        config = self.params["config"] or {}
        machines = self.app_listing(self.client.list_machines, self.app,
                                    metadata={GROUP_KEY: self.params["group"]})
        volumes = []
        if self.params["volume"]:  # listed once: for the sizes, and for the pool new machines draw from
            volumes = self.app_listing(self.client.list_volumes, self.app)
        plan = GroupPlan(machines, self.params["group"], count, self.params["regions"], config,
                         volume=self.params["volume"], volumes=volumes)
        self.extra["summary"] = plan.summary()
        if plan.changes:
            self.differences.add_all(*group_diff(plan, config.get("image")))
        if self.check_mode or not (plan.changes or plan.unhealthy):
            self.changed = plan.changes
            return self.live(machines)
        rollout = GroupRollout(self.ops, plan, max_unavailable=self.rollout["max_unavailable"],
                               rollback=self.rollout["rollback"], strategy=self.rollout["strategy"])
        self.extra["summary"] = rollout.summary
        # On failure, `changed` comes from the writes actually sent (the client counts them).
        rollout.run()
        self.changed = plan.changes
        if rollout.summary["left_unhealthy"]:
            self.warnings.append("immediate rollout: %s did not pass their health checks within %ss"
                                 % (", ".join(rollout.summary["left_unhealthy"]), self.rollout["health_timeout"]))
        # The listing of the last health wait is the group as it is now, unless machines went since.
        if self.ops.listing is None:
            self.ops.listing = self.client.list_machines(self.app, metadata={GROUP_KEY: self.params["group"]})
        return self.live(self.ops.listing)

    @staticmethod
    def live(machines):
        return [m for m in machines if m.get("state") not in MACHINE_GONE]


def main():
    FlyMachine.execute()


if __name__ == "__main__":
    main()
