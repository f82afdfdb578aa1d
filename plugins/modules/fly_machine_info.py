#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_machine_info
short_description: Read the machines of a Fly.io app
version_added: 0.1.0
description:
  - Returns the machines of an app, with their config, state and health checks; optionally only one, or
    those of a process group, region or metadata.
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
  machine_id:
    description:
      - ID of one machine.
    type: str
  name:
    description:
      - Only the machine with this name.
    type: str
  group:
    description:
      - Only machines of this process group (metadata C(fly_process_group)).
    type: str
  region:
    description:
      - Only machines in this region, one of Fly.io's public regions.
    type: str
  metadata:
    description:
      - Only machines whose metadata has all these keys and values.
    type: dict
    default: {}
  include_destroyed:
    description:
      - Also list machines that were destroyed recently.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The unified API's app machines
  sophia.ops.fly_machine_info:
    app: sophia-unified-api
    group: app
  register: api_machines

- name: All of them pass their health checks
  ansible.builtin.assert:
    that: >-
      api_machines.machines | map(attribute='checks') | flatten
      | rejectattr('status', 'equalto', 'passing') | list | length == 0
"""

RETURN = r"""
machines:
  description: The matching machines.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "1857156b526dd8", "name": "sophia-unified-api-app-1", "state": "started", "region": "iad",
            "instance_id": "01HEPA330HZ37A78TK080NAK1M", "config": {"image": "registry.fly.io/sophia-api:1.4.2"},
            "checks": [{"name": "alive", "status": "passing"}]}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name, check_region
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


class FlyMachineInfo(FlyModule):
    supports_check_mode = True
    resource_key = "machines"
    argument_spec = dict(
        app=dict(type="str", required=True),
        machine_id=dict(type="str"),
        name=dict(type="str"),
        group=dict(type="str"),
        region=dict(type="str"),
        metadata=dict(type="dict", default={}),
        include_destroyed=dict(type="bool", default=False),
    )

    def validate(self):
        given(self.params, app=check_app_name, region=check_region)

    def dispatch(self):
        params = self.params
        if params["machine_id"]:
            machine = self.client.get_machine(params["app"], params["machine_id"])
            return [machine] if machine else []
        metadata = dict(params["metadata"])
        if params["group"]:
            metadata["fly_process_group"] = params["group"]
        machines = self.client.list_machines(params["app"], region=params["region"], include_deleted=params["include_destroyed"], metadata=metadata)
        return [m for m in machines if params["name"] in (None, m.get("name"))]


def main():
    FlyMachineInfo.execute()


if __name__ == "__main__":
    main()
