# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A warning from a play without failing it: ``msg: "{{ text | sophia.ops.warn }}"`` on a debug task.

Ansible has no warning module; a warning raised while a task's arguments are templated becomes
the task's own ``[WARNING]`` (and its result's ``warnings``), the way a module's warnings do.
"""

from __future__ import annotations

from ansible.utils.display import Display

display = Display()


def warn(message):
    """Show ``message`` as a warning of the task being templated; return it unchanged."""
    if message:
        display.warning(str(message))
    return message


class FilterModule:
    def filters(self):
        return {"warn": warn}
