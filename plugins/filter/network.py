# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of address blocks given in inventories, before they reach a provider's firewall."""

from __future__ import annotations

import ipaddress


def ipv4_network_errors(networks):
    """One line per entry that is not an IPv4 network: a bare address is a /32, and a block with host bits
    set (``10.1.2.3/8``) is refused rather than widened or narrowed behind the operator's back."""
    if networks is None:
        return []
    if isinstance(networks, str) or not isinstance(networks, (list, tuple)):
        return ["%r: expected a list of IPv4 CIDR blocks" % (networks,)]
    errors = []
    for entry in networks:
        text = str(entry).strip() if isinstance(entry, str) else None
        if not text:
            errors.append("%r: not an IPv4 CIDR block" % (entry,))
            continue
        try:
            ipaddress.IPv4Network(text, strict=True)
        except ValueError as exc:
            hint = ""
            try:
                hint = "; did you mean %s?" % ipaddress.IPv4Network(text, strict=False)
            except ValueError:
                pass
            errors.append("%s: %s%s" % (text, exc, hint))
    return errors


class FilterModule:
    def filters(self):
        return {"ipv4_network_errors": ipv4_network_errors}
