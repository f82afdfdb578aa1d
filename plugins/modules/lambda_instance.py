#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_instance
short_description: Launch, restart or terminate named Lambda Cloud GPU instances
version_added: 0.1.0
description:
  - Makes sure a pool of O(count) identical instances runs on Lambda Cloud; or that none does.
  - Lambda has no unique names and no idempotency key. The module marks its instances with the tag
    C(sophia-ops:pool=<name>) and finds them by it; every launch also carries a one-off tag that is looked for
    before a launch is retried, so a launch whose answer was lost never makes a second instance.
  - Membership is the tag, not the name, so changing O(count) only adds or removes instances; the others are
    left alone. New instances are named C(<name>-1), C(<name>-2), ..., taking the lowest free number. An
    instance named C(<name>) (a single instance launched by an earlier release) is a member like the others.
  - When a region or instance type has no capacity, the next one in O(region_names) and O(instance_type_names)
    is tried, in order (every region of the first type, then of the next type).
  - Launches are paced O(launch_interval) seconds apart, within Lambda's limits, so a pool is launched without
    being throttled.
  - Waits until the instances are C(active) with a public IP and, with O(wait_for_ssh), until SSH answers.
    An instance that turns C(unhealthy), C(preempted) or C(terminated) fails the task at once.
  - Arguments are checked before any write. Names, tags, counts and sizes are checked before any request;
    before a launch, O(instance_type_names) and O(region_names) are checked against the instance types and
    regions the API lists (in check mode too). A bad one fails the task naming the option and the values it
    accepts.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: partial
    details:
      - O(state=restarted) restarts every time.
options:
  name:
    description:
      - Name of the pool. Its instances are named C(<name>-1), C(<name>-2), ...
      - 1 to 60 characters, so that instance names stay within Lambda's 64.
    type: str
    required: true
  count:
    description:
      - How many instances the pool runs, V(0) or more.
      - A smaller count terminates the surplus, the instances that are not C(active) first, then the newest.
    type: int
    default: 1
  region_names:
    description:
      - Regions to launch in, in order of preference.
      - Each must be a region the API lists (C(GET /regions)); needed to launch.
    type: list
    elements: str
  instance_type_names:
    description:
      - Instance types to launch, in order of preference (for example V(gpu_1x_a100_sxm4)).
      - Each must be an instance type the API lists (C(GET /instance-types)); needed to launch.
    type: list
    elements: str
  ssh_key_name:
    description:
      - The one SSH key (by name, 1 to 64 characters) that may log in; see M(sophia.ops.lambda_ssh_key).
      - Needed to launch.
    type: str
  file_system_names:
    description:
      - Filesystems to mount; they must be in the region the instance lands in.
      - Each a filesystem name (letters, digits and dashes, starting with a letter, at most 60 characters).
    type: list
    elements: str
    default: []
  image_family:
    description:
      - Image family to boot, for example V(lambda-stack-24-04). The platform's default when not set.
    type: str
  user_data:
    description:
      - Cloud-init user data run at first boot, at most 1 MB.
      - It often holds credentials, so it is treated as a secret (C(no_log)) and never shown in output or
        error messages.
    type: str
  tags:
    description:
      - More tags, name to value.
      - Names are 2 to 55 lowercase letters, digits, dashes and colons, starting with a letter; values at most
        128 characters (numbers and booleans are sent as their text).
    type: dict
    default: {}
  firewall_ruleset_ids:
    description:
      - Firewall rulesets to associate with new instances.
    type: list
    elements: str
    default: []
  launch_interval:
    description:
      - Seconds between two launches (0 or more). Lambda allows one launch every 12 seconds; launches are spaced
        this far apart rather than sent until they are throttled.
      - Lower it only where the limit is lower (an account with a raised limit, an emulator in tests).
    type: float
    default: 12
  state:
    description:
      - V(present) launches what is missing and terminates the surplus; V(absent) terminates the pool;
        V(restarted) restarts every instance of the pool.
    type: str
    choices: [present, absent, restarted]
    default: present
  wait:
    description:
      - Wait until every instance is active with an IP (and SSH answers, with O(wait_for_ssh)).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for that (1 or more).
    type: int
    default: 900
  wait_for_ssh:
    description:
      - Also wait until TCP port 22 of every instance accepts connections.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Two A100 workers for the embedding pipeline, wherever there is capacity
  sophia.ops.lambda_instance:
    name: sophia-gpu-embed
    count: 2
    instance_type_names: [gpu_1x_a100_sxm4, gpu_1x_h100_pcie]
    region_names: [us-east-1, us-west-1, us-south-1]
    ssh_key_name: sophia-ops
    file_system_names: [sophia-models]
    tags: {service: vector-store}
    wait_for_ssh: true
  register: gpu

- name: Done with the GPUs
  sophia.ops.lambda_instance:
    name: sophia-gpu-embed
    state: absent
"""

RETURN = r"""
instances:
  description:
    - The pool's instances after the run, in name order.
    - On a failed wait, the instances as last seen.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Instance ID.
      type: str
      sample: 0920582c7ff041399e34823a0be62549
    name:
      description: Instance name.
      type: str
      sample: sophia-gpu-embed-1
    ip:
      description: Public IPv4 address, once the instance has booted.
      type: str
      sample: 198.51.100.2
    hostname:
      description: Hostname that resolves to the IP.
      type: str
      sample: 198-51-100-2
    instance_type:
      description: Instance type name.
      type: str
      sample: gpu_1x_a100_sxm4
    region:
      description: Region name.
      type: str
      sample: us-east-1
    status:
      description: Instance status.
      type: str
      sample: active
"""

import socket


from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import (
    INSTANCE_GONE,
    LAUNCH_MARKER_KEY,
    POOL_TAG,
    LambdaAPIError,
)
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import (
    InvalidInput,
    at_least,
    each,
    given,
    whole_number,
)
from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule
from ansible_collections.sophia.ops.plugins.module_utils.lambda_platform import (
    check_filesystem_name,
    check_in_catalogue,
    check_pool_name,
    check_ssh_key_name,
    check_tags,
    check_user_data,
)
from ansible_collections.sophia.ops.plugins.module_utils.lambda_pool import by_index, plan_pool
from ansible_collections.sophia.ops.plugins.module_utils.waiter import WaitFailed, WaitTimeout

NO_CAPACITY = "instance-operations/launch/insufficient-capacity"
# An instance in one of these will not become ready: the wait ends at once.
FAILED = ("unhealthy",) + INSTANCE_GONE
# What a launch needs, and what each option takes.
LAUNCH_NEEDS = {"region_names": "one or more Lambda Cloud region names",
                "instance_type_names": "one or more Lambda Cloud instance type names",
                "ssh_key_name": "the name of a registered SSH key"}


def summary(instance):
    return {"id": instance.get("id"), "name": instance.get("name"), "ip": instance.get("ip"),
            "hostname": instance.get("hostname"), "status": instance.get("status"),
            "instance_type": (instance.get("instance_type") or {}).get("name"),
            "region": (instance.get("region") or {}).get("name")}


def ssh_answers(ip, timeout):
    try:
        with socket.create_connection((ip, 22), timeout=timeout):
            return True
    except OSError:
        return False


class LambdaInstance(LambdaModule):
    supports_check_mode = True
    resource_key = "instances"
    argument_spec = dict(
        name=dict(type="str", required=True),
        count=dict(type="int", default=1),
        region_names=dict(type="list", elements="str"),
        instance_type_names=dict(type="list", elements="str"),
        ssh_key_name=dict(type="str", no_log=False),
        file_system_names=dict(type="list", elements="str", default=[]),
        image_family=dict(type="str"),
        user_data=dict(type="str", no_log=True),
        tags=dict(type="dict", default={}),
        firewall_ruleset_ids=dict(type="list", elements="str", default=[]),
        launch_interval=dict(type="float", default=12.0),
        state=dict(type="str", choices=["present", "absent", "restarted"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        wait_for_ssh=dict(type="bool", default=False),
    )

    def __init__(self, module):
        super().__init__(module)
        self.name = self.params["name"]

    def validate(self):
        params = self.params
        whole_number("count", params["count"], 0)
        given(params, name=check_pool_name, ssh_key_name=check_ssh_key_name, tags=check_tags,
              user_data=check_user_data, file_system_names=each(check_filesystem_name),
              wait_timeout=at_least(1, "seconds"))
        for key in (POOL_TAG, LAUNCH_MARKER_KEY):
            if key in params["tags"]:
                raise InvalidInput("tags.%s" % key, "this tag is the module's own", "any other tag name")
        if params["launch_interval"] < 0:
            raise InvalidInput("launch_interval", "%s is below 0" % params["launch_interval"], "0 seconds or more")

    def read_pool(self):
        """The pool's live instances, in name order."""
        everything = self.client.list_instances()
        return by_index(self.name, [i for i in everything
                                    if self.client.in_pool(i, self.name) and i.get("status") not in INSTANCE_GONE])

    def present(self):
        pool = self.read_pool()
        plan = plan_pool(self.name, pool, self.params["count"])
        if not (plan.launch or plan.terminate):
            return self.ready(pool)
        # Checked in check mode too (reading is no write), so that the prediction fails as the run would.
        capacity = self.catalogue() if plan.launch else {}
        self.changed = True
        self.differences.add_all({"instances": [i.get("name") for i in pool]},
                                 {"instances": [i.get("name") for i in plan.keep] + plan.launch})
        if self.check_mode:
            return [summary(i) for i in plan.keep] + [{"name": name} for name in plan.launch]
        launched = [self.launch(name, capacity) for name in plan.launch]
        if plan.terminate:
            self.client.terminate([i["id"] for i in plan.terminate])
        return self.ready(plan.keep, launched)

    def catalogue(self):
        """The instance types listing (with the regions that have capacity), once the options a launch needs
        are there and name instance types and regions that exist."""
        missing = [n for n in LAUNCH_NEEDS if not self.params[n]]
        if missing:
            raise InvalidInput(missing[0], "launching instances of %s needs %s" % (self.name, ", ".join(missing)),
                               LAUNCH_NEEDS[missing[0]])
        capacity = self.client.instance_types()
        check_in_catalogue("instance_type_names", self.params["instance_type_names"], capacity, "instance type")
        regions = self.client.regions()
        check_in_catalogue("region_names", self.params["region_names"], [r.get("name") for r in regions], "region")
        return capacity

    def launch(self, name, capacity):
        """Launch one instance, falling back over instance types and regions without ``capacity`` (the
        instance types listing) or that turn out to have none; answers its ID."""
        params = self.params
        body = {"name": name, "ssh_key_names": [params["ssh_key_name"]],
                "file_system_names": params["file_system_names"],
                "tags": [{"key": POOL_TAG, "value": self.name}] + [
                    {"key": k, "value": str(v)} for k, v in sorted(params["tags"].items())]}
        if params["user_data"]:
            body["user_data"] = params["user_data"]
        if params["firewall_ruleset_ids"]:
            body["firewall_rulesets"] = [{"id": i} for i in params["firewall_ruleset_ids"]]
        if params["image_family"]:
            body["image"] = {"family": params["image_family"]}
        tried = []
        for type_name in params["instance_type_names"]:
            available = [r["name"] for r in (capacity.get(type_name) or {}).get("regions_with_capacity_available", [])]
            for region in params["region_names"]:
                if region not in available:
                    tried.append("%s in %s (listed without capacity)" % (type_name, region))
                    continue
                try:
                    return self.client.launch(dict(body, region_name=region, instance_type_name=type_name))
                except LambdaAPIError as exc:
                    if exc.code != NO_CAPACITY:
                        self.fail("Launching %s failed: %s" % (name, exc), api_error=exc.to_dict())
                    tried.append("%s in %s (no capacity)" % (type_name, region))
        self.fail("no capacity to launch %s; tried %s" % (name, "; ".join(tried)))

    def absent(self):
        pool = self.read_pool()
        if pool:
            self.changed = True
            self.differences.add_all({"instances": [i.get("name") for i in pool]}, {"instances": []})
            if not self.check_mode:
                self.client.terminate([i["id"] for i in pool])
        return []

    def restarted(self):
        pool = self.read_pool()
        if not pool:
            self.fail("%s has no instances to restart" % self.name)
        self.changed = True
        if self.check_mode:
            return [summary(i) for i in pool]
        self.client.restart([i["id"] for i in pool])
        return self.ready(pool)

    def ready(self, members, launched_ids=()):
        """The members and the instances just launched, once ready (when asked to wait), in name order."""
        ids = [i["id"] for i in members] + list(launched_ids)
        if self.check_mode:
            return [summary(i) for i in members]
        if not self.params["wait"]:
            return [summary(i) for i in self.current(ids)]
        seen = {"instances": members}

        def probe(remaining):
            seen["instances"] = self.current(ids)
            found = set(i["id"] for i in seen["instances"])
            lost = ["%s (%s) is %s" % (i.get("name"), i["id"], i.get("status")) for i in seen["instances"]
                    if i.get("status") in FAILED] + ["%s is gone" % i for i in ids if i not in found]
            if lost:
                raise WaitFailed("instances of %s will not be ready: %s" % (self.name, "; ".join(lost)))
            if not all(i.get("status") == "active" and i.get("ip") for i in seen["instances"]):
                return None
            if self.params["wait_for_ssh"] and not all(ssh_answers(i["ip"], max(1.0, min(3.0, remaining)))
                                                       for i in seen["instances"]):
                return None
            return seen["instances"]

        try:
            instances = self.client.waiter.until(probe, self.params["wait_timeout"], interval=1.0, max_interval=10.0,
                                                 what="the wait for the instances of %s" % self.name)
        except (WaitFailed, WaitTimeout) as exc:
            self.fail(str(exc), instances=[summary(i) for i in seen["instances"]])
        return [summary(i) for i in instances]

    def current(self, ids):
        """The instances ``ids`` as they are now, in name order (a terminated one is no longer listed)."""
        listed = self.client.list_instances()
        return by_index(self.name, [i for i in listed if i["id"] in ids])


def main():
    LambdaInstance.execute()


if __name__ == "__main__":
    main()
