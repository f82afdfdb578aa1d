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
      - Name of the app.
    type: str
    required: true
  volume_id:
    description:
      - ID of one volume.
    type: str
  name:
    description:
      - Only volumes with this name.
    type: str
  region:
    description:
      - Only volumes in this region.
    type: str
"""

EXAMPLES = r"""
- name: Weaviate's data volumes
  sophia.ops.fly_volume_info:
    app: sophia-weaviate
    name: weaviate_data
  register: weaviate_volumes
"""

RETURN = r"""
volumes:
  description: The matching volumes.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "vol_2n0l3vl60qpv635d", "name": "weaviate_data", "region": "iad", "size_gb": 20,
            "attached_machine_id": "1857156b526dd8"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule, fly_argument_spec


class FlyVolumeInfo(FlyModule):
    resource_key = "volumes"

    def dispatch(self):
        params = self.params
        if params["volume_id"]:
            volume = self.call("Looking up volume %s" % params["volume_id"], self.client.get_volume,
                               params["app"], params["volume_id"])
            volumes = [volume] if volume else []
        else:
            volumes = self.call("Listing volumes of %s" % params["app"], self.client.list_volumes, params["app"])
        return [v for v in volumes if params["name"] in (None, v.get("name"))
                and params["region"] in (None, v.get("region"))]


def main():
    argument_spec = fly_argument_spec()
    argument_spec.update(
        app=dict(type="str", required=True),
        volume_id=dict(type="str"),
        name=dict(type="str"),
        region=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    FlyVolumeInfo(module).run()


if __name__ == "__main__":
    main()
