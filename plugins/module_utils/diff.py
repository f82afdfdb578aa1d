# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module changes, field by field, for ``--diff`` (community.docker's DifferenceTracker is the model).

Every module records its differences here instead of building ``before``/``after`` by hand, and
``ApiModule`` reports them once. A value that may be secret is never shown: ``masked_values`` turns a
mapping (a machine's ``config.env``) into its keys with markers that say only whether a value changed.
"""

from __future__ import annotations

import copy

# A field that does not exist on one side (created, or deleted): left out of that side of the diff.
MISSING = object()

SAME_VALUE = "(value unchanged)"
CHANGED_VALUE = "(value changed)"
NEW_VALUE = "(new value)"
OLD_VALUE = "(value)"


class DifferenceTracker:
    def __init__(self):
        self._fields = {}

    def add(self, name, before=MISSING, after=MISSING):
        """One field as it is (``before``) and as the module makes it (``after``)."""
        # Copied, so that what was recorded cannot change afterwards; never the marker (a copy is not it).
        self._fields[name] = tuple(value if value is MISSING else copy.deepcopy(value) for value in (before, after))

    def add_all(self, before=None, after=None):
        """Every field of two views of one resource; a field on one side only is created or removed."""
        before, after = before or {}, after or {}
        for name in list(before) + [key for key in after if key not in before]:
            self.add(name, before.get(name, MISSING), after.get(name, MISSING))

    def as_diff(self):
        """Ansible's ``diff`` result: ``{"before": {...}, "after": {...}}``."""
        diff = {"before": {}, "after": {}}
        for name, sides in self._fields.items():
            for side, value in zip(("before", "after"), sides):
                if value is not MISSING:
                    diff[side][name] = copy.deepcopy(value)
        return diff


def masked_values(before, after):
    """Two versions of a mapping whose values may be secret, with the keys kept and the values hidden:
    ``before`` shows every key it had, ``after`` every key it will have, marked unchanged, changed or new."""
    before, after = before or {}, after or {}
    shown_before = dict((key, OLD_VALUE) for key in before)
    shown_after = {}
    for key, value in after.items():
        if key not in before:
            shown_after[key] = NEW_VALUE
        else:
            shown_after[key] = SAME_VALUE if before[key] == value else CHANGED_VALUE
    return shown_before, shown_after
