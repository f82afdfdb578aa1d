#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_ssh_key
short_description: Add or delete a Lambda Cloud SSH key
version_added: 0.1.0
description:
  - Makes sure an SSH key with a name exists in the Lambda Cloud account, or does not.
  - Without O(public_key), Lambda generates the pair and hands the private key back once. The module writes it
    to O(private_key_path) (mode 0600) and never returns it, so it cannot end up in a log.
  - Key names are unique. A key whose public half differs from O(public_key) is replaced, since keys cannot be
    edited.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  name:
    description:
      - Name of the key.
    type: str
    required: true
  public_key:
    description:
      - The OpenSSH public key. When not set and the key does not exist, Lambda generates a pair.
    type: str
  private_key_path:
    description:
      - Where to save the private key of a generated pair. Required when O(public_key) is not set.
    type: path
  state:
    description:
      - V(present) adds the key; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: The operators' key on every GPU node
  sophia.ops.lambda_ssh_key:
    name: sophia-ops
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
"""

RETURN = r"""
lambda_ssh_key:
  description: The key; empty once deleted.
  returned: always
  type: dict
  contains:
    id:
      description: Key ID.
      type: str
      sample: ddf9a910ceb744a0bb95242cbba6cb50
    name:
      description: Key name.
      type: str
      sample: sophia-ops
    public_key:
      description: The public key.
      type: str
      sample: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops
private_key_path:
  description: Where the generated private key was saved.
  returned: when a key pair was generated
  type: str
  sample: /home/ops/.ssh/lambda_sophia_ops
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule, lambda_argument_spec


def key_body(public_key):
    """The type and base64 parts; the comment does not make a key different."""
    return " ".join((public_key or "").split()[:2])


class LambdaSSHKey(LambdaModule):
    resource_key = "lambda_ssh_key"

    def __init__(self, module):
        super().__init__(module)
        self.name = module.params["name"]
        keys = self.call("Listing SSH keys", self.client.list_ssh_keys)
        self.key = next((k for k in keys if k.get("name") == self.name), None)

    def present(self):
        wanted = self.module.params["public_key"]
        if self.key and (not wanted or key_body(wanted) == key_body(self.key.get("public_key"))):
            self.exit(self.key)
        self.changed = True
        self.set_diff({"name": self.name, "public_key": self.key["public_key"]} if self.key else {},
                      {"name": self.name, "public_key": wanted or "(generated)"})
        if self.check_mode:
            self.exit({"name": self.name, "public_key": wanted})
        if self.key:
            self.call("Replacing SSH key %s" % self.name, self.client.delete_ssh_key, self.key["id"])
        added = self.call("Adding SSH key %s" % self.name, self.client.add_ssh_key, self.name, wanted)
        private_key = added.pop("private_key", None)
        if private_key:
            path = self.module.params["private_key_path"]
            self.save_private_key(path, private_key)
            self.exit(added, private_key_path=path)
        self.exit(added)

    def save_private_key(self, path, private_key):
        """Write the key readable by its owner only, in one step, so no partial key is ever on disk."""
        temporary = "%s.%d.tmp" % (path, os.getpid())
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(private_key)
        os.replace(temporary, path)

    def absent(self):
        if self.key:
            self.changed = True
            self.set_diff({"name": self.name, "public_key": self.key.get("public_key")}, {})
            if not self.check_mode:
                self.call("Deleting SSH key %s" % self.name, self.client.delete_ssh_key, self.key["id"])
        self.exit({})


def main():
    argument_spec = lambda_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        public_key=dict(type="str", no_log=False),
        private_key_path=dict(type="path", no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ("public_key", "private_key_path"), True)])
    key = LambdaSSHKey(module)
    if module.params["state"] == "present":
        key.present()
    key.absent()


if __name__ == "__main__":
    main()
