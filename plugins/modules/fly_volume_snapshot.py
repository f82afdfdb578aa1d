#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_volume_snapshot
short_description: Take on-demand snapshots of Fly.io volumes
version_added: 0.1.0
description:
  - Takes a snapshot of one volume (O(volume_id)), of every volume with a name (O(name); several machines'
    volumes commonly share one), or of every volume of the app, and returns the new snapshots.
  - Meant for the moment before a risky change (a deploy of a new image, a rollback, a teardown), beside the
    daily snapshots Fly.io takes of volumes with C(auto_backup_enabled) (see M(sophia.ops.fly_volume) and the
    O(sophia.ops.fly_machine#module:volume) option).
  - Every run that finds a volume takes a new snapshot, so the task always reports C(changed) then. Volumes
    being destroyed are left out; matching no volume changes nothing.
  - A snapshot request whose answer is lost is not sent again before the volume's snapshots have been listed;
    a snapshot that appeared meanwhile is taken as the one asked for, so a lost answer never makes two.
  - The API answers a snapshot request without a body, so the new snapshot is found in the volume's listing
    as the one that was not there before (the newest of them, should a scheduled snapshot land at the same
    moment).
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports C(changed) for every matching volume and returns their snapshots without IDs; nothing is written.
      - An app that does not exist yet has no volumes to snapshot.
  diff_mode:
    support: full
  idempotent:
    support: none
    details:
      - Each run takes new snapshots; that is its purpose.
options:
  app:
    description:
      - Name of the app the volumes belong to (a name M(sophia.ops.fly_app) accepts).
    type: str
    required: true
  volume_id:
    description:
      - ID of the one volume to snapshot (C(vol_...)). It must exist.
    type: str
  name:
    description:
      - Snapshot every volume with this name, in every region. A volume name (1 to 30 lowercase letters, digits
        and underscores).
      - Without O(name) and O(volume_id), every volume of the app is snapshotted.
    type: str
  wait:
    description:
      - Wait until each new snapshot is listed, and return it with its ID.
      - When V(false), a snapshot that the listing does not show right after the request is returned with
        C(id) empty and C(status=requested).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, per volume, for its new snapshot to be listed (1 or more).
    type: int
    default: 300
notes:
  - Snapshots are kept for the volume's C(snapshot_retention) days.
seealso:
  - module: sophia.ops.fly_volume
  - module: sophia.ops.fly_volume_info
"""

EXAMPLES = r"""
- name: Snapshot Weaviate's data volumes before the new image rolls out
  sophia.ops.fly_volume_snapshot:
    app: sophia-weaviate
    name: weaviate_data
  register: before_deploy

- name: Snapshot one volume and go on without waiting for the listing
  sophia.ops.fly_volume_snapshot:
    app: sophia-mcp-memory
    volume_id: vol_2n0l3vl60qpv635d
    wait: false

- name: Snapshot every volume of the app before it is torn down
  sophia.ops.fly_volume_snapshot:
    app: sophia-agent-ui
"""

RETURN = r"""
snapshots:
  description: The snapshots taken, one per matching volume (in check mode, the ones that would be).
  returned: always
  type: list
  elements: dict
  contains:
    volume_id:
      description: ID of the volume the snapshot is of.
      type: str
      sample: vol_2n0l3vl60qpv635d
    volume_name:
      description: Name of that volume.
      type: str
      sample: weaviate_data
    region:
      description: Region of that volume.
      type: str
      sample: iad
    id:
      description: Snapshot ID; empty in check mode, and when O(wait=false) and it was not listed yet.
      type: str
      sample: vs_4LNvXLLK0P6tk6KgqoexaBw
    created_at:
      description: When the snapshot was taken.
      type: str
      sample: "2026-03-02T20:59:35Z"
    status:
      description: The snapshot's status as the API lists it (C(requested) when not listed yet).
      type: str
      sample: created
    size:
      description: Bytes the snapshot holds.
      type: int
      sample: 36007729
    volume_size:
      description: Size in bytes of the volume when the snapshot was taken.
      type: int
      sample: 21474836480
    retention_days:
      description: Days the snapshot is kept.
      type: int
      sample: 14
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import VOLUME_GONE
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name, check_volume_name
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import at_least, given

# The API still lists a deleted volume for a while, in one of these states.


def about(volume):
    """What a snapshot says of its volume."""
    return {"volume_id": volume["id"], "volume_name": volume.get("name"), "region": volume.get("region")}


class FlyVolumeSnapshot(FlyModule):
    supports_check_mode = True
    resource_key = "snapshots"
    argument_spec = dict(
        app=dict(type="str", required=True),
        volume_id=dict(type="str"),
        name=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module_options = dict(
        mutually_exclusive=[("volume_id", "name")],
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]

    def validate(self):
        given(self.params, app=check_app_name, name=check_volume_name, wait_timeout=at_least(1, "seconds"))

    def volumes(self):
        params = self.params
        if params["volume_id"]:
            volume = self.client.get_volume(self.app, params["volume_id"])
            if not volume or volume.get("state") in VOLUME_GONE:
                self.fail("volume %s does not exist in app %s" % (params["volume_id"], self.app))
            return [volume]
        listed = self.app_listing(self.client.list_volumes, self.app)
        return sorted((v for v in listed if v.get("state") not in VOLUME_GONE and params["name"] in (None, v.get("name"))),
                      key=lambda v: v["id"])

    def dispatch(self):
        volumes = self.volumes()
        if not volumes:
            return []
        self.changed = True
        self.differences.add_all({"snapshots": []}, {"snapshots": [dict(about(v), id=None) for v in volumes]})
        if self.check_mode:
            return [dict(about(v), id=None, status="planned") for v in volumes]
        wait_timeout = self.params["wait_timeout"] if self.params["wait"] else 0
        taken = []
        for volume in volumes:
            # Listed first: the snapshot that is new afterwards is ours, and a lost answer is found, not repeated.
            known = self.client.list_volume_snapshots(self.app, volume["id"])
            snapshot = self.client.create_volume_snapshot(self.app, volume["id"], known_ids=[s.get("id") for s in known], wait_timeout=wait_timeout)
            taken.append(dict(snapshot or {"id": None, "status": "requested"}, **about(volume)))
            # Those taken so far are returned on failure too.
            self.extra["snapshots"] = list(taken)
        self.extra.pop("snapshots", None)
        return taken


def main():
    FlyVolumeSnapshot.execute()


if __name__ == "__main__":
    main()
