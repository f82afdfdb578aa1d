#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_volume_info
short_description: Read the volumes of a Fly.io app
version_added: 0.1.0
description:
  - Returns the volumes of an app, optionally only one by ID, or those with a name or in a region.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.info_module
options:
  app:
    description:
      - Name of the app (a name M(sophia.ops.fly_app) accepts; any other fails before any request).
    type: str
    required: true
  volume_id:
    description:
      - ID of one volume.
    type: str
  name:
    description:
      - Only volumes with this name (a volume name, 1 to 30 lowercase letters, digits and underscores).
    type: str
  region:
    description:
      - Only volumes in this region, one of Fly.io's public regions.
    type: str
  snapshots:
    description:
      - Also list each volume's snapshots, under C(snapshots), oldest first (one more request per volume).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Weaviate's data volumes
  sophia.ops.fly_volume_info:
    app: sophia-weaviate
    name: weaviate_data
  register: weaviate_volumes

- name: The newest snapshot of any of Weaviate's volumes
  sophia.ops.fly_volume_info:
    app: sophia-weaviate
    name: weaviate_data
    snapshots: true
  register: weaviate_backups
  # weaviate_backups.volumes | map(attribute='snapshots') | flatten | sort(attribute='created_at') | last
"""

RETURN = r"""
volumes:
  description: The matching volumes.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "vol_2n0l3vl60qpv635d", "name": "weaviate_data", "region": "iad", "size_gb": 20,
            "attached_machine_id": "1857156b526dd8"}]
  contains:
    snapshots:
      description:
        - The volume's snapshots as the API lists them (C(id), C(created_at), C(status), C(size),
          C(volume_size), C(retention_days)), oldest first, each with the C(volume_id) it is of.
      returned: when O(snapshots=true)
      type: list
      elements: dict
      sample: [{"id": "vs_4LNvXLLK0P6tk6KgqoexaBw", "created_at": "2026-03-02T20:59:35Z", "status": "created",
                "size": 36007729, "volume_size": 21474836480, "retention_days": 14,
                "volume_id": "vol_2n0l3vl60qpv635d"}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import (
    check_app_name,
    check_region,
    check_volume_name,
)
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


class FlyVolumeInfo(FlyModule):
    supports_check_mode = True
    resource_key = "volumes"
    argument_spec = dict(
        app=dict(type="str", required=True),
        volume_id=dict(type="str"),
        name=dict(type="str"),
        region=dict(type="str"),
        snapshots=dict(type="bool", default=False),
    )

    def validate(self):
        given(self.params, app=check_app_name, name=check_volume_name, region=check_region)

    def dispatch(self):
        params = self.params
        if params["volume_id"]:
            volume = self.client.get_volume(params["app"], params["volume_id"])
            volumes = [volume] if volume else []
        else:
            volumes = self.client.list_volumes(params["app"])
        volumes = [v for v in volumes if params["name"] in (None, v.get("name"))
                   and params["region"] in (None, v.get("region"))]
        if params["snapshots"]:
            for volume in volumes:
                listed = self.client.list_volume_snapshots(params["app"], volume["id"])
                volume["snapshots"] = sorted((dict(s, volume_id=volume["id"]) for s in listed),
                                             key=lambda s: s.get("created_at") or "")
        return volumes


def main():
    FlyVolumeInfo.execute()


if __name__ == "__main__":
    main()
