# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a lambda_instance pool grows and shrinks, as a pure function of its members.

Membership is the pool tag, never the name, so a change of ``count`` only adds or
removes members: 2 -> 1 terminates one, 1 -> 3 launches two. New members are
named ``<pool>-N`` with the lowest free N; a bare ``<pool>`` (a single instance of
an older release) is a member like any other.
"""

from __future__ import annotations

import collections
import re

from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import LAUNCH_MARKER_KEY

PoolPlan = collections.namedtuple("PoolPlan", ["keep", "terminate", "launch"])


def member_index(pool, instance):
    """The N of ``<pool>-N``; 0 for a bare ``<pool>``; None for any other name."""
    name = instance.get("name") or ""
    if name == pool:
        return 0
    match = re.match(r"^%s-([1-9][0-9]*)$" % re.escape(pool), name)
    return int(match.group(1)) if match else None


def launched_at(instance):
    """Milliseconds since the epoch of the launch, from the launch tag; 0 when not known."""
    for tag in instance.get("tags") or []:
        if tag.get("key") == LAUNCH_MARKER_KEY:
            stamp = str(tag.get("value") or "").split("-", 1)[0]
            return int(stamp) if stamp.isdigit() else 0
    return 0


def by_index(pool, instances):
    """Members in name order: ``<pool>``, ``<pool>-1``, ``<pool>-2``, ... then any other name."""
    return sorted(instances, key=lambda i: (member_index(pool, i) is None, member_index(pool, i) or 0,
                                            i.get("name") or "", i.get("id") or ""))


def plan_pool(pool, members, count):
    """What makes ``members`` (the pool's live instances) a pool of ``count``.

    Answers a ``PoolPlan``: the members that stay (in name order), those to terminate, and
    names for the instances to launch. A shrinking pool gives up first the members that do
    not serve (not ``active``), then the newest.
    """
    if count < 0:
        raise ValueError("a pool cannot have %d members" % count)
    members = list(members)
    surplus = max(0, len(members) - count)
    first_to_go = sorted(members, key=lambda i: (i.get("status") == "active", -launched_at(i),
                                                 -(member_index(pool, i) or 0), i.get("id") or ""))
    terminate = first_to_go[:surplus]
    keep = by_index(pool, first_to_go[surplus:])
    taken = set(member_index(pool, i) for i in members)
    names = []
    index = 1
    while len(keep) + len(names) < count:
        if index not in taken:
            names.append("%s-%d" % (pool, index))
        index += 1
    return PoolPlan(keep=keep, terminate=terminate, launch=names)
