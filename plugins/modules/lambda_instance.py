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
  - Makes sure a named instance, or a pool of O(count) identical instances, runs on Lambda Cloud; or that none
    does.
  - Lambda has no unique names and no idempotency key. The module marks its instances with the tag
    C(sophia-ops:pool=<name>) and finds them by it; every launch also carries a one-off tag that is looked for
    before a launch is retried, so a launch whose answer was lost never makes a second instance.
  - When a region or instance type has no capacity, the next one in O(region_names) and O(instance_type_names)
    is tried, in order (every region of the first type, then of the next type).
  - Waits until the instances are C(active) with a public IP and, with O(wait_for_ssh), until SSH answers.
    An instance that turns C(unhealthy) fails the task at once.
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
      - Name of the instance, or of the pool. Pool members are named C(<name>-1), C(<name>-2), ...
    type: str
    required: true
  count:
    description:
      - How many instances the pool runs. Surplus instances are terminated, highest number first.
    type: int
    default: 1
  region_names:
    description:
      - Regions to launch in, in order of preference.
    type: list
    elements: str
  instance_type_names:
    description:
      - Instance types to launch, in order of preference (for example V(gpu_1x_a100_sxm4)).
    type: list
    elements: str
  ssh_key_name:
    description:
      - The one SSH key (by name) that may log in; see M(sophia.ops.lambda_ssh_key).
    type: str
  file_system_names:
    description:
      - Filesystems to mount; they must be in the region the instance lands in.
    type: list
    elements: str
    default: []
  image_family:
    description:
      - Image family to boot, for example V(lambda-stack-24-04). The platform's default when not set.
    type: str
  user_data:
    description:
      - Cloud-init user data run at first boot.
    type: str
  tags:
    description:
      - More tags, name to value.
    type: dict
    default: {}
  firewall_ruleset_ids:
    description:
      - Firewall rulesets to associate with new instances.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) launches what is missing; V(absent) terminates the pool; V(restarted) restarts every
        instance of the pool.
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
      - Seconds to wait for that.
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
  description: The pool's instances after the run.
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
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import GONE, POOL_TAG, LambdaAPIError
from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule, lambda_argument_spec

NO_CAPACITY = "instance-operations/launch/insufficient-capacity"
POLL_SECONDS = 2.0  # one request a second is the account-wide limit


def summary(instance):
    return {"id": instance.get("id"), "name": instance.get("name"), "ip": instance.get("ip"),
            "hostname": instance.get("hostname"), "status": instance.get("status"),
            "instance_type": (instance.get("instance_type") or {}).get("name"),
            "region": (instance.get("region") or {}).get("name")}


class LambdaInstance(LambdaModule):
    resource_key = "instances"

    def __init__(self, module):
        super().__init__(module)
        self.name = module.params["name"]
        self.pool = self.read_pool()

    def read_pool(self):
        """The pool's live instances, by name."""
        everything = self.call("Listing instances", self.client.list_instances)
        return sorted((i for i in everything if self.client.in_pool(i, self.name) and i.get("status") not in GONE),
                      key=lambda i: i.get("name") or "")

    def member_names(self):
        count = self.module.params["count"]
        return [self.name] if count == 1 else ["%s-%d" % (self.name, n) for n in range(1, count + 1)]

    def present(self):
        wanted = self.member_names()
        have = dict((i.get("name"), i) for i in self.pool)
        missing = [n for n in wanted if n not in have]
        surplus = [i for i in reversed(self.pool) if i.get("name") not in wanted]
        if missing or surplus:
            self.changed = True
            self.set_diff({"instances": sorted(have)}, {"instances": wanted})
            if self.check_mode:
                self.exit([summary(i) for i in self.pool if i not in surplus] + [{"name": n} for n in missing])
            if missing:
                self.require("region_names", "instance_type_names", "ssh_key_name")
            for name in missing:
                self.launch(name)
            if surplus:
                self.call("Terminating surplus instances", self.client.terminate, [i["id"] for i in surplus])
        self.finish()

    def require(self, *names):
        absent = [n for n in names if not self.module.params[n]]
        if absent:
            self.module.fail_json(msg="launching %s needs %s" % (self.name, ", ".join(absent)))

    def launch(self, name):
        """Launch one instance, falling back over instance types and regions without capacity."""
        params = self.module.params
        capacity = self.call("Reading instance types", self.client.instance_types)
        body = {"name": name, "ssh_key_names": [params["ssh_key_name"]],
                "file_system_names": params["file_system_names"],
                "tags": [{"key": POOL_TAG, "value": self.name}] + [
                    {"key": k, "value": str(v)} for k, v in sorted(params["tags"].items())]}
        for key, option in (("user_data", "user_data"), ("firewall_rulesets", "firewall_ruleset_ids")):
            if params[option]:
                body[key] = params[option] if key == "user_data" else [{"id": i} for i in params[option]]
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
                        self.fail_api(exc, "Launching %s" % name)
                    tried.append("%s in %s (no capacity)" % (type_name, region))
        self.module.fail_json(msg="no capacity to launch %s; tried %s" % (name, "; ".join(tried)))

    def absent(self):
        if self.pool:
            self.changed = True
            self.set_diff({"instances": [i.get("name") for i in self.pool]}, {"instances": []})
            if not self.check_mode:
                self.call("Terminating %s" % self.name, self.client.terminate, [i["id"] for i in self.pool])
        self.exit([])

    def restarted(self):
        if not self.pool:
            self.module.fail_json(msg="%s has no instances to restart" % self.name)
        self.changed = True
        if not self.check_mode:
            self.call("Restarting %s" % self.name, self.client.restart, [i["id"] for i in self.pool])
        self.finish()

    def finish(self):
        """Wait for the pool (when asked) and return it as it is now."""
        params = self.module.params
        deadline = time.monotonic() + params["wait_timeout"]
        while True:
            pool = self.read_pool()
            if not params["wait"] or self.check_mode:
                self.exit([summary(i) for i in pool])
            unhealthy = [i.get("name") for i in pool if i.get("status") == "unhealthy"]
            if unhealthy:
                self.module.fail_json(msg="instances turned unhealthy: %s" % ", ".join(unhealthy),
                                      instances=[summary(i) for i in pool])
            ready = all(i.get("status") == "active" and i.get("ip") for i in pool)
            if ready and (not params["wait_for_ssh"] or all(self.ssh_answers(i["ip"]) for i in pool)):
                self.exit([summary(i) for i in pool])
            if time.monotonic() >= deadline:
                self.module.fail_json(msg="instances of %s not ready after %ss" % (self.name, params["wait_timeout"]),
                                      instances=[summary(i) for i in pool])
            time.sleep(POLL_SECONDS)

    @staticmethod
    def ssh_answers(ip):
        try:
            with socket.create_connection((ip, 22), timeout=3):
                return True
        except OSError:
            return False


def main():
    argument_spec = lambda_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        count=dict(type="int", default=1),
        region_names=dict(type="list", elements="str"),
        instance_type_names=dict(type="list", elements="str"),
        ssh_key_name=dict(type="str", no_log=False),
        file_system_names=dict(type="list", elements="str", default=[]),
        image_family=dict(type="str"),
        user_data=dict(type="str"),
        tags=dict(type="dict", default={}),
        firewall_ruleset_ids=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present", "absent", "restarted"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        wait_for_ssh=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    instances = LambdaInstance(module)
    state = module.params["state"]
    if state == "present":
        instances.present()
    if state == "restarted":
        instances.restarted()
    instances.absent()


if __name__ == "__main__":
    main()
