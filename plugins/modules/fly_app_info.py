#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_app_info
short_description: Read Fly.io apps
version_added: 0.1.0
description:
  - Returns one app by name, or every app of an organization.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.info_module
options:
  name:
    description:
      - Name of one app. When not set, every app of O(org_slug) is returned.
      - A name no app can have (see M(sophia.ops.fly_app)) fails before any request.
    type: str
    aliases: [app]
  org_slug:
    description:
      - Organization whose apps are listed, V(personal) for the token owner's own.
    type: str
    default: personal
"""

EXAMPLES = r"""
- name: Every app of the production organization
  sophia.ops.fly_app_info:
    org_slug: sophia-intel
  register: fly_apps
"""

RETURN = r"""
apps:
  description: The apps found; empty when the named app does not exist.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "jlyv9r5d56v18xrg", "name": "sophia-weaviate", "status": "deployed",
            "organization": {"name": "Sophia Intel", "slug": "sophia-intel"}}]
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


class FlyAppInfo(FlyModule):
    supports_check_mode = True
    resource_key = "apps"
    argument_spec = dict(
        name=dict(type="str", aliases=["app"]),
        org_slug=dict(type="str", default="personal"),
    )

    def validate(self):
        given(self.params, name=check_app_name)

    def dispatch(self):
        name = self.params["name"]
        if name:
            app = self.client.get_app(name)
            return [app] if app else []
        return self.client.list_apps(self.params["org_slug"])


def main():
    FlyAppInfo.execute()


if __name__ == "__main__":
    main()
