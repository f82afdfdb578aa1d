# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every sophia.ops Lambda Cloud module: the shared options and the client.

The rest (changed, diff, errors, the one exit) is ``api_module.ApiModule``'s.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.sophia.ops.plugins.module_utils.api_module import ApiModule, http_argument_spec
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import nonempty_env_fallback
from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import (
    DEFAULT_API_URL,
    LAUNCH_INTERVAL,
    LambdaClient,
)

KEY_ENV = ("LAMBDA_API_KEY",)


def lambda_argument_spec():
    """Options shared by every Lambda module (documented in the ``sophia.ops.lambda_cloud`` doc fragment)."""
    return dict(
        # Not `required`: ApiModule checks it, naming the environment variable, and an empty one counts as unset.
        api_key=dict(type="str", no_log=True, fallback=(nonempty_env_fallback, list(KEY_ENV))),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["LAMBDA_API_URL"])),
        **http_argument_spec()
    )


class LambdaModule(ApiModule):
    resource_key = "lambda_resource"
    credential_option = "api_key"
    credential_env = KEY_ENV

    @classmethod
    def base_argument_spec(cls):
        return lambda_argument_spec()

    def build_client(self, params):
        # Only lambda_instance launches, so only it has the launch_interval option.
        return LambdaClient(api_key=params["api_key"], api_url=params["api_url"],
                            timeout=params["request_timeout"], max_retries=params["max_retries"],
                            launch_interval=params.get("launch_interval", LAUNCH_INTERVAL))
