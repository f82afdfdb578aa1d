# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a module's arguments, run before its first request.

An operator's typo must not reach a production API: the API would refuse it in
its own words (or, worse, take it), after the module may already have written
something. A check that fails raises ``InvalidInput``, which names the option
(as the task spelled it, ``config.guest.cpus``, ``rules[2].source_network``)
and the values that option accepts; ``ApiModule.run`` turns it into the task's
failure before anything is sent.

The provider rules (Fly regions, guest sizes, name patterns; Lambda's name and
tag rules) live in ``fly_platform`` and ``lambda_platform``; this file holds the
shapes they share.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleFallbackNotFound

# Values echoed in a message are cut short: a message is for reading, and a long value may be a
# pasted secret.
SHOWN_CHARACTERS = 60


class InvalidInput(ValueError):
    """An argument the module refuses: ``option`` names it, ``accepted`` says what would do."""

    def __init__(self, option, why, accepted=None):
        self.option = option
        self.why = why
        self.accepted = accepted
        self.msg = "%s: %s" % (option, why) + ("; accepted: %s" % accepted if accepted else "")
        super().__init__(self.msg)


def shown(value):
    """A value as a message shows it: quoted when a string, cut short when long."""
    text = repr(value)
    if len(text) > SHOWN_CHARACTERS:
        text = text[:SHOWN_CHARACTERS - 3] + "..."
    return text


def listed(values):
    return ", ".join(str(value) for value in values)


def whole_number(option, value, low=None, high=None, unit=""):
    """An integer (not a boolean, not a string of digits: the APIs take JSON numbers) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(option, "%s is not a whole number" % shown(value), bounds(low, high, unit))
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInput(option, "%s is out of range" % value, bounds(low, high, unit))
    return value


def bounds(low, high, unit=""):
    unit = " " + unit if unit else ""
    if low is not None and high is not None:
        return "%s to %s%s" % (low, high, unit)
    if low is not None:
        return "%s%s or more" % (low, unit)
    if high is not None:
        return "%s%s or less" % (high, unit)
    return "a whole number"


def number_above(option, value, low, unit=""):
    """A number (int or float) strictly above ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > low:
        raise InvalidInput(option, "%s is not above %s" % (shown(value), low),
                           "a number above %s%s" % (low, " " + unit if unit else ""))
    return value


def one_of(option, value, accepted, what="value"):
    if value not in accepted:
        raise InvalidInput(option, "%s is not a known %s" % (shown(value), what), listed(accepted))
    return value


def matches(option, value, pattern, description, max_length=None, what="name"):
    """A string matching ``pattern`` (a compiled regex), at most ``max_length`` long."""
    accepted = "%s (%s)" % (description, pattern.pattern)
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidInput(option, "%s is not a valid %s" % (shown(value), what), accepted)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(option, "%s is %d characters long" % (what, len(value)),
                           "%s, at most %d characters" % (description, max_length))
    return value


def length_between(option, value, low, high, what="value", show=True):
    """A string of ``low`` to ``high`` characters; ``show=False`` keeps a secret value out of the message."""
    if not isinstance(value, str):
        raise InvalidInput(option, "%s is not a string" % (shown(value) if show else "the " + what),
                           "a string of %d to %d characters" % (low, high))
    if not low <= len(value) <= high:
        raise InvalidInput(option, "%s is %d characters long" % (what, len(value)),
                           "%d to %d characters" % (low, high))
    return value


def nonempty_env_fallback(*names):
    """Like ``env_fallback``, but an empty variable counts as unset, so the next one is read and a
    token that is set but empty is reported as missing instead of being sent."""
    for name in names:
        if (os.environ.get(name) or "").strip():
            return os.environ[name]
    raise AnsibleFallbackNotFound


def require_token(option, value, env_names):
    """An API token or key: present and not blank. Checked before the client exists, so a missing
    one fails at once, naming the option and the environment variables, without a network wait."""
    if isinstance(value, str) and value.strip():
        return value
    raise InvalidInput(option, "no API credential: the option is %s and %s %s unset or empty"
                       % ("empty" if isinstance(value, str) else "not set", " and ".join(env_names),
                          "are" if len(env_names) > 1 else "is"),
                       "set %s, or the environment variable %s" % (option, env_names[0]))


def http_options(params):
    """The HTTP options every cloud module shares."""
    number_above("request_timeout", params["request_timeout"], 0, "seconds")
    whole_number("max_retries", params["max_retries"], 0)


def given(params, within=None, **checks):
    """Run each ``check(option, value)`` on its option, where the task gave a value. ``within`` names the
    option that ``params`` are the suboptions of (``volume`` for ``volume.size_gb``)."""
    for option, check in checks.items():
        if params.get(option) is not None:
            check("%s.%s" % (within, option) if within else option, params[option])


def each(check):
    """A check of a list option that runs ``check`` on every element, named ``option[index]``."""
    def check_all(option, values):
        for index, value in enumerate(values):
            check("%s[%d]" % (option, index), value)
        return values
    return check_all


def at_least(low, unit=""):
    """A check of a whole number of ``low`` or more."""
    return lambda option, value: whole_number(option, value, low, unit=unit)
