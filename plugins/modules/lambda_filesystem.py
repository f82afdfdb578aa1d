#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_filesystem
short_description: Create or delete a Lambda Cloud shared filesystem
version_added: 0.1.0
description:
  - Makes sure a persistent shared filesystem exists in a region, or does not.
  - A filesystem belongs to one region; instances mount it only there.
  - A filesystem mounted by an instance is never deleted; deleting one needs O(confirm_delete=true).
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  name:
    description:
      - Name of the filesystem, unique in the account.
      - Letters, digits and dashes, starting with a letter, at most 60 characters; any other name fails before any
        request.
    type: str
    required: true
  region:
    description:
      - Region the filesystem is created in. Required to create it; it never moves.
      - Before a create, it is checked against the regions the API lists; one not listed fails the task, naming
        them, with nothing written.
    type: str
  state:
    description:
      - V(present) creates the filesystem; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  confirm_delete:
    description:
      - Must be V(true) for O(state=absent) to delete a filesystem and its data.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Model weights shared by the GPU workers
  sophia.ops.lambda_filesystem:
    name: sophia-models
    region: us-east-1
"""

RETURN = r"""
lambda_filesystem:
  description: The filesystem; empty once deleted.
  returned: always
  type: dict
  contains:
    id:
      description: Filesystem ID.
      type: str
      sample: 398578a2336b49079e74043f0bd2cfe8
    name:
      description: Name.
      type: str
      sample: sophia-models
    mount_point:
      description: Where instances mount it by default.
      type: str
      sample: /lambda/nfs/sophia-models
    is_in_use:
      description: Whether an instance mounts it.
      type: bool
      sample: false
    region:
      description: Region (C(name), C(description)).
      type: dict
      sample: {"name": "us-east-1", "description": "Virginia, USA"}
"""


from ansible_collections.sophia.ops.plugins.module_utils.input_checks import InvalidInput, given
from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule
from ansible_collections.sophia.ops.plugins.module_utils.lambda_platform import check_filesystem_name, check_in_catalogue


class LambdaFilesystem(LambdaModule):
    supports_check_mode = True
    resource_key = "lambda_filesystem"
    argument_spec = dict(
        name=dict(type="str", required=True),
        region=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        confirm_delete=dict(type="bool", default=False),
    )

    def __init__(self, module):
        super().__init__(module)
        self.name = self.params["name"]

    def validate(self):
        given(self.params, name=check_filesystem_name)

    def find(self):
        listed = self.client.list_filesystems()
        return next((fs for fs in listed if fs.get("name") == self.name), None)

    def present(self):
        region = self.params["region"]
        filesystem = self.find()
        if filesystem:
            where = (filesystem.get("region") or {}).get("name")
            if region and region != where:
                self.fail("filesystem %s is in %s; a filesystem cannot move to %s" % (self.name, where, region))
            return filesystem
        if not region:
            raise InvalidInput("region", "creating filesystem %s needs a region" % self.name,
                               "a region the API lists")
        # A region the API does not list would be refused by the create; read the list first (in check mode too).
        regions = self.client.regions()
        check_in_catalogue("region", region, [r.get("name") for r in regions], "region")
        self.changed = True
        self.differences.add_all({}, {"name": self.name, "region": region})
        if self.check_mode:
            return {"name": self.name, "region": {"name": region}}
        return self.client.create_filesystem(self.name, region)

    def absent(self):
        filesystem = self.find()
        if not filesystem:
            return {}
        if filesystem.get("is_in_use"):
            self.fail("filesystem %s is mounted by an instance; terminate it first" % self.name)
        if not self.params["confirm_delete"]:
            self.fail("deleting filesystem %s destroys its data; set confirm_delete: true" % self.name)
        self.changed = True
        self.differences.add_all({"name": self.name, "region": (filesystem.get("region") or {}).get("name")}, {})
        if not self.check_mode:
            self.client.delete_filesystem(filesystem["id"])
        return {}


def main():
    LambdaFilesystem.execute()


if __name__ == "__main__":
    main()
