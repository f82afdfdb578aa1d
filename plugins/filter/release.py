# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A process group's release record, read from its machines.

Each deploy writes into the machines' metadata (``sophia_previous_image``) the image the group
ran before, so a deploy, a rollback and a scale all read the same record the same way.
"""

from __future__ import annotations

PREVIOUS_IMAGE_KEY = "sophia_previous_image"


def _config(machine):
    return (machine or {}).get("config") or {}


def fly_release(machines, image=None):
    """The images the machines run (``images``; ``image`` when that is one), the one recorded as run
    before (``previous``) and, when ``image`` is about to roll out, the one to record then (``to_record``)."""
    machines = machines or []
    running = [_config(m).get("image") for m in machines if _config(m).get("image") is not None]
    images = list(dict.fromkeys(running))
    recorded = [(_config(m).get("metadata") or {}).get(PREVIOUS_IMAGE_KEY) for m in machines]
    recorded = [name for name in recorded if name]
    release = {
        "images": images,
        "image": images[0] if len(images) == 1 else "",
        "previous": recorded[0] if recorded else "",
    }
    if image is not None:
        # What runs now and is not the new image is what ran before it; when the group runs the new
        # image already, the record it carries is kept.
        others = [name for name in running if name != image]
        release["to_record"] = (others or recorded or [""])[0]
    return release


class FilterModule:
    def filters(self):
        return {"fly_release": fly_release}
