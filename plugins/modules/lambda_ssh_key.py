#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_ssh_key
short_description: Add, rotate or delete a Lambda Cloud SSH key
version_added: 0.1.0
description:
  - Makes sure an SSH key with a name exists in the Lambda Cloud account, or does not.
  - Key names are unique and keys cannot be edited. A key of that name with another public half is replaced
    (deleted, then added again); if adding the new key fails, the old one is put back before the task fails,
    so the name is never left without a key.
  - With O(private_key_path) instead of O(public_key), the pair is kept on the controller. The first run makes an
    ed25519 pair there and writes the private key (mode 0600, in one step) B(before) the public key is sent, so
    the private key cannot be lost with an answer. Later runs register the public half of the key found there.
    The private key is never returned nor logged.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.lambda_cloud
  - sophia.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: partial
    details:
      - O(rotate=true) makes a new pair every time.
options:
  name:
    description:
      - Name of the key, 1 to 64 characters.
    type: str
    required: true
  public_key:
    description:
      - The OpenSSH public key (C(<type> <base64> [comment]), at most 4096 characters). The comment does not make
        a key different. Anything else fails before any request.
      - Mutually exclusive with O(private_key_path).
    type: str
  private_key_path:
    description:
      - The private key of the pair kept on the controller, in OpenSSH format without a passphrase.
      - When the file does not exist, a new ed25519 pair is made and its private key written there. When it
        exists, its public half is the key registered under O(name).
      - A key of that name registered while the file does not exist is not replaced (its private half could be
        somewhere in use); the task fails unless O(rotate=true).
      - Deleting the key (O(state=absent)) leaves the files alone.
    type: path
  rotate:
    description:
      - Make a new pair at O(private_key_path) and register it in place of the current one. Not idempotent, like
        C(regenerate=always) of M(community.crypto.openssh_keypair).
      - The previous private key is kept as C(<private_key_path>.previous) (mode 0600), since instances launched
        with it still trust it. Only that one previous key is kept.
      - If the key at O(private_key_path) is not the registered one (an earlier rotation failed half-way), that
        key is registered and no new pair is made, so that C(.previous) keeps the key instances trust.
    type: bool
    default: false
  state:
    description:
      - V(present) adds the key; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - cryptography (to make and read the pair kept on the controller)
"""

EXAMPLES = r"""
- name: The operators' key on every GPU node
  sophia.ops.lambda_ssh_key:
    name: sophia-ops
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"

- name: A key pair for the GPU workers, kept on the controller
  sophia.ops.lambda_ssh_key:
    name: sophia-gpu
    private_key_path: ~/.ssh/lambda_sophia_gpu

- name: Rotate it (the previous private key stays beside it, as lambda_sophia_gpu.previous)
  sophia.ops.lambda_ssh_key:
    name: sophia-gpu
    private_key_path: ~/.ssh/lambda_sophia_gpu
    rotate: true
"""

RETURN = r"""
lambda_ssh_key:
  description: The key; empty once deleted. In check mode, a pair yet to be made has no public key.
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
  description: Where the private key is kept.
  returned: when O(private_key_path) is set, on failure too
  type: str
  sample: /home/ops/.ssh/lambda_sophia_gpu
previous_private_key_path:
  description: Where the private key that was rotated out is kept.
  returned: when a pair was rotated, on failure too
  type: str
  sample: /home/ops/.ssh/lambda_sophia_gpu.previous
"""

import os
import tempfile

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import LambdaAPIError, same_public_key
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import given
from ansible_collections.sophia.ops.plugins.module_utils.lambda_cloud import LambdaModule
from ansible_collections.sophia.ops.plugins.module_utils.lambda_platform import check_public_key, check_ssh_key_name

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


def public_half(private_key, comment):
    public = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return "%s %s" % (public.decode("ascii"), comment)


def write_private_key(path, data):
    """Write the key readable by its owner only, in one step: the file is whole or as it was, never partial."""
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def shown(key):
    return {"name": key["name"], "public_key": key.get("public_key")} if key else {}


class LambdaSSHKey(LambdaModule):
    supports_check_mode = True
    resource_key = "lambda_ssh_key"
    argument_spec = dict(
        name=dict(type="str", required=True),
        public_key=dict(type="str", no_log=False),
        private_key_path=dict(type="path", no_log=False),
        rotate=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_options = dict(
        mutually_exclusive=[("public_key", "private_key_path")],
        required_if=[("state", "present", ("public_key", "private_key_path"), True),
                     ("rotate", True, ("private_key_path",))],
    )

    def __init__(self, module):
        # Before the client: a key pair kept on the controller is made with cryptography.
        if module.params["private_key_path"] and not HAS_CRYPTOGRAPHY:
            module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
        super().__init__(module)
        self.name = self.params["name"]
        self.path = self.params["private_key_path"]

    def validate(self):
        given(self.params, name=check_ssh_key_name, public_key=check_public_key)

    def registered(self):
        keys = self.client.list_ssh_keys()
        return next((k for k in keys if k.get("name") == self.name), None)

    def present(self):
        key = self.registered()
        if self.path:
            self.extra["private_key_path"] = self.path
            return self.present_kept_pair(key)
        return self.converge(key, self.params["public_key"])

    def present_kept_pair(self, key):
        """The key of the pair at ``private_key_path``, made there first when there is none (or to rotate)."""
        stored = self.read_private_key()
        if stored is None and key and not self.params["rotate"]:
            self.fail("SSH key %s is registered but %s holds no private key, and Lambda never keeps one; "
                      "set rotate: true to replace the key with a new pair" % (self.name, self.path))
        if stored is not None:
            current = public_half(stored[1], self.name)
            if not (self.params["rotate"] and key and same_public_key(key.get("public_key"), current)):
                return self.converge(key, current)
        self.changed = True
        if self.check_mode:
            self.differences.add_all(shown(key), {"name": self.name, "public_key": "(a new pair)"})
            return {"name": self.name}
        if stored is not None:
            # Instances launched with the current key still trust it.
            self.keep_private_key(self.path + ".previous", stored[0])
            self.extra["previous_private_key_path"] = self.path + ".previous"
        pair = ed25519.Ed25519PrivateKey.generate()
        self.keep_private_key(self.path, pair.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
        return self.converge(key, public_half(pair, self.name))

    def read_private_key(self):
        """(the file's bytes, the key) at ``private_key_path``; None when there is no file."""
        try:
            with open(self.path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.fail("cannot read the private key %s: %s" % (self.path, exc.strerror))
        try:
            return data, serialization.load_ssh_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            self.fail("%s is not an OpenSSH private key without a passphrase: %s" % (self.path, exc))

    def keep_private_key(self, path, data):
        try:
            write_private_key(path, data)
        except OSError as exc:
            self.fail("cannot write the private key %s: %s" % (path, exc.strerror))

    def converge(self, key, public_key):
        """Make ``public_key`` the key of the name. Keys cannot be edited: another one is deleted, then
        the new one added; if that fails, the old one is put back, so the name keeps a key."""
        if key and same_public_key(key.get("public_key"), public_key):
            return key
        self.changed = True
        self.differences.add_all(shown(key), {"name": self.name, "public_key": public_key})
        if self.check_mode:
            return {"name": self.name, "public_key": public_key}
        if key:
            self.client.delete_ssh_key(key["id"])
        try:
            return self.client.add_ssh_key(self.name, public_key)
        except LambdaAPIError as exc:
            failure = "Adding SSH key %s failed: %s" % (self.name, exc)
            if not key:
                self.fail(failure, api_error=exc.to_dict())
            try:
                self.client.add_ssh_key(self.name, key["public_key"])
            except LambdaAPIError as again:
                self.fail("%s; putting the old key back failed too (%s): %s has no key until a run adds one"
                          % (failure, again, self.name), api_error=exc.to_dict())
            self.fail(failure + "; the old key is back", api_error=exc.to_dict())

    def absent(self):
        key = self.registered()
        if key:
            self.changed = True
            self.differences.add_all(shown(key), {})
            if not self.check_mode:
                self.client.delete_ssh_key(key["id"])
        return {}


def main():
    LambdaSSHKey.execute()


if __name__ == "__main__":
    main()
