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
  - With O(group), brings a whole process group to O(count) identical machines spread over O(regions), in
    one task. Machines whose config differs are updated in batches of O(rollout.max_unavailable); each batch
    must start and pass its health checks before the next one begins. When a batch does not come up, the
    machines changed by the task go back to the config they had and the task fails; machines not reached yet
    keep serving untouched.
  - Configs are compared after the platform's defaults are taken into account, so a second run with the same
    arguments changes nothing and sends no write.
  - Every update and state change holds the machine's lease and names its current version, so a concurrent
    deploy cannot be overwritten unnoticed.
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
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  app:
    description:
      - Name of the app.
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
    type: str
  group:
    description:
      - Process group to converge, as a whole. Its machines carry the metadata C(fly_process_group=<group>).
    type: str
  count:
    description:
      - How many machines the process group runs.
    type: int
    default: 1
  regions:
    description:
      - Regions the process group's machines are spread over, round-robin; new machines go to the region with
        the fewest. Machines of the group in other regions are destroyed and replaced.
    type: list
    elements: str
    default: [iad]
  config:
    description:
      - The machine config as the Machines API takes it (C(image), C(guest), C(env), C(services), C(checks),
        C(mounts), C(metadata), C(restart), ...). Required unless O(state=absent).
      - Top-level keys left out are left to the platform. Inside C(env), C(metadata) and C(checks), the keys
        given are all the keys there are; an extra one on the machine is a difference.
    type: dict
  volume:
    description:
      - In process-group mode, one volume per machine, mounted at O(volume.path). A machine keeps the volume
        it has; a new one gets a free volume of that name in its region, or a new one.
      - Volumes of destroyed machines are kept (with their data) and used again by later machines.
    type: dict
    suboptions:
      name:
        description: Volume name.
        type: str
        required: true
      path:
        description: Where the volume is mounted in the machine.
        type: str
        required: true
      size_gb:
        description: Size of volumes made by the module, in GB.
        type: int
        default: 1
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
      max_unavailable:
        description:
          - Machines updated at once. Below 1, a fraction of the group (at least one machine).
        type: float
        default: 1
      wait_timeout:
        description: Seconds to wait for a machine to reach a state.
        type: int
        default: 300
      health_timeout:
        description: Seconds to wait, once a machine runs, for all its health checks to pass.
        type: int
        default: 120
      rollback:
        description: Put machines changed by the task back on their previous config when a batch fails.
        type: bool
        default: true
  lease_ttl:
    description:
      - Seconds a lease is taken for while a machine is changed.
    type: int
    default: 120
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

- name: Weaviate with a data volume on each machine
  sophia.ops.fly_machine:
    app: sophia-weaviate
    group: app
    count: 2
    regions: [iad]
    volume: {name: weaviate_data, path: /var/lib/weaviate, size_gb: 20}
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
    - What the task did to the process group (C(created), C(updated), C(destroyed), C(rolled_back),
      C(unchanged) machine IDs); in check mode, what it would do (C(create) regions, C(update), C(destroy)).
  returned: when O(group) is set
  type: dict
  sample: {"created": ["3d8d413b29d089"], "updated": [], "destroyed": [], "rolled_back": [], "unchanged": []}
"""

import math

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule, fly_argument_spec
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyAPIError
from ansible_collections.sophia.ops.plugins.module_utils.fly_machine_config import (
    comparable,
    config_matches,
    with_defaults,
)
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import (
    GONE,
    NOT_RUNNING,
    GroupPlan,
    GroupRollout,
    MachineOps,
    RolloutError,
)


def machine_view(machine):
    """What a diff shows of a group's machine."""
    return {"region": machine.get("region"), "image": (machine.get("config") or {}).get("image"),
            "state": machine.get("state")}


def group_diff(plan, image):
    """Before and after of a process group: its machines by ID, new ones as new-1, new-2, ..."""
    before = dict((m["id"], machine_view(m)) for m in plan.keep + plan.destroy)
    after = dict((m["id"], dict(machine_view(m), image=image, state="started")) for m in plan.keep)
    for number, region in enumerate(plan.create_regions, 1):
        after["new-%d" % number] = {"region": region, "image": image, "state": "started"}
    return {"machines": before}, {"machines": after}


class FlyMachine(FlyModule):
    resource_key = "fly_machine"

    def __init__(self, module):
        super().__init__(module)
        params = module.params
        self.app = params["app"]
        self.rollout = params["rollout"]
        self.ops = MachineOps(self.client, self.app, wait_timeout=self.rollout["wait_timeout"],
                              health_timeout=self.rollout["health_timeout"], lease_ttl=params["lease_ttl"])

    def run(self, action, func, *args):
        """Carry out a change; a failure ends the task with the machine involved."""
        try:
            return func(*args)
        except RolloutError as exc:
            self.module.fail_json(msg="%s failed: %s" % (action, exc), machine_id=exc.machine_id)
        except FlyAPIError as exc:
            self.fail_api(exc, action)

    # ------------------------------------------------------------ one machine
    def find(self):
        params = self.module.params
        if params["machine_id"]:
            machine = self.call("Looking up machine %s" % params["machine_id"], self.client.get_machine,
                                self.app, params["machine_id"])
            return machine if machine and machine.get("state") not in GONE else None
        machines = self.call("Listing machines of %s" % self.app, self.client.list_machines, self.app)
        named = [m for m in machines if m.get("name") == params["name"] and m.get("state") not in GONE]
        return named[0] if named else None

    def converge_one(self):
        params = self.module.params
        machine = self.find()
        wanted = params["state"]
        if wanted == "absent":
            self.destroy_one(machine)
        config = params["config"]
        if machine is None:
            self.create_one(config, wanted)
        if params["region"] and params["region"] != machine.get("region"):
            self.warnings.append("machine %s is in %s; a machine cannot move to %s"
                                 % (machine["id"], machine.get("region"), params["region"]))
        update = not config_matches(config, machine.get("config"))
        actions = self.state_actions(machine.get("state"), wanted, updated=update)
        if not update and not actions:
            self.exit(machine)
        self.changed = True
        self.set_diff({"state": machine.get("state"), "config": comparable(machine.get("config"), config)},
                      {"state": wanted, "config": with_defaults(config)})
        if self.check_mode:
            self.exit(machine)
        if update:
            machine = self.run("Updating machine %s" % machine["id"], self.ops.update, machine, config,
                               wanted != "stopped")
            if wanted == "stopped":
                self.run("Waiting for machine %s" % machine["id"], self.ops.wait_state, machine, "stopped")
            else:
                machine = self.run("Waiting for machine %s" % machine["id"], self.ops.wait_healthy, machine)
        for action in actions:
            machine = self.run("Machine %s: %s" % (machine["id"], action), self.act, machine, action)
        if wanted == "started" and actions:
            self.run("Waiting for machine %s" % machine["id"], self.ops.wait_healthy, machine)
        self.exit(self.call("Reading machine %s" % machine["id"], self.client.get_machine, self.app, machine["id"]))

    @staticmethod
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
        return (["suspend"] if running else ["start", "suspend"])

    def act(self, machine, action):
        """start/stop/suspend the machine and wait until it is there."""
        self.ops.act(machine, action)
        self.ops.wait_state(machine, {"start": "started", "stop": "stopped", "suspend": "suspended"}[action])
        return self.client.get_machine(self.app, machine["id"])

    def create_one(self, config, wanted):
        params = self.module.params
        if not params["name"]:
            self.module.fail_json(msg="machine %s does not exist; name a machine to create it" % params["machine_id"])
        body = {"name": params["name"], "config": config, "skip_launch": wanted == "stopped"}
        if params["region"]:
            body["region"] = params["region"]
        self.changed = True
        self.set_diff({}, {"state": wanted, "config": with_defaults(config)})
        if self.check_mode:
            self.exit(dict(body, state=wanted))
        machine = self.run("Creating machine %s" % params["name"], self.ops.create, body)
        if wanted != "stopped":
            self.run("Waiting for machine %s" % machine["id"], self.ops.wait_healthy, machine)
        if wanted == "suspended":
            machine = self.run("Suspending machine %s" % machine["id"], self.act, machine, "suspend")
        self.exit(self.call("Reading machine %s" % machine["id"], self.client.get_machine, self.app, machine["id"]))

    def destroy_one(self, machine):
        if machine is None:
            self.exit({})
        self.changed = True
        self.set_diff({"state": machine.get("state"), "id": machine["id"]}, {})
        if not self.check_mode:
            self.run("Destroying machine %s" % machine["id"], self.ops.destroy, machine)
        self.exit({})

    # ---------------------------------------------------------- process group
    def converge_group(self):
        params = self.module.params
        count = 0 if params["state"] == "absent" else params["count"]
        if count and not params["config"]:
            self.module.fail_json(msg="config is required to run a process group")
        if params["config"] and "mounts" in params["config"]:
            self.module.fail_json(msg="in process-group mode, give per-machine volumes with the volume option")
        machines = self.call("Listing machines of %s" % self.app, self.client.list_machines, self.app,
                             metadata={"fly_process_group": params["group"]})
        plan = GroupPlan(machines, params["group"], count, params["regions"], params["config"] or {},
                         volume=params["volume"])
        if not plan.changes:
            self.exit_group(machines, plan.summary())
        self.changed = True
        self.set_diff(*group_diff(plan, (params["config"] or {}).get("image")))
        if self.check_mode:
            self.exit_group(machines, plan.summary())
        size = len(plan.keep) or count
        batch = self.rollout["max_unavailable"]
        batch = int(batch) if batch >= 1 else max(1, int(math.floor(batch * size)))
        rollout = GroupRollout(self.ops, plan, max_unavailable=batch, rollback=self.rollout["rollback"])
        try:
            summary = rollout.run()
        except RolloutError as exc:
            self.module.fail_json(msg="rollout of group %s failed: %s%s" % (
                params["group"], exc, "; rolled back: %s" % ", ".join(rollout.done["rolled_back"])
                if rollout.done["rolled_back"] else ""), summary=rollout.done, machine_id=exc.machine_id)
        except FlyAPIError as exc:
            self.fail_api(exc, "Rollout of group %s" % params["group"])
        machines = self.call("Listing machines of %s" % self.app, self.client.list_machines, self.app,
                             metadata={"fly_process_group": params["group"]})
        self.exit_group(machines, summary)

    def exit_group(self, machines, summary):
        self.resource_key = "machines"
        live = [m for m in machines if m.get("state") not in GONE]
        self.exit(live, summary=summary)


def main():
    argument_spec = fly_argument_spec()
    argument_spec.update(
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
            size_gb=dict(type="int", default=1),
        )),
        state=dict(type="str", choices=["started", "stopped", "suspended", "absent"], default="started"),
        rollout=dict(type="dict", default={}, options=dict(
            max_unavailable=dict(type="float", default=1),
            wait_timeout=dict(type="int", default=300),
            health_timeout=dict(type="int", default=120),
            rollback=dict(type="bool", default=True),
        )),
        lease_ttl=dict(type="int", default=120),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("name", "machine_id", "group")],
        mutually_exclusive=[("group", "name"), ("group", "machine_id")],
        required_if=[("state", "started", ("config",)), ("state", "stopped", ("config",)),
                     ("state", "suspended", ("config",))],
    )
    if module.params["group"] and module.params["state"] in ("stopped", "suspended"):
        module.fail_json(msg="a process group is either started or absent")
    machine = FlyMachine(module)
    if module.params["group"]:
        machine.converge_group()
    machine.converge_one()


if __name__ == "__main__":
    main()
