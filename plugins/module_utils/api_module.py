# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every sophia.ops cloud module (Fly.io and Lambda Cloud).

A provider base (``fly.FlyModule``, ``lambda_cloud.LambdaModule``) adds its
options and builds its client. A module subclasses it and declares, on the
class, its options (``argument_spec``), the rules between them
(``module_options``) and the key its result is returned under
(``resource_key``), and implements its verbs (``present``, ``absent``, ...);
its ``main()`` is ``TheModule.execute()``.

Verbs *return* the resource; they end a task early only by raising
(``self.fail(...)``, or an ``APIError`` of the client, which names the
request). ``run()`` picks the verb for ``state`` and exits exactly once, on
success and on failure, with ``changed``, the diff, warnings and any extra
result keys (``self.extra``).

Arguments are checked before the first request (``validate``, with the rules
of ``input_checks``, ``fly_platform`` and ``lambda_platform``): a bad one fails
the task naming the option and what it accepts, with nothing sent.

``changed`` tells the truth on failure too: besides what the module marked, a
write the client sent that did (or, its answer lost, may have) take effect
counts.
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.sophia.ops.plugins.module_utils.api_client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    APIError,
)
from ansible_collections.sophia.ops.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import InvalidInput, http_options, require_token
from ansible_collections.sophia.ops.plugins.module_utils.waiter import WaitFailed, WaitTimeout


def http_argument_spec():
    """The HTTP options every cloud module shares (documented in each provider's doc fragment)."""
    return dict(
        request_timeout=dict(type="float", default=30),
        max_retries=dict(type="int", default=6),
    )


class ModuleFailure(Exception):
    """Ends the task as failed; ``result`` keys go into the task result beside ``msg``."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


class ApiModule:
    resource_key = "resource"
    # The module's own options, and AnsibleModule's rules between them (required_if, mutually_exclusive, ...).
    argument_spec = {}
    module_options = {}
    # Each module says so itself; a module that does not is run only for real.
    supports_check_mode = False
    # The option holding the API credential and the environment variables it falls back to (provider bases).
    credential_option = None
    credential_env = ()

    @classmethod
    def base_argument_spec(cls):
        """The options every module of the provider shares; provider bases extend it."""
        return http_argument_spec()

    @classmethod
    def define_module(cls):
        argument_spec = cls.base_argument_spec()
        argument_spec.update(copy.deepcopy(cls.argument_spec))
        return AnsibleModule(argument_spec=argument_spec, supports_check_mode=cls.supports_check_mode,
                             **cls.module_options)

    @classmethod
    def execute(cls):
        """A module's whole ``main()``: parse the arguments, run the verb, exit once."""
        cls(cls.define_module()).run()

    def __init__(self, module):
        self.module = module
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if self.credential_option:
            # Before the client exists: a missing token fails here, not after a round of retried 401s.
            try:
                require_token(self.credential_option, module.params.get(self.credential_option), self.credential_env)
            except InvalidInput as exc:
                module.fail_json(msg=exc.msg, changed=False, invalid_option=exc.option)
        self.client = self.build_client(module.params)
        self.changed = False
        # What the run changes (or, in check mode, would), field by field, for --diff.
        self.differences = DifferenceTracker()
        self.warnings = []
        # Result keys beside the resource (a rollout's summary, a key's path, ...), on failure too.
        self.extra = {}

    def build_client(self, params):
        raise NotImplementedError

    def validate(self):
        """Check the arguments against the platform's rules before the first request; raise
        ``InvalidInput`` (``input_checks``) naming the option. Modules with something to check override it."""

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def params(self):
        return self.module.params

    # ----------------------------------------------------------- for verbs
    def fail(self, msg, **result):
        raise ModuleFailure(msg, **result)

    # ------------------------------------------------------------ the run
    def dispatch(self):
        """The verb for ``state``: a method of that name. Modules without ``state`` override this."""
        return getattr(self, self.params["state"])()

    def run(self):
        """Run the verb and exit once, with the one result shape, whatever happened."""
        try:
            http_options(self.params)
            self.validate()
            resource = self.dispatch()
        except InvalidInput as exc:
            self.finish(failed=exc.msg, extra={"invalid_option": exc.option})
        except ModuleFailure as exc:
            self.finish(failed=exc.msg, extra=exc.result)
        except APIError as exc:
            self.finish(failed=str(exc), extra={"api_error": exc.to_dict()})
        except (WaitTimeout, WaitFailed) as exc:
            self.finish(failed=str(exc))
        self.finish(resource=resource)

    def finish(self, resource=None, failed=None, extra=None):
        result = dict(self.extra, **(extra or {}))
        # A verb marks `changed` before it writes; on failure only the writes that did (or, their answer
        # lost, may have) taken effect count.
        if failed is not None and not self.check_mode:
            result["changed"] = bool(self.client.state_changes)
        else:
            result["changed"] = bool(self.changed or self.client.state_changes)
        if failed is None:
            result[self.resource_key] = resource
        if self.module._diff:
            result["diff"] = self.differences.as_diff()
        for warning in self.warnings:
            self.module.warn(warning)
        if failed is not None:
            self.module.fail_json(msg=failed, **result)
        self.module.exit_json(**result)
