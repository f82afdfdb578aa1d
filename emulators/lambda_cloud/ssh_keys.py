"""``/ssh-keys``: keys given, or pairs Lambda makes and hands the private half of back once."""

from __future__ import annotations

import base64
import random
import re

from emulators.lambda_cloud import schemas
from emulators.lambda_cloud.errors import error, invalid
from emulators.lambda_cloud.state import ID, hex_id

PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                        r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( .*)?$")


def list_ssh_keys(state, request):
    return 200, {"data": [dict((k, key[k]) for k in ("id", "name", "public_key"))
                          for key in state.store.list("ssh_key")]}


def add_ssh_key(state, request):
    body = request.json()
    name = body["name"]
    if any(k["name"] == name for k in state.store.list("ssh_key")):
        raise invalid("An SSH key named %s already exists." % name, "Choose another name.")
    key = {"id": hex_id(), "name": name, "public_key": body.get("public_key")}
    answer = None
    if key["public_key"] is None:
        # Lambda makes a pair and hands the private half back once; it does not keep it.
        material = base64.b64encode(random.randbytes(48)).decode()
        key["public_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5%s %s" % (material[:43], name)
        answer = dict(key, private_key="-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE "
                                       "KEY-----\n" % base64.b64encode(random.randbytes(180)).decode())
    elif not PUBLIC_KEY.match(key["public_key"].strip()):
        raise invalid("public_key is not an OpenSSH public key",
                      "Give the contents of a .pub file: type, base64 key, optional comment.")
    state.store.put("ssh_key", key["id"], key)
    return 200, {"data": answer or key}


def delete_ssh_key(state, request, key_id):
    if state.store.get("ssh_key", key_id) is None:
        # The document gives this operation the generic not-found error.
        raise error(404, "global/not-found", "SSH key %s does not exist." % key_id,
                    "List the SSH keys with GET /ssh-keys.")
    state.store.delete("ssh_key", key_id)
    return 200, {"data": {}}


ROUTES = [
    ("GET", r"/ssh-keys", list_ssh_keys, "list_ssh_keys", {}),
    ("POST", r"/ssh-keys", add_ssh_key, "add_ssh_key", {"body": schemas.ADD_SSH_KEY}),
    ("DELETE", r"/ssh-keys/" + ID.format("key_id"), delete_ssh_key, "delete_ssh_key", {}),
]
