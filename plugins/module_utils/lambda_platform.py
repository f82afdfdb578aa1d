# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda Cloud's rules, as the modules check them before their first request.

The static ones come from the request schemas of Lambda's OpenAPI document
(filesystem names, SSH key lengths, instance names, tags, user data, firewall
rules). Instance types and regions are the provider's catalogue: they are
checked against what the API lists, when the module reads it on its way to a
write (``check_in_catalogue``).

Each ``check_*`` answers the value or raises ``InvalidInput`` naming the option
and what it accepts.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.sophia.ops.plugins.module_utils.input_checks import (
    InvalidInput,
    length_between,
    listed,
    matches,
    one_of,
    shown,
    whole_number,
)

INSTANCE_NAME_MAX = 64
# A pool's instances are named <pool>-N: room is left for N up to 999.
POOL_NAME_MAX = INSTANCE_NAME_MAX - 4
FILESYSTEM_NAME = re.compile(r"^[a-zA-Z]+[0-9a-zA-Z-]*$")
FILESYSTEM_NAME_RULE = "letters, digits and dashes, starting with a letter"
FILESYSTEM_NAME_MAX = 60
SSH_KEY_NAME_MAX = 64
PUBLIC_KEY_MAX = 4096
# An OpenSSH public key line: type, base64 body, optional comment.
PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                        r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( .*)?$")
PUBLIC_KEY_RULE = "an OpenSSH public key line (type, base64 key, optional comment)"
TAG_KEY = re.compile(r"^[a-z][a-z0-9-:]+$")
TAG_KEY_RULE = "2 or more lowercase letters, digits, dashes and colons, starting with a letter"
TAG_KEY_MAX = 55
TAG_VALUE_MAX = 128
TAG_KEY_OTHER = re.compile(r"[^a-z0-9:-]")
# The keys of the tags the modules set themselves (a pool's name, launch markers).
OWN_TAG_PREFIX = "sophia-ops:"
USER_DATA_MAX_BYTES = 1024 * 1024
PROTOCOLS = ("tcp", "udp", "icmp", "all")
# Protocols whose rules need ports (the request schema: "not allowed for icmp but required for the others").
PORTED = ("tcp", "udp", "all")
PORTS = (1, 65535)
RULE_DESCRIPTION_MAX = 128


def check_pool_name(option, name):
    return length_between(option, name, 1, POOL_NAME_MAX, what="name")


def check_filesystem_name(option, name):
    return matches(option, name, FILESYSTEM_NAME, FILESYSTEM_NAME_RULE, max_length=FILESYSTEM_NAME_MAX,
                   what="filesystem name")


def check_ssh_key_name(option, name):
    return length_between(option, name, 1, SSH_KEY_NAME_MAX, what="SSH key name")


def check_public_key(option, key):
    length_between(option, key, 1, PUBLIC_KEY_MAX, what="public key", show=False)
    if not PUBLIC_KEY.match(key.strip()):
        raise InvalidInput(option, "this is not an OpenSSH public key", PUBLIC_KEY_RULE)
    return key


def check_tags(option, tags):
    """Tag keys and values as launches take them (values are sent as strings)."""
    for key in sorted(tags, key=str):
        matches(option, key, TAG_KEY, TAG_KEY_RULE, max_length=TAG_KEY_MAX, what="tag key")
        value = tags[key]
        if value is None or isinstance(value, (dict, list)):
            raise InvalidInput("%s.%s" % (option, key), "%s is not a tag value" % shown(value),
                               "a string of at most %d characters" % TAG_VALUE_MAX)
        if len(str(value)) > TAG_VALUE_MAX:
            raise InvalidInput("%s.%s" % (option, key), "value is %d characters long" % len(str(value)),
                               "at most %d characters" % TAG_VALUE_MAX)
    return tags


def tag_key(name):
    """A key as Lambda takes it: lowercase, and '-' for anything but letters, digits, '-' and ':'
    (the inventory's sophia_tags, shared with Fly, may have '_')."""
    return TAG_KEY_OTHER.sub("-", str(name).lower())


def launch_tags(tags):
    """Tags as a launch sends them: keys as Lambda takes them, values as strings."""
    return dict((tag_key(key), str(value)) for key, value in (tags or {}).items())


def tag_problems(tags, option="tags"):
    """One message per tag ``check_tags`` refuses, or whose key is of the collection's own
    (``sophia-ops:``, which the modules set)."""
    problems = []
    for key in sorted(tags or {}, key=str):
        try:
            check_tags(option, {key: tags[key]})
        except InvalidInput as exc:
            problems.append(exc.msg)
            continue
        if key.startswith(OWN_TAG_PREFIX):
            problems.append(InvalidInput("%s.%s" % (option, key), "the %s tags are the collection's own" % OWN_TAG_PREFIX,
                                         "any other tag name").msg)
    return problems


def check_user_data(option, user_data):
    """Size only: user data may hold secrets, so it is never shown."""
    size = len(user_data.encode("utf-8"))
    if size > USER_DATA_MAX_BYTES:
        raise InvalidInput(option, "user data is %d bytes" % size, "at most %d bytes (1 MB)" % USER_DATA_MAX_BYTES)
    return user_data


def check_source_network(option, value):
    """An IPv4 network in CIDR notation; a bare address is a /32. Host bits must be clear: the API would
    keep the network under another spelling, and every run would then see a difference."""
    accepted = "an IPv4 network such as 203.0.113.0/24, a single address, or 0.0.0.0/0"
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ipaddress.NetmaskValueError:
        raise InvalidInput(option, "%s has an invalid prefix length" % shown(value), accepted) from None
    except ValueError:
        try:
            network = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            raise InvalidInput(option, "%s is not an IPv4 network" % shown(value), accepted) from None
        raise InvalidInput(option, "%s has host bits set" % shown(value),
                           "its network, %s (%s)" % (network, accepted)) from None


def check_firewall_rule(option, rule):
    """One inbound rule: a protocol; tcp, udp and all need a [min, max] port range, icmp takes none."""
    protocol = one_of(option + ".protocol", rule.get("protocol"), PROTOCOLS, "protocol")
    ports = rule.get("port_range")
    if protocol in PORTED and not ports:
        raise InvalidInput(option + ".port_range", "a %s rule needs a port range" % protocol,
                           "[min, max] within %d-%d, [22, 22] for one port" % PORTS)
    if protocol == "icmp" and ports:
        raise InvalidInput(option + ".port_range", "icmp rules have no ports", "no port_range for icmp")
    if ports:
        if len(ports) != 2:
            raise InvalidInput(option + ".port_range", "%s is not [min, max]" % shown(ports),
                               "two ports within %d-%d, [22, 22] for one" % PORTS)
        for index, port in enumerate(ports):
            whole_number("%s.port_range[%d]" % (option, index), port, *PORTS)
        if ports[0] > ports[1]:
            raise InvalidInput(option + ".port_range", "%d is above %d" % tuple(ports), "[min, max] with min <= max")
    check_source_network(option + ".source_network", rule.get("source_network"))
    description = rule.get("description") or ""
    if len(description) > RULE_DESCRIPTION_MAX:
        raise InvalidInput(option + ".description", "%d characters" % len(description),
                           "at most %d characters" % RULE_DESCRIPTION_MAX)
    return rule


def check_in_catalogue(option, names, known, what):
    """``names`` (one name, or an option's list of them) are all ones the provider lists in ``known``."""
    known = sorted(name for name in known if name)
    for where, name in ([(option, names)] if isinstance(names, str) else
                        [("%s[%d]" % (option, index), name) for index, name in enumerate(names or [])]):
        if name not in known:
            raise InvalidInput(where, "%s is not a known %s" % (shown(name), what), listed(known) or "(none listed)")
    return names
