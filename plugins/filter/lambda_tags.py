# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud's tag rules for plays, by the same code the lambda_instance module checks its tags with."""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.lambda_platform import launch_tags, tag_problems


def lambda_tags(tags):
    """The inventory's tags as a launch sends them: keys as Lambda takes them, values as strings."""
    return launch_tags(tags)


def lambda_tag_problems(tags):
    """One message per tag Lambda, or the collection, would refuse."""
    return tag_problems(tags)


class FilterModule:
    def filters(self):
        return {"lambda_tags": lambda_tags, "lambda_tag_problems": lambda_tag_problems}
