#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_ip
short_description: Assign or release the IP addresses of a Fly.io app
version_added: 0.1.0
description:
  - Makes sure an app has an IP address of a given type (and region), or releases addresses.
  - Public addresses are what custom domains point at (see M(sophia.ops.fly_certificate)).
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  app:
    description:
      - Name of the app (a name M(sophia.ops.fly_app) accepts; any other fails before any request).
    type: str
    required: true
  type:
    description:
      - Kind of address. V(shared_v4) is free and enough for HTTP(S) services; V(v4) is a dedicated IPv4
        address; V(private_v6) is a Flycast address reachable only inside the organization's network.
      - With O(state=absent) and no O(address), every address of this type (and O(region)) is released.
    type: str
    choices: [v4, v6, shared_v4, private_v6]
  region:
    description:
      - Region of a regional address. A new address without it is global.
      - One of Fly.io's public regions, or V(global).
      - With O(state=present), an existing address of O(type) in this region (in any region when not set)
        counts as present, so nothing is assigned.
    type: str
  address:
    description:
      - One exact address. With O(state=absent) it is released; with O(state=present) it must already be
        assigned to the app (Fly.io picks new addresses, so one cannot be asked for).
      - An IPv4 or IPv6 address; anything else fails before any request.
    type: str
  state:
    description:
      - V(present) assigns an address of O(type) unless the app has one; V(absent) releases addresses.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Public addresses of the Agent UI
  sophia.ops.fly_ip:
    app: sophia-agent-ui
    type: "{{ item }}"
  loop: [shared_v4, v6]

- name: Release a dedicated IPv4 address that is no longer needed
  sophia.ops.fly_ip:
    app: sophia-agent-ui
    address: 137.66.10.20
    state: absent
"""

RETURN = r"""
fly_ip:
  description: The app's addresses of the asked type after the run.
  returned: always
  type: dict
  contains:
    addresses:
      description: The matching IP assignments, each with C(ip), C(type), C(region), C(shared), C(created_at).
      type: list
      elements: dict
      sample: [{"ip": "66.241.124.10", "type": "shared_v4", "region": "global", "shared": true}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name, check_ip_address, check_region
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


def ip_type(assignment):
    """The listing does not say the type; the address does."""
    address = assignment.get("ip") or ""
    if assignment.get("shared"):
        return "shared_v4"
    if "." in address:
        return "v4"
    if address.lower().startswith("fdaa:"):
        return "private_v6"
    return "v6"


class FlyIP(FlyModule):
    supports_check_mode = True
    resource_key = "fly_ip"
    argument_spec = dict(
        app=dict(type="str", required=True),
        type=dict(type="str", choices=["v4", "v6", "shared_v4", "private_v6"]),
        region=dict(type="str"),
        address=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_options = dict(
        required_if=[("state", "present", ("type",))],
        required_one_of=[("type", "address")],
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]

    def validate(self):
        # The listing says "global" for an address that is not regional.
        given(self.params, app=check_app_name, address=check_ip_address,
              region=lambda option, region: check_region(option, region, also=("global",)))

    def assignments(self):
        listed = self.app_listing(self.client.list_ips, self.app)
        return [dict(a, type=ip_type(a)) for a in listed]

    def matching(self, assignments):
        params = self.params
        if params["address"]:
            return [a for a in assignments if a["ip"] == params["address"]]
        return [a for a in assignments if a["type"] == params["type"] and params["region"] in (None, a.get("region"))]

    def present(self):
        params = self.params
        assignments = self.assignments()
        found = self.matching(assignments)
        if found:
            return {"addresses": found}
        if params["address"]:
            self.fail("%s is not an address of app %s; leave address out to have one assigned"
                      % (params["address"], self.app))
        body = {"type": params["type"]}
        if params["region"]:
            body["region"] = params["region"]
        self.changed = True
        self.differences.add_all({"addresses": []}, {"addresses": [body]})
        if self.check_mode:
            return {"addresses": [body]}
        # The addresses just listed tell the client, after a lost answer, which one is new.
        assigned = self.client.assign_ip(self.app, body, known_ips=[a["ip"] for a in assignments])
        return {"addresses": [dict(assigned, type=ip_type(assigned))]}

    def absent(self):
        found = self.matching(self.assignments())
        if found:
            self.changed = True
            self.differences.add_all({"addresses": [a["ip"] for a in found]}, {"addresses": []})
            if not self.check_mode:
                for assignment in found:
                    self.client.release_ip(self.app, assignment["ip"])
        return {"addresses": []}


def main():
    FlyIP.execute()


if __name__ == "__main__":
    main()
