# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_defaults
author: Sophia Intel AI platform team (@sophia-intel)
version_added: 0.1.0
short_description: A role's variables as the role itself would see them, without running it
description:
  - Reads the C(defaults/main.yml) of a role of this collection and returns the values of the named variables as they
    would be inside that role, the inventory and extra vars over the role's defaults, which may refer to each other.
  - Lets an environment-wide play (the preflight, a report) read what each service role declares, such as the names
    of the secrets it needs, when those are computed from other defaults.
options:
  _terms:
    description: Names of the variables.
    required: true
    type: list
    elements: str
  role:
    description: The role, by its short name inside sophia.ops (e.g. V(monitoring)).
    required: true
    type: str
  host:
    description:
      - Inventory host whose variables win over the defaults. Without it, the variables of the task's own host.
    type: str
  default:
    description: Returned for a variable that neither the variables nor the defaults define.
    type: raw
"""

EXAMPLES = r"""
- name: Secret names the monitoring app needs, its receiver chosen in the inventory or not
  ansible.builtin.debug:
    msg: "{{ lookup('sophia.ops.role_defaults', 'monitoring_secret_names', role='monitoring', host='monitoring') }}"
"""

RETURN = r"""
_raw:
  description: The values, one per name.
  type: list
  elements: raw
"""

import os
from collections import ChainMap

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# plugins/lookup/ -> the collection root, which holds roles/ both in a checkout and once installed.
ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")
_MISSING = object()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        role = self.get_option("role")
        path = os.path.join(ROLES_DIR, role, "defaults", "main.yml")
        if not os.path.isfile(path):
            raise AnsibleLookupError("role_defaults: sophia.ops has no role %r with defaults (%s)" % (role, path))
        # Trusted like the role's own defaults, so their templates render as they would inside the role.
        defaults = self._loader.load_from_file(path, trusted_as_template=True) or {}
        own = variables or {}
        host = self.get_option("host")
        if host:
            # The host's variables untemplated, so they render in the role's context like the defaults do.
            if "hostvars" not in own or host not in own["hostvars"]:
                raise AnsibleLookupError("role_defaults: no inventory host %r" % host)
            own = own["hostvars"].raw_get(host)
        # Variables first, defaults last: the precedence a role's defaults have.
        context = ChainMap(own, defaults)
        templar = self._templar.copy_with_new_env(available_variables=context)
        fallback = self.get_option("default") if "default" in kwargs else _MISSING
        values = []
        for term in terms:
            if term in context:
                values.append(templar.template(context[term]))
            elif fallback is not _MISSING:
                values.append(fallback)
            else:
                raise AnsibleLookupError("role_defaults: %s is set neither for the host nor in the defaults of %s"
                                         % (term, role))
        return values
