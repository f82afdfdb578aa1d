#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_secret
short_description: Set or unset the secrets of a Fly.io app
version_added: 0.1.0
description:
  - Sets app secrets (environment variables whose values Fly.io keeps encrypted) or removes them, in one request.
  - Values are write-only; the API lists only names, digests and timestamps. How the module decides that a
    secret needs writing is set by O(update_mode).
  - Machines see new secrets after they restart; O(restart_machines) does that.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff names the secrets that change, each with its digest before and after (C((absent)) when it does
        not exist), never values.
  idempotent:
    support: full
    details:
      - With O(update_mode=always) every run writes, and reports a change.
options:
  app:
    description:
      - Name of the app (a name M(sophia.ops.fly_app) accepts; any other fails before any request).
    type: str
    required: true
  secrets:
    description:
      - Secret names and their values.
      - Names are letters, digits and underscores, not starting with a digit, at most 256 characters. Values are
        strings (numbers and booleans are written as their text); an empty (null) value or a list or mapping fails
        before any request, naming the secret but never showing a value.
      - With O(state=absent), the names to remove (values are ignored).
    type: dict
    default: {}
  names:
    description:
      - More names to remove with O(state=absent), each a secret name as in O(secrets).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) sets the secrets in O(secrets); V(absent) removes the named secrets.
    type: str
    choices: [present, absent]
    default: present
  update_mode:
    description:
      - How a secret that already exists is treated.
      - V(digest) compares the digest the API lists with the SHA-256 digest of the wanted value and writes only
        when they differ. If the API's digest is not of that form, the secret is written and a warning says so.
      - V(always) writes every secret on every run and always reports a change.
      - V(on_create) only writes secrets that do not exist yet; existing values are left alone.
    type: str
    choices: [digest, always, on_create]
    default: digest
  restart_machines:
    description:
      - After secrets changed, restart the app's started machines so that they read the new values. Each
        restart holds the machine's lease; a machine leased by someone else fails the task, naming the holder.
    type: bool
    default: false
notes:
  - All changes go out in one request, so the machines never see half of them.
  - How C(changed) is decided. The API never returns a value, only a digest of it (the first 16 hex digits of
    its SHA-256). With O(update_mode=digest) a secret counts as changed when it is missing or when that digest
    differs from the digest of the wanted value, computed locally; the value itself never leaves the module
    except in the write request. A removal counts as changed when the name exists.
"""

EXAMPLES = r"""
- name: Database and cache credentials for the unified API
  sophia.ops.fly_secret:
    app: sophia-unified-api
    secrets:
      DATABASE_URL: "{{ vault_neon_database_url }}"
      REDIS_URL: "{{ vault_redis_url }}"
    restart_machines: true
  no_log: true

- name: Seed a generated key only once; later runs keep what is there
  sophia.ops.fly_secret:
    app: sophia-weaviate
    secrets:
      AUTHENTICATION_APIKEY_ALLOWED_KEYS: "{{ lookup('ansible.builtin.password', '/dev/null', length=40) }}"
    update_mode: on_create
  no_log: true

- name: Retire an old credential
  sophia.ops.fly_secret:
    app: sophia-unified-api
    names: [LEGACY_OPENAI_KEY]
    state: absent
"""

RETURN = r"""
fly_secret:
  description: The app's secrets after the run, without values.
  returned: always
  type: dict
  contains:
    app:
      description: App name.
      type: str
      sample: sophia-unified-api
    secrets:
      description: Name, digest and timestamps of every secret of the app.
      type: list
      elements: dict
      sample: [{"name": "REDIS_URL", "digest": "5d2c9f0c1a7b3e44", "created_at": "2026-11-24T10:00:00Z",
                "updated_at": "2026-11-24T10:00:00Z"}]
    version:
      description:
        - Secrets version the API answered after a write; null when nothing was written.
        - Also null when the answer to the write was lost and the write was then found applied.
      type: int
      sample: 7
    changed_names:
      description: Names that were (or, in check mode, would be) set or removed.
      type: list
      elements: str
      sample: [REDIS_URL]
    restarted_machines:
      description: IDs of the machines restarted (or that would be) to pick the secrets up.
      type: list
      elements: str
      sample: ["1857156b526dd8"]
"""

import re


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import (
    check_app_name,
    check_secret_name,
    check_secret_values,
)
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import each, given
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import secret_digest
from ansible_collections.sophia.ops.plugins.module_utils.fly_lease import Leases

OUR_DIGEST = re.compile(r"^[0-9a-f]{16}$")
# What the diff shows for a secret that does not exist (before a create, after a removal).
ABSENT = "(absent)"


def by_name(secrets):
    return dict((secret["name"], secret) for secret in secrets)


class FlySecret(FlyModule):
    supports_check_mode = True
    resource_key = "fly_secret"
    argument_spec = dict(
        app=dict(type="str", required=True),
        secrets=dict(type="dict", default={}, no_log=True),
        names=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        update_mode=dict(type="str", choices=["digest", "always", "on_create"], default="digest"),
        restart_machines=dict(type="bool", default=False),
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]

    def validate(self):
        given(self.params, app=check_app_name, names=each(check_secret_name))
        check_secret_values("secrets", self.params["secrets"], values=self.params["state"] == "present")

    def secrets_by_name(self):
        return by_name(self.app_listing(self.client.list_secrets, self.app))

    def needs_write(self, current, name, value):
        mode = self.params["update_mode"]
        if current is None or mode == "always":
            return True
        if mode == "on_create":
            return False
        digest = current.get("digest") or ""
        if not OUR_DIGEST.match(digest):
            self.warnings.append("the API's digest of %s is not a SHA-256 prefix; the secret is written "
                                 "because its value cannot be compared" % name)
            return True
        return digest != secret_digest(value)

    def present(self):
        existing = self.secrets_by_name()
        changes = dict((name, str(value)) for name, value in self.params["secrets"].items()
                       if self.needs_write(existing.get(name), name, str(value)))
        return self.apply(existing, changes)

    def absent(self):
        existing = self.secrets_by_name()
        names = list(self.params["secrets"]) + self.params["names"]
        return self.apply(existing, dict((name, None) for name in names if name in existing))

    def apply(self, existing, changes):
        """Write ``changes`` (name -> value, or None to remove) in one request; answers the result."""
        result = {"app": self.app, "version": None, "changed_names": sorted(changes), "restarted_machines": []}
        if changes:
            self.changed = True
            self.differences.add_all(
                dict((name, existing.get(name, {}).get("digest", ABSENT)) for name in changes),
                dict((name, ABSENT if value is None else secret_digest(value)) for name, value in changes.items()))
            result["restarted_machines"] = self.machines_to_restart()
            if not self.check_mode:
                answer = self.client.update_secrets(self.app, changes)
                # An answer found after a lost one lists the secrets but has no version.
                result["version"] = answer.get("version")
                listed = answer.get("secrets")
                if listed is None:
                    listed = self.client.list_secrets(self.app)
                existing = by_name(listed)
                self.restart(result["restarted_machines"])
        result["secrets"] = [dict((key, value) for key, value in secret.items() if key != "value")
                             for secret in existing.values()]
        return result

    def restart(self, machine_ids):
        """Restart the machines, each under its lease (anyone else's lease is respected and named)."""
        with Leases(self.client, self.app) as leases:
            for machine_id in machine_ids:
                self.client.machine_action(self.app, machine_id, "restart", nonce=leases.acquire(machine_id))
            self.warnings.extend(leases.problems)

    def machines_to_restart(self):
        if not self.params["restart_machines"]:
            return []
        machines = self.app_listing(self.client.list_machines, self.app)
        return [machine["id"] for machine in machines if machine.get("state") == "started"]


def main():
    FlySecret.execute()


if __name__ == "__main__":
    main()
