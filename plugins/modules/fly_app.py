#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_app
short_description: Create or delete a Fly.io app
version_added: 0.1.0
description:
  - Makes sure a Fly.io app exists in an organization, or does not exist.
  - Every machine, volume and secret of the platform belongs to an app; this is the first thing a service needs.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  name:
    description:
      - Name of the app. App names are unique across Fly.io.
      - 3 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit; any other name
        fails before any request.
    type: str
    required: true
    aliases: [app]
  org_slug:
    description:
      - Organization the app belongs to, V(personal) for the token owner's own.
      - Used when the app is created; an existing app in another organization is reported as a failure.
    type: str
    default: personal
  network:
    description:
      - Name of an isolated IPv6 private network for the app; only used at creation.
      - Changing it later has no effect on an existing app and is reported as a warning.
    type: str
  state:
    description:
      - V(present) creates the app if it is missing; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), stop and destroy the app's machines instead of refusing while they run.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Create the Weaviate app
  sophia.ops.fly_app:
    name: sophia-weaviate
    org_slug: sophia-intel

- name: Delete a scratch app and everything in it
  sophia.ops.fly_app:
    name: sophia-scratch
    state: absent
    force: true
"""

RETURN = r"""
fly_app:
  description:
    - The app as the Machines API describes it; empty when it does not exist.
    - Right after a create, only its name, organization and network (the create answers no more, and the
      module does not spend a request reading it back).
  returned: always
  type: dict
  contains:
    id:
      description: App ID.
      type: str
      sample: jlyv9r5d56v18xrg
    name:
      description: App name.
      type: str
      sample: sophia-weaviate
    organization:
      description: The owning organization (C(name), C(slug)).
      type: dict
      sample: {"name": "Sophia Intel", "slug": "sophia-intel"}
    network:
      description: Private network the app is on.
      type: str
      sample: default
    status:
      description: App status.
      type: str
      sample: deployed
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given


def app_summary(app):
    """The part of an app worth showing in a diff."""
    if not app:
        return {}
    return {"name": app.get("name"), "org_slug": (app.get("organization") or {}).get("slug"),
            "network": app.get("network")}


class FlyApp(FlyModule):
    supports_check_mode = True
    resource_key = "fly_app"
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["app"]),
        org_slug=dict(type="str", default="personal"),
        network=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
    )

    def __init__(self, module):
        super().__init__(module)
        self.name = self.params["name"]

    def validate(self):
        given(self.params, name=check_app_name)

    def present(self):
        params = self.params
        app = self.client.get_app(self.name)
        if app:
            org = (app.get("organization") or {}).get("slug")
            if org and org != params["org_slug"]:
                self.fail("app %s already exists in organization %s, not %s" % (self.name, org, params["org_slug"]))
            if params["network"] and app.get("network") not in (None, params["network"]):
                self.warnings.append("the network of an existing app cannot change; app %s stays on %s"
                                     % (self.name, app.get("network")))
            return app
        wanted = {"name": self.name, "org_slug": params["org_slug"], "network": params["network"]}
        self.changed = True
        self.differences.add_all({}, wanted)
        if self.check_mode:
            return wanted
        return self.client.create_app(self.name, params["org_slug"], params["network"])

    def absent(self):
        app = self.client.get_app(self.name)
        if not app:
            return {}
        self.changed = True
        self.differences.add_all(app_summary(app), {})
        if not self.check_mode:
            self.client.delete_app(self.name, force=self.params["force"])
        return {}


def main():
    FlyApp.execute()


if __name__ == "__main__":
    main()
