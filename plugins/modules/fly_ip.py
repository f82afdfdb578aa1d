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
  types:
    description:
      - Several kinds of address in one run, each as O(type) would be.
      - With O(state=present), every kind listed gets an address unless it has one; with O(state=absent),
        every address of the kinds listed (and O(region)) is released.
    type: list
    elements: str
    choices: [v4, v6, shared_v4, private_v6]
  exclusive:
    description:
      - With O(types) and O(state=present), the app keeps addresses of the listed kinds only; the others, in
        every region, are released after the listed ones are assigned, so the app is never left without one.
    type: bool
    default: false
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
- name: Public addresses of the Agent UI, and no other
  sophia.ops.fly_ip:
    app: sophia-agent-ui
    types: [shared_v4, v6]
    exclusive: true

- name: Release a dedicated IPv4 address that is no longer needed
  sophia.ops.fly_ip:
    app: sophia-agent-ui
    address: 137.66.10.20
    state: absent
"""

RETURN = r"""
fly_ip:
  description: The app's addresses of the asked kinds after the run, and what the run changed.
  returned: always
  type: dict
  contains:
    addresses:
      description: The matching IP assignments, each with C(ip), C(type), C(region), C(shared), C(created_at).
      type: list
      elements: dict
      sample: [{"ip": "66.241.124.10", "type": "shared_v4", "region": "global", "shared": true}]
    assigned:
      description: The kinds this run assigned an address of (would assign, in check mode), each with C(type) and C(region).
      type: list
      elements: dict
      sample: [{"type": "v6"}]
    released:
      description: The addresses this run released (would release, in check mode), each with C(ip) and C(type).
      type: list
      elements: dict
      sample: [{"ip": "2a09:8280:1::1", "type": "v6"}]
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


KINDS = ["v4", "v6", "shared_v4", "private_v6"]


class FlyIP(FlyModule):
    supports_check_mode = True
    resource_key = "fly_ip"
    argument_spec = dict(
        app=dict(type="str", required=True),
        type=dict(type="str", choices=KINDS),
        types=dict(type="list", elements="str", choices=KINDS),
        exclusive=dict(type="bool", default=False),
        region=dict(type="str"),
        address=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_options = dict(
        required_if=[("state", "present", ("type", "types"), True), ("exclusive", True, ("types",))],
        required_one_of=[("type", "types", "address")],
        mutually_exclusive=[("type", "types"), ("address", "types")],
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]
        # One kind (type) or several (types): the same work, once per kind.
        self.kinds = self.params["types"] if self.params["types"] is not None else [self.params["type"]]

    def validate(self):
        # The listing says "global" for an address that is not regional.
        given(self.params, app=check_app_name, address=check_ip_address,
              region=lambda option, region: check_region(option, region, also=("global",)))
        if self.params["exclusive"] and self.params["state"] == "absent":
            self.fail("exclusive applies to state=present only; state=absent releases the kinds in types")

    def assignments(self):
        listed = self.app_listing(self.client.list_ips, self.app)
        return [dict(a, type=ip_type(a)) for a in listed]

    def matching(self, assignments, kind=None):
        params = self.params
        if params["address"]:
            return [a for a in assignments if a["ip"] == params["address"]]
        kinds = [kind] if kind else self.kinds
        return [a for a in assignments if a["type"] in kinds and params["region"] in (None, a.get("region"))]

    def present(self):
        params = self.params
        assignments = self.assignments()
        if params["address"]:
            found = self.matching(assignments)
            if not found:
                self.fail("%s is not an address of app %s; leave address out to have one assigned"
                          % (params["address"], self.app))
            return {"addresses": found, "assigned": [], "released": []}
        wanted = []
        for kind in self.kinds:
            if not self.matching(assignments, kind):
                body = {"type": kind}
                if params["region"]:
                    body["region"] = params["region"]
                wanted.append(body)
        unwanted = [a for a in assignments if a["type"] not in self.kinds] if params["exclusive"] else []
        found = self.matching(assignments)
        if not wanted and not unwanted:
            return {"addresses": found, "assigned": [], "released": []}
        self.changed = True
        self.track(assignments, wanted, unwanted)
        if self.check_mode:
            return {"addresses": found + wanted, "assigned": wanted, "released": self.shown(unwanted)}
        known = [a["ip"] for a in assignments]
        for body in wanted:
            # The addresses known so far tell the client, after a lost answer, which one is new.
            assigned = self.client.assign_ip(self.app, body, known_ips=known)
            known.append(assigned["ip"])
            found.append(dict(assigned, type=ip_type(assigned)))
        # Released only once the wanted ones are there: the app is never without an address.
        for assignment in unwanted:
            self.client.release_ip(self.app, assignment["ip"])
        return {"addresses": found, "assigned": wanted, "released": self.shown(unwanted)}

    def absent(self):
        assignments = self.assignments()
        found = self.matching(assignments)
        if found:
            self.changed = True
            self.track(assignments, [], found)
            if not self.check_mode:
                for assignment in found:
                    self.client.release_ip(self.app, assignment["ip"])
        return {"addresses": [], "assigned": [], "released": self.shown(found)}

    def track(self, assignments, wanted, unwanted):
        """The diff: one address kind asked for shows its addresses; several show the app's kinds."""
        if self.params["types"] is None:
            self.differences.add_all({"addresses": [a["ip"] for a in unwanted]},
                                     {"addresses": [dict(body) for body in wanted]})
            return
        gone = {a["ip"] for a in unwanted}
        before = sorted({a["type"] for a in assignments})
        after = sorted({a["type"] for a in assignments if a["ip"] not in gone} | {body["type"] for body in wanted})
        self.differences.add("types", before, after)

    @staticmethod
    def shown(assignments):
        return [{"ip": a["ip"], "type": a["type"]} for a in assignments]


def main():
    FlyIP.execute()


if __name__ == "__main__":
    main()
