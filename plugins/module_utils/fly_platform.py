# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Fly.io platform's rules, as the modules check them before their first request.

From Fly's documentation: the public region list; machine sizes (``guest``) by
CPU kind, with memory in steps of 256 MB within bounds per CPU; volume sizes;
the names of apps, volumes and secrets. The Fly emulator enforces the same
rules server-side (``emulators/fly/platform.py``), so a module that let a bad
value through would be caught by the tests.

Each ``check_*`` answers the value or raises ``InvalidInput`` naming the option
and what it accepts.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.sophia.ops.plugins.module_utils.input_checks import (
    InvalidInput,
    listed,
    matches,
    one_of,
    shown,
    whole_number,
)

# Fly's public regions.
REGIONS = (
    "ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra", "gdl", "gig", "gru",
    "hkg", "iad", "jnb", "lax", "lhr", "mad", "mia", "nrt", "ord", "otp", "phx", "qro", "scl", "sea", "sin",
    "sjc", "syd", "waw", "yul", "yyz",
)

# cpu_kind -> (CPU counts offered, least and most memory per CPU in MB).
CPU_KINDS = {
    "shared": ((1, 2, 4, 6, 8), 256, 2048),
    "performance": ((1, 2, 4, 8, 16), 2048, 8192),
}
MEMORY_STEP_MB = 256
# What the platform fills in for a guest field left out (each on its own).
GUEST_DEFAULTS = {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}

VOLUME_SIZE_GB = (1, 500)
SNAPSHOT_RETENTION_DAYS = (1, 60)

APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
APP_NAME_RULE = "3 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit"
VOLUME_NAME = re.compile(r"^[a-z0-9_]{1,30}$")
VOLUME_NAME_RULE = "1 to 30 lowercase letters, digits and underscores"
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_NAME_RULE = "letters, digits and underscores, not starting with a digit"
SECRET_NAME_MAX = 256
# A certificate's hostname: DNS labels, optionally a leading wildcard label.
HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", re.IGNORECASE)
HOSTNAME_RULE = "a DNS name such as api.example.com (or *.example.com), at most 253 characters"
HOSTNAME_MAX = 253


def check_app_name(option, name):
    return matches(option, name, APP_NAME, APP_NAME_RULE, what="app name")


def check_volume_name(option, name):
    return matches(option, name, VOLUME_NAME, VOLUME_NAME_RULE, what="volume name")


def check_secret_name(option, name):
    return matches(option, name, SECRET_NAME, SECRET_NAME_RULE, max_length=SECRET_NAME_MAX, what="secret name")


def check_secret_values(option, secrets, values=True):
    """Names of ``secrets`` (a mapping), and, with ``values``, that each has a value that can be written. A
    value is never shown: the message names the secret."""
    for name in sorted(secrets, key=str):
        if not isinstance(name, str) or not SECRET_NAME.match(name) or len(name) > SECRET_NAME_MAX:
            rule = "%s, at most %d characters (%s)" % (SECRET_NAME_RULE, SECRET_NAME_MAX, SECRET_NAME.pattern)
            raise InvalidInput(option, "%s is not a valid secret name" % shown(name), rule)
        value = secrets[name]
        if values and value is None:
            raise InvalidInput("%s.%s" % (option, name), "the value is empty (null)",
                               "a string; numbers and booleans are written as their text")
        if values and isinstance(value, (dict, list)):
            kind = "list" if isinstance(value, list) else "mapping"
            raise InvalidInput("%s.%s" % (option, name), "the value is a %s" % kind,
                               "a string; numbers and booleans are written as their text")
    return secrets


def check_ip_address(option, address):
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InvalidInput(option, "%s is not an IP address" % shown(address),
                           "an IPv4 or IPv6 address assigned to the app") from None
    return address


def check_hostname(option, hostname):
    return matches(option, hostname, HOSTNAME, HOSTNAME_RULE, max_length=HOSTNAME_MAX, what="hostname")


def check_region(option, region, also=()):
    """One of Fly's regions (or one of ``also``, such as ``global`` for an IP address)."""
    return one_of(option, region, tuple(also) + REGIONS, "Fly.io region")


def check_regions(option, regions):
    for index, region in enumerate(regions):
        check_region("%s[%d]" % (option, index), region)
    return regions


def check_volume_size(option, size_gb):
    return whole_number(option, size_gb, *VOLUME_SIZE_GB, unit="GB")


def check_snapshot_retention(option, days):
    return whole_number(option, days, *SNAPSHOT_RETENTION_DAYS, unit="days")


def memory_range(cpu_kind, cpus):
    """Least and most memory (MB) a machine of ``cpus`` CPUs of ``cpu_kind`` may have."""
    dummy, least, most = CPU_KINDS[cpu_kind]
    return least * cpus, most * cpus


def check_guest(option, guest):
    """A machine size: its CPU kind, a CPU count that kind offers, and memory in 256 MB steps within
    the kind's bounds for that many CPUs. A field left out counts as the platform's default for it,
    since that is what the machine gets."""
    if guest is None:
        return guest
    if not isinstance(guest, dict):
        raise InvalidInput(option, "%s is not a mapping" % shown(guest), "a mapping of cpu_kind, cpus, memory_mb")
    size = dict(GUEST_DEFAULTS, **guest)
    kind = one_of(option + ".cpu_kind", size["cpu_kind"], tuple(CPU_KINDS), "CPU kind")
    offered = CPU_KINDS[kind][0]
    cpus = whole_number(option + ".cpus", size["cpus"])
    if cpus not in offered:
        raise InvalidInput(option + ".cpus", "%d CPUs are not offered with cpu_kind %s" % (cpus, kind),
                           listed(offered))
    memory = whole_number(option + ".memory_mb", size["memory_mb"])
    least, most = memory_range(kind, cpus)
    plural = "" if cpus == 1 else "s"
    accepted = "%d to %d MB in steps of %d for %d %s CPU%s" % (least, most, MEMORY_STEP_MB, cpus, kind, plural)
    left_out = "" if "memory_mb" in guest else " (left out, the platform gives %d MB)" % memory
    if memory % MEMORY_STEP_MB:
        raise InvalidInput(option + ".memory_mb", "%d MB is not a multiple of %d" % (memory, MEMORY_STEP_MB),
                           accepted)
    if not least <= memory <= most:
        raise InvalidInput(option + ".memory_mb", "%d MB is out of range%s" % (memory, left_out), accepted)
    return guest
