# -*- coding: utf-8 -*-
# Copyright: Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's naming rule for Fly apps (and the GPU pool): ``<prefix>-<service, dashed>``.

Role defaults name their own app with it, and the roles that call another service name that
service's app with it when the inventory does not give ``<service>_app``.
"""

from __future__ import annotations

DEFAULT_PREFIX = "sophia"


def app_name(service, prefix=None):
    """``<prefix>-<service>`` with the service's underscores as dashes; no prefix (None) is ``sophia``."""
    if prefix is None:
        prefix = DEFAULT_PREFIX
    return "%s-%s" % (prefix, str(service).replace("_", "-"))


class FilterModule:
    def filters(self):
        return {"app_name": app_name}
