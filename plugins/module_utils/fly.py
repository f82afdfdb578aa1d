# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every sophia.ops Fly module.

A module subclasses ``FlyModule``, names the key its result is returned under
(``resource_key``), and implements its verbs (``present``, ``absent``, ...).
The base owns the shared options, the client, ``changed``, the before/after
diff and the translation of API errors into ``fail_json``.
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.sophia.ops.plugins.module_utils.api_client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import DEFAULT_API_URL, FlyAPIError, FlyClient


def fly_argument_spec():
    """Options shared by every Fly module (documented in the ``sophia.ops.fly`` doc fragment)."""
    return dict(
        api_token=dict(type="str", required=True, no_log=True,
                       fallback=(env_fallback, ["FLY_API_TOKEN", "FLY_ACCESS_TOKEN"])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["FLY_API_URL"])),
        request_timeout=dict(type="float", default=30),
        max_retries=dict(type="int", default=6),
    )


def drop_empty(value):
    """Remove None, empty dicts and empty lists, recursively.

    The API answers unset fields as null, {} or [] interchangeably; comparing
    after this keeps a second run from seeing differences that are not there.
    """
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            item = drop_empty(item)
            if item is None or item == {} or item == []:
                continue
            cleaned[key] = item
        return cleaned
    if isinstance(value, list):
        return [drop_empty(item) for item in value]
    return value


class FlyModule:
    """Shared plumbing; subclasses implement the verbs for one resource."""

    resource_key = "fly_resource"

    def __init__(self, module, resource_key=None):
        self.module = module
        if resource_key:  # info modules use the base class as it is
            self.resource_key = resource_key
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        params = module.params
        self.client = FlyClient(
            api_token=params["api_token"],
            api_url=params["api_url"],
            timeout=params["request_timeout"],
            max_retries=params["max_retries"],
        )
        self.changed = False
        self.diff = {"before": {}, "after": {}}
        self.warnings = []

    @property
    def check_mode(self):
        return self.module.check_mode

    def set_diff(self, before, after):
        """Record what the resource looked like before and what it will look like after."""
        self.diff = {"before": copy.deepcopy(before or {}), "after": copy.deepcopy(after or {})}

    def fail_api(self, exc, action):
        """Fail the task with everything an operator needs to chase an API error."""
        self.module.fail_json(msg="%s failed: %s" % (action, exc), api_error=exc.to_dict())

    def call(self, action, func, *args, **kwargs):
        """Run one client call; an API error ends the task with a clear message."""
        try:
            return func(*args, **kwargs)
        except FlyAPIError as exc:
            self.fail_api(exc, action)

    def exit(self, resource, **extra):
        result = dict(changed=self.changed, **extra)
        result[self.resource_key] = resource
        if self.module._diff:
            result["diff"] = self.diff
        for warning in self.warnings:
            self.module.warn(warning)
        self.module.exit_json(**result)
