# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparing a wanted machine config with the one the Machines API holds.

The API stores a config with the platform's defaults filled in and with keys
it adds on its own. A config is "the same" when everything the user asked for
is there; only what the caller set is compared, so a field the platform fills
in (or, on the real API, leaves empty) never makes a run a change:

- top-level keys the user did not give are the platform's business and ignored;
- inside structured objects (``guest``, a service, a check, a mount, ...) keys
  the user did not give are ignored too (a ``guest`` of ``{cpus: 2}`` says
  nothing about ``cpu_kind`` or ``memory_mb``);
- maps of user data (``env``, ``metadata``, the names of ``checks``, ...) must
  have exactly the wanted keys, so that a removed variable is noticed;
- ``None``, ``{}`` and ``[]`` all mean "nothing".

Keys that sophia.ops writes for itself (the create marker) never count.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.sophia.ops.plugins.module_utils.diff import masked_values
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import CREATE_MARKER_KEY

# Maps whose keys are the user's data: an extra key on the server is a difference.
EXACT_KEY_MAPS = frozenset(("env", "metadata", "checks", "processes_env"))

# Metadata keys the module owns; they are never compared or shown.
PRIVATE_METADATA = frozenset((CREATE_MARKER_KEY,))


# Where the Machines API wants whole numbers in a machine config. The config option is a free-form dict, so its
# values keep the type their template gave them: before ansible-core 2.19, "{{ port | int }}" inside a dict renders
# as the string "8080", which the API refuses. A shape: a field name to int or to a nested shape, a one-item list
# for each element of a list, "*" for each value of a map. File modes are left alone ("0644" is octal).
WHOLE_NUMBER_FIELDS = {
    "guest": {"cpus": int, "gpus": int, "memory_mb": int, "max_memory_mb": int},
    "services": [{
        "internal_port": int,
        "min_machines_running": int,
        "ports": [{"port": int, "start_port": int, "end_port": int}],
        "concurrency": {"soft_limit": int, "hard_limit": int},
        "checks": [{"port": int}],
    }],
    "checks": {"*": {"port": int}},
    "mounts": [{"size_gb": int, "size_gb_limit": int, "add_size_gb": int, "extend_threshold_percent": int}],
    "metrics": {"port": int},
    "restart": {"max_retries": int},
    "init": {"swap_size_mb": int},
    "rootfs": {"size_gb": int},
    "cache_drive": {"size_mb": int},
}


WHOLE_NUMBER = re.compile(r"^\s*-?[0-9]+\s*$")


def whole_numbers(value, shape=None):
    """``value`` (a machine config by default) with decimal strings turned into numbers where ``shape`` has int;
    anything else, including a string that is no whole number, is left for the API to judge."""
    shape = WHOLE_NUMBER_FIELDS if shape is None else shape
    if shape is int:
        return int(value) if isinstance(value, str) and WHOLE_NUMBER.match(value) else value
    if isinstance(shape, list):
        return [whole_numbers(item, shape[0]) for item in value] if isinstance(value, list) else value
    if not isinstance(value, dict):
        return value
    if "*" in shape:
        return dict((name, whole_numbers(item, shape["*"])) for name, item in value.items())
    return dict((name, whole_numbers(item, shape[name]) if name in shape else item) for name, item in value.items())


def is_empty(value):
    return value is None or value == {} or value == []


def _scalar_equal(wanted, actual):
    if wanted == actual:
        return True
    # "8080" from a template and 8080 from the API are the same port.
    return not isinstance(wanted, (dict, list, bool)) and not isinstance(actual, (dict, list, bool)) \
        and str(wanted) == str(actual)


# A service's autostop is "off", "stop" or "suspend"; the API also takes and may answer the older
# booleans, false for "off" and true for "stop".
_AUTOSTOP_BOOLEANS = {False: "off", True: "stop"}


def _autostop(value):
    return _AUTOSTOP_BOOLEANS.get(value, value) if isinstance(value, bool) else value


def _matches(wanted, actual, key=None):
    if key == "autostop":
        return _autostop(wanted) == _autostop(actual)
    if is_empty(wanted):
        return is_empty(actual)
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        if key == "metadata":
            actual = dict((k, v) for k, v in actual.items() if k not in PRIVATE_METADATA)
        if key in EXACT_KEY_MAPS:
            wanted_keys = set(k for k, v in wanted.items() if not is_empty(v))
            actual_keys = set(k for k, v in actual.items() if not is_empty(v))
            if wanted_keys != actual_keys:
                return False
        return all(_matches(value, actual.get(name), name) for name, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(wanted) != len(actual):
            return False
        return all(_matches(w, a, key) for w, a in zip(wanted, actual))
    return _scalar_equal(wanted, actual)


def config_matches(wanted, actual):
    """True when the machine's ``actual`` config already is what ``wanted`` asks for."""
    actual = actual or {}
    return all(_matches(value, actual.get(name), name) for name, value in wanted.items())


def comparable(actual, wanted):
    """The part of ``actual`` that ``wanted`` speaks about, for a readable diff."""
    actual = actual or {}
    shown = {}
    for name in wanted or {}:
        value = copy.deepcopy(actual.get(name))
        if name == "metadata" and isinstance(value, dict):
            value = dict((k, v) for k, v in value.items() if k not in PRIVATE_METADATA)
        shown[name] = value
    return shown


def shown_configs(before, after):
    """Two machine configs as ``--diff`` shows them: ``env`` by its keys, each value marked unchanged, changed
    or new but never shown (an env value may be a credential the operator passed in the config)."""
    before, after = copy.deepcopy(before or {}), copy.deepcopy(after or {})
    if "env" in before or "env" in after:
        shown_before, shown_after = masked_values(before.get("env"), after.get("env"))
        if "env" in before:
            before["env"] = shown_before
        if "env" in after:
            after["env"] = shown_after
    return before, after
