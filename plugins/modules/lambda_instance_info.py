#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_instance_info
short_description: Read Lambda Cloud instances
version_added: 0.1.0
description:
  - Returns the account's running instances, optionally only one by ID, a pool by name, or those of a region,
    instance type or status.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
  - sophia.ops.attributes.info_module
options:
  instance_id:
    description:
      - ID of one instance.
    type: str
  pool:
    description:
      - Only instances of this M(sophia.ops.lambda_instance) pool (tag C(sophia-ops:pool)).
    type: str
  region:
    description:
      - Only instances in this region.
    type: str
  instance_type:
    description:
      - Only instances of this type.
    type: str
  status:
    description:
      - Only instances with this status.
    type: str
  include_credentials:
    description:
      - Also return each instance's Jupyter URL and token (C(jupyter_url), C(jupyter_token)).
      - They log in to the instance, so they are left out unless asked for; a task that asks should set
        C(no_log).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The GPU workers that are up
  sophia.ops.lambda_instance_info:
    pool: sophia-gpu-embed
    status: active
  register: gpu_workers
"""

RETURN = r"""
instances:
  description:
    - The matching instances, as the API describes them, without C(jupyter_url) and C(jupyter_token) unless
      O(include_credentials=true).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "0920582c7ff041399e34823a0be62549", "name": "sophia-gpu-embed-1", "status": "active",
            "ip": "198.51.100.2", "region": {"name": "us-east-1"}, "instance_type": {"name": "gpu_1x_a100_sxm4"}}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule


# Fields of an instance that log in to it: returned only when asked for.
CREDENTIAL_FIELDS = ("jupyter_url", "jupyter_token")


class LambdaInstanceInfo(LambdaModule):
    supports_check_mode = True
    resource_key = "instances"
    argument_spec = dict(
        instance_id=dict(type="str"),
        pool=dict(type="str"),
        region=dict(type="str"),
        instance_type=dict(type="str"),
        status=dict(type="str"),
        include_credentials=dict(type="bool", default=False),
    )

    def dispatch(self):
        params = self.params
        if params["instance_id"]:
            found = self.client.get_instance(params["instance_id"])
            instances = [found] if found else []
        else:
            instances = self.client.list_instances()
        if not params["include_credentials"]:
            instances = [dict((k, v) for k, v in i.items() if k not in CREDENTIAL_FIELDS) for i in instances]
        return [i for i in instances
                if (not params["pool"] or self.client.in_pool(i, params["pool"]))
                and params["region"] in (None, (i.get("region") or {}).get("name"))
                and params["instance_type"] in (None, (i.get("instance_type") or {}).get("name"))
                and params["status"] in (None, i.get("status"))]


def main():
    LambdaInstanceInfo.execute()


if __name__ == "__main__":
    main()
