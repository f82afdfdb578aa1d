# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: local_stack
author: Sophia Intel AI platform team (@sophia-intel)
version_added: 0.1.0
short_description: Where the running local stack answers, for the local inventory
description:
  - Reads what C(scripts/local-emulators start) wrote into its state directory (each stand-in's port, the
    backend, the Docker stack's public network) so that C(inventories/local) finds the running stack without
    any variable set, whichever free ports it took (a port of 0) and from any directory (Molecule too).
  - An environment variable always wins (C(FLY_API_URL), C(LAMBDA_API_URL), C(SOPHIA_POSTGRES_PORT),
    C(SOPHIA_REDIS_PORT), C(LAMBDA_SSH_ALLOWED_CIDRS), C(SOPHIA_MONITORING_CIDRS)), then the state directory,
    then the script's default ports.
  - The state directory is C(SOPHIA_EMULATOR_DIR), else C(.cache/emulators) of this checkout.
options:
  _terms:
    description:
      - What to return, one or more of V(fly_api_url), V(lambda_api_url), V(postgres_port), V(redis_port),
        V(backend), V(stack), V(ssh_allowed_cidrs), V(monitoring_cidrs).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The Fly emulator the local stack runs
  ansible.builtin.debug:
    msg: "{{ lookup('sophia.ops.local_stack', 'fly_api_url') }}"
"""

RETURN = r"""
_raw:
  description: The values, one per term; the CIDR lists are lists of strings, the ports integers.
  type: list
  elements: raw
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# The repository root (this collection is the checkout itself: plugins/lookup/ is two levels down).
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_PORTS = {"fly": 4280, "lambda": 4290, "postgres": 4232, "redis": 4279}


def state_dir():
    return os.environ.get("SOPHIA_EMULATOR_DIR") or os.path.join(CHECKOUT, ".cache", "emulators")


def state_file(name):
    try:
        with open(os.path.join(state_dir(), name), encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def port(name, variable):
    # 0 in the environment asks the script for a free port: the one it took is in the state file.
    value = os.environ.get(variable, "").strip()
    if value in ("", "0"):
        value = state_file(name + ".port") or DEFAULT_PORTS[name]
    return int(value)


def cidrs(variable, with_loopback):
    if os.environ.get(variable):
        return [part.strip() for part in os.environ[variable].split(",") if part.strip()]
    subnet = state_file("public-subnet")
    return (["127.0.0.1/32"] if with_loopback else []) + ([subnet] if subnet else [])


def stack():
    if os.environ.get("SOPHIA_STACK"):
        return os.environ["SOPHIA_STACK"]
    # As scripts/local-emulators names it: from the state directory's real path.
    return "sophia-" + hashlib.sha1(os.path.realpath(state_dir()).encode()).hexdigest()[:10]


VALUES = {
    "fly_api_url": lambda: os.environ.get("FLY_API_URL") or "http://127.0.0.1:%d/v1" % port("fly", "FLY_EMULATOR_PORT"),
    "lambda_api_url": lambda: os.environ.get("LAMBDA_API_URL")
    or "http://127.0.0.1:%d/api/v1" % port("lambda", "LAMBDA_EMULATOR_PORT"),
    "postgres_port": lambda: port("postgres", "SOPHIA_POSTGRES_PORT"),
    "redis_port": lambda: port("redis", "SOPHIA_REDIS_PORT"),
    "backend": lambda: os.environ.get("SOPHIA_LOCAL_BACKEND") or state_file("backend") or "record",
    "stack": stack,
    "ssh_allowed_cidrs": lambda: cidrs("LAMBDA_SSH_ALLOWED_CIDRS", True),
    "monitoring_cidrs": lambda: cidrs("SOPHIA_MONITORING_CIDRS", False),
}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        unknown = [term for term in terms if term not in VALUES]
        if unknown:
            raise AnsibleLookupError("local_stack: unknown term(s) %s; known: %s" % (", ".join(unknown), ", ".join(VALUES)))
        return [VALUES[term]() for term in terms]
