#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_secret_info
short_description: List the secrets of a Fly.io app, without their values
version_added: 0.1.0
description:
  - Returns the name, digest and timestamps of every secret of an app. Values cannot be read back.
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
"""

EXAMPLES = r"""
- name: Which secrets does the unified API have?
  sophia.ops.fly_secret_info:
    app: sophia-unified-api
  register: api_secrets
"""

RETURN = r"""
secrets:
  description: The app's secrets.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "REDIS_URL", "digest": "5d2c9f0c1a7b3e44", "created_at": "2026-11-24T10:00:00Z",
            "updated_at": "2026-11-24T10:00:00Z"}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


class FlySecretInfo(FlyModule):
    supports_check_mode = True
    resource_key = "secrets"
    argument_spec = dict(app=dict(type="str", required=True))

    def validate(self):
        given(self.params, app=check_app_name)

    def dispatch(self):
        app = self.params["app"]
        return self.client.list_secrets(app)


def main():
    FlySecretInfo.execute()


if __name__ == "__main__":
    main()
