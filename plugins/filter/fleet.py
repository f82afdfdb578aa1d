# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the fleet's listings (Fly machines, Lambda instances), shared by the roles and playbooks."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.fleet_hostvars import lambda_hostvars as _lambda_hostvars
# The same rule the rollout engine counts its healthy floor with.
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import is_healthy


def healthy_machines(machines):
    """Started machines whose every check is passing."""
    return [machine for machine in machines or [] if is_healthy(machine)]


def lambda_hostvars(instance):
    """The host variables the fleet inventory gives a Lambda instance (credentials left out)."""
    return _lambda_hostvars(instance or {})


class FilterModule:
    def filters(self):
        return {"healthy_machines": healthy_machines, "lambda_hostvars": lambda_hostvars}
