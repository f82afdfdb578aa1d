# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the fleet's listings (Fly machines, Lambda instances), shared by the roles and playbooks."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.fleet_hostvars import lambda_hosts as _lambda_hosts
# The same rule the rollout engine counts its healthy floor with.
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import is_healthy


def healthy_machines(machines):
    """Started machines whose every check is passing."""
    return [machine for machine in machines or [] if is_healthy(machine)]


def lambda_hosts(instances):
    """The hosts the fleet inventory makes of a Lambda listing: ``{name, vars}`` each, credentials left out."""
    return [{"name": name, "vars": hostvars} for name, hostvars in _lambda_hosts(instances)]


class FilterModule:
    def filters(self):
        return {"healthy_machines": healthy_machines, "lambda_hosts": lambda_hosts}
