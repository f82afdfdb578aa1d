# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every sophia.ops cloud module (Fly.io and Lambda Cloud).

A provider base (``fly.FlyModule``, ``lambda_cloud.LambdaModule``) builds its
client; a module subclasses it, names the key its result is returned under
(``resource_key``) and implements its verbs (``present``, ``absent``, ...).
This class owns ``changed``, the before/after diff, warnings and the
translation of API errors into ``fail_json``.
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sophia.ops.plugins.module_utils.api_client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    APIError,
)


def http_argument_spec():
    """The HTTP options every cloud module shares (documented in each provider's doc fragment)."""
    return dict(
        request_timeout=dict(type="float", default=30),
        max_retries=dict(type="int", default=6),
    )


class ApiModule:
    resource_key = "resource"

    def __init__(self, module, resource_key=None):
        self.module = module
        if resource_key:  # info modules use a provider base as it is
            self.resource_key = resource_key
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        self.client = self.build_client(module.params)
        self.changed = False
        self.diff = {"before": {}, "after": {}}
        self.warnings = []

    def build_client(self, params):
        raise NotImplementedError

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
        except APIError as exc:
            self.fail_api(exc, action)

    def exit(self, resource, **extra):
        result = dict(changed=self.changed, **extra)
        result[self.resource_key] = resource
        if self.module._diff:
            result["diff"] = self.diff
        for warning in self.warnings:
            self.module.warn(warning)
        self.module.exit_json(**result)
