# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over machine listings, shared by the roles and playbooks."""

from __future__ import annotations

# The same rule the rollout engine counts its healthy floor with.
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import is_healthy


def healthy_machines(machines):
    """Started machines whose every check is passing."""
    return [machine for machine in machines or [] if is_healthy(machine)]


class FilterModule:
    def filters(self):
        return {"healthy_machines": healthy_machines}
