#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_firewall
short_description: Set the inbound firewall rules of Lambda Cloud instances
version_added: 0.1.0
description:
  - Declares the whole list of inbound firewall rules of the account's instances. Rules not listed are removed,
    as the API replaces the list as a whole.
  - Rules are compared as a set, after normalising (a single address gets C(/32)), so order and spelling do not
    make a change.
  - Lambda recommends few rules; past 20 the module warns.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  rules:
    description:
      - The inbound rules.
      - Each is checked before any request; a bad one fails the task naming it (for example
        C(rules[2].source_network)) and what it accepts.
    type: list
    elements: dict
    required: true
    suboptions:
      protocol:
        description: Protocol.
        type: str
        choices: [tcp, udp, icmp, all]
        required: true
      port_range:
        description:
          - Inclusive C([min, max]) ports within 1-65535; one port is C([22, 22]).
          - Required for V(tcp), V(udp) and V(all); not allowed for V(icmp).
        type: list
        elements: int
      source_network:
        description:
          - IPv4 CIDR block the traffic may come from, V(0.0.0.0/0) for anywhere; a single address means C(/32).
          - Host bits must be clear (V(203.0.113.0/24), not V(203.0.113.7/24)).
        type: str
        required: true
      description:
        description: What the rule is for, at most 128 characters.
        type: str
        default: ""
"""

EXAMPLES = r"""
- name: SSH for the operators and the API port for the Fly.io apps only
  sophia.ops.lambda_firewall:
    rules:
      - {protocol: tcp, port_range: [22, 22], source_network: 203.0.113.0/24, description: operators}
      - {protocol: tcp, port_range: [8000, 8000], source_network: 0.0.0.0/0, description: inference API}
"""

RETURN = r"""
rules:
  description: The rules in force after the run.
  returned: always
  type: list
  elements: dict
  sample: [{"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "operators"}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.input_checks import each
from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule
from ansible_collections.sophia.ops.plugins.module_utils.lambda_platform import PORTED, check_firewall_rule

ADVISED_MAXIMUM = 20


def normalised(rule):
    """One rule as the API keeps it: a CIDR with its mask, ports only where they apply."""
    network = rule["source_network"] if "/" in rule["source_network"] else rule["source_network"] + "/32"
    out = {"protocol": rule["protocol"], "source_network": network, "description": rule.get("description") or ""}
    if rule.get("port_range") and rule["protocol"] in PORTED:
        out["port_range"] = [int(port) for port in rule["port_range"]]
    return out


def key(rule):
    return (rule["protocol"], tuple(rule.get("port_range") or ()), rule["source_network"], rule["description"])


class LambdaFirewall(LambdaModule):
    supports_check_mode = True
    resource_key = "rules"
    argument_spec = dict(rules=dict(type="list", elements="dict", required=True, options=dict(
        protocol=dict(type="str", choices=["tcp", "udp", "icmp", "all"], required=True),
        port_range=dict(type="list", elements="int"),
        source_network=dict(type="str", required=True),
        description=dict(type="str", default=""),
    )))

    def validate(self):
        each(check_firewall_rule)("rules", self.params["rules"])

    def dispatch(self):
        wanted = sorted((normalised(rule) for rule in self.params["rules"]), key=key)
        listed = self.client.firewall_rules()
        current = sorted((normalised(rule) for rule in listed), key=key)
        if len(wanted) > ADVISED_MAXIMUM:
            self.warnings.append("%d firewall rules; Lambda advises at most %d" % (len(wanted), ADVISED_MAXIMUM))
        if [key(r) for r in wanted] == [key(r) for r in current]:
            return current
        self.changed = True
        self.differences.add_all({"rules": current}, {"rules": wanted})
        if self.check_mode:
            return wanted
        return self.client.set_firewall_rules(wanted)


def main():
    LambdaFirewall.execute()


if __name__ == "__main__":
    main()
