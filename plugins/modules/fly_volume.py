#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_volume
short_description: Create, grow or delete a Fly.io volume
version_added: 0.1.0
description:
  - Makes sure a persistent volume exists in a region with at least the wanted size and the wanted snapshot
    settings, or that it is gone.
  - Volumes only grow. Asking for a smaller size fails instead of losing data.
  - Deleting a volume destroys its data, so it needs O(confirm_delete=true), and a volume that a machine
    still mounts is never deleted.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  app:
    description:
      - Name of the app the volume belongs to (a name M(sophia.ops.fly_app) accepts).
    type: str
    required: true
  name:
    description:
      - Volume name, 1 to 30 lowercase letters, digits and underscores. With O(region), it identifies the volume.
      - Several volumes may share a name and region (one per machine is common). With O(state=present) the
        module then works on one of them, chosen by this rule, an unattached volume before an attached one,
        and among those the oldest (then the lowest ID). With O(state=absent) it fails; pass O(volume_id).
      - Without O(region), a name found in more than one region also needs O(volume_id).
      - Volumes being destroyed (state C(pending_destroy) or C(destroyed)) are ignored.
    type: str
  volume_id:
    description:
      - ID of one exact volume (C(vol_...)). Takes precedence over O(name).
      - With O(state=present) the volume must exist; an ID never creates one.
    type: str
  region:
    description:
      - Region the volume lives in. Required to create one; a volume never moves.
      - One of Fly.io's public regions (for example V(iad), V(ord), V(ams)); any other value fails before any
        request, listing them.
    type: str
  size_gb:
    description:
      - Wanted size in GB, 1 to 500. A new volume gets this size (1 when not set); an existing smaller one is
        extended.
    type: int
  encrypted:
    description:
      - Whether a new volume is encrypted; new volumes are encrypted when not set.
      - Cannot change later; when set and different from an existing volume, a warning says so.
    type: bool
  snapshot_retention:
    description:
      - Days to keep snapshots (1 to 60). New volumes get the platform's default (5) when not set.
    type: int
  auto_backup_enabled:
    description:
      - Whether Fly.io takes daily snapshots.
    type: bool
  snapshot_id:
    description:
      - Create the volume from this snapshot (C(vs_...)) of one of the app's volumes, for example to restore
        it or to try a restore out (see M(sophia.ops.fly_volume_snapshot) and M(sophia.ops.fly_volume_info)).
      - Only used when the volume is created; an existing volume is left as it is.
      - Without O(size_gb), the new volume gets the size the platform gives a restore (that of the volume the
        snapshot was taken of); a size below that is refused by the platform.
    type: str
  state:
    description:
      - V(present) creates or updates the volume; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  confirm_delete:
    description:
      - Must be V(true) for O(state=absent) to delete a volume and the data on it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Weaviate's data volume in the primary region
  sophia.ops.fly_volume:
    app: sophia-weaviate
    name: weaviate_data
    region: iad
    size_gb: 20
    snapshot_retention: 14

- name: A new volume restored from a snapshot, to try the restore out
  sophia.ops.fly_volume:
    app: sophia-weaviate
    name: restore_drill
    region: iad
    snapshot_id: vs_4LNvXLLK0P6tk6KgqoexaBw

- name: Delete a scratch volume (its data goes with it)
  sophia.ops.fly_volume:
    app: sophia-scratch
    volume_id: vol_2n0l3vl60qpv635d
    state: absent
    confirm_delete: true
"""

RETURN = r"""
fly_volume:
  description: The volume as the Machines API describes it; empty once deleted.
  returned: always
  type: dict
  contains:
    id:
      description: Volume ID.
      type: str
      sample: vol_2n0l3vl60qpv635d
    name:
      description: Volume name.
      type: str
      sample: weaviate_data
    region:
      description: Region of the volume.
      type: str
      sample: iad
    size_gb:
      description: Size in GB.
      type: int
      sample: 20
    attached_machine_id:
      description: The machine that mounts it, when one does.
      type: str
      sample: 1857156b526dd8
    snapshot_retention:
      description: Days snapshots are kept.
      type: int
      sample: 14
    auto_backup_enabled:
      description: Whether daily snapshots are taken.
      type: bool
      sample: true
    bytes_used:
      description: Bytes in use on the volume (for a restored one, the data it got from its snapshot).
      type: int
      sample: 36007729
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import VOLUME_GONE
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import (
    check_app_name,
    check_region,
    check_snapshot_retention,
    check_volume_name,
    check_volume_size,
)
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import InvalidInput, given

SETTINGS = ("snapshot_retention", "auto_backup_enabled")
# The API still lists a deleted volume for a while, in one of these states.


def volume_summary(volume):
    keys = ("id", "name", "region", "size_gb", "encrypted") + SETTINGS
    return dict((key, volume.get(key)) for key in keys if volume and key in volume)


class FlyVolume(FlyModule):
    supports_check_mode = True
    resource_key = "fly_volume"
    argument_spec = dict(
        app=dict(type="str", required=True),
        name=dict(type="str"),
        volume_id=dict(type="str"),
        region=dict(type="str"),
        size_gb=dict(type="int"),
        encrypted=dict(type="bool"),
        snapshot_retention=dict(type="int"),
        auto_backup_enabled=dict(type="bool"),
        snapshot_id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        confirm_delete=dict(type="bool", default=False),
    )
    module_options = dict(
        required_one_of=[("name", "volume_id")],
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]

    def validate(self):
        given(self.params, app=check_app_name, name=check_volume_name, region=check_region)
        if self.params["state"] == "present":
            given(self.params, size_gb=check_volume_size, snapshot_retention=check_snapshot_retention)

    def by_id(self):
        volume_id = self.params["volume_id"]
        volume = self.client.get_volume(self.app, volume_id)
        return volume if volume and volume.get("state") not in VOLUME_GONE else None

    def list_volumes(self):
        return self.app_listing(self.client.list_volumes, self.app)

    def by_name(self, volumes):
        params = self.params
        matches = [v for v in volumes if v.get("name") == params["name"] and v.get("state") not in VOLUME_GONE
                   and params["region"] in (None, v.get("region"))]
        regions = set(v.get("region") for v in matches)
        if len(regions) > 1 or (len(matches) > 1 and params["state"] == "absent"):
            self.fail("%d volumes named %s match%s; pass volume_id to pick one: %s"
                      % (len(matches), params["name"], " in region %s" % params["region"] if params["region"] else "",
                         ", ".join(v["id"] for v in matches)))
        # The documented rule for several in one region: unattached first, then the oldest.
        matches.sort(key=lambda v: (bool(v.get("attached_machine_id")), v.get("created_at") or "", v["id"]))
        return matches[0] if matches else None

    def present(self):
        if self.params["volume_id"]:
            volume = self.by_id()
            if not volume:
                self.fail("volume %s does not exist in app %s; to create a volume, give name and region instead "
                          "of volume_id" % (self.params["volume_id"], self.app))
            return self.update(volume)
        volumes = self.list_volumes()
        volume = self.by_name(volumes)
        if not volume:
            return self.create([v["id"] for v in volumes])
        return self.update(volume)

    def update(self, volume):
        params = self.params
        if params["region"] and params["region"] != volume.get("region"):
            self.fail("volume %s is in region %s; volumes cannot move to %s"
                      % (volume["id"], volume.get("region"), params["region"]))
        if params["encrypted"] is not None and params["encrypted"] != volume.get("encrypted", True):
            self.warnings.append("encryption of volume %s cannot change after creation" % volume["id"])
        size = params["size_gb"]
        if size is not None and size < volume["size_gb"]:
            self.fail("volume %s is %d GB; volumes never shrink, so %d GB cannot be applied"
                      % (volume["id"], volume["size_gb"], size))
        grow = size is not None and size > volume["size_gb"]
        settings = dict((key, params[key]) for key in SETTINGS
                        if params[key] is not None and params[key] != volume.get(key))
        if not grow and not settings:
            return volume
        after = dict(volume, **settings)
        if grow:
            after["size_gb"] = size
        self.changed = True
        self.differences.add_all(volume_summary(volume), volume_summary(after))
        if self.check_mode:
            return after
        if grow:
            answer = self.client.extend_volume(self.app, volume["id"], size)
            after = answer.get("volume") or after
            if answer.get("needs_restart"):
                self.warnings.append("volume %s grew; its machine needs a restart to see the space" % volume["id"])
        if settings:
            after = self.client.update_volume(self.app, volume["id"], settings)
        return after

    def create(self, known_ids):
        """Create the volume; ``known_ids`` (the app's volumes, just listed) tell the client, after a lost
        answer, which volume is the new one."""
        params = self.params
        if not params["region"]:
            raise InvalidInput("region", "creating volume %s needs a region" % params["name"],
                               "one of Fly.io's public regions")
        body = {"name": params["name"], "region": params["region"], "encrypted": params["encrypted"] is not False}
        if params["snapshot_id"]:
            body["snapshot_id"] = params["snapshot_id"]
        if params["size_gb"] or not params["snapshot_id"]:
            # A restore without a size is as large as the volume its snapshot was taken of.
            body["size_gb"] = params["size_gb"] or 1
        body.update((key, params[key]) for key in SETTINGS if params[key] is not None)
        self.changed = True
        self.differences.add_all({}, body)
        if self.check_mode:
            return body
        return self.client.create_volume(self.app, body, known_ids=known_ids)

    def absent(self):
        volume = self.by_id() if self.params["volume_id"] else self.by_name(self.list_volumes())
        if not volume:
            return {}
        if volume.get("attached_machine_id"):
            self.fail("volume %s is mounted by machine %s; destroy the machine first"
                      % (volume["id"], volume["attached_machine_id"]))
        if not self.params["confirm_delete"]:
            self.fail("deleting volume %s destroys its data; set confirm_delete: true to do it" % volume["id"])
        self.changed = True
        self.differences.add_all(volume_summary(volume), {})
        if not self.check_mode:
            self.client.delete_volume(self.app, volume["id"])
        return {}


def main():
    FlyVolume.execute()


if __name__ == "__main__":
    main()
