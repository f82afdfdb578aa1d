# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every sophia.ops Fly module: the shared options and the client.

The rest (changed, diff, errors) is ``api_module.ApiModule``'s.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.sophia.ops.plugins.module_utils.api_module import ApiModule, ModuleFailure, http_argument_spec
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import DEFAULT_API_URL, FlyAPIError, FlyClient
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import nonempty_env_fallback

TOKEN_ENV = ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")


def fly_argument_spec():
    """Options shared by every Fly module (documented in the ``sophia.ops.fly`` doc fragment)."""
    return dict(
        # Not `required`: ApiModule checks it, naming the environment variables, and an empty one counts as unset.
        api_token=dict(type="str", no_log=True, fallback=(nonempty_env_fallback, list(TOKEN_ENV))),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["FLY_API_URL"])),
        **http_argument_spec()
    )


class FlyModule(ApiModule):
    resource_key = "fly_resource"
    credential_option = "api_token"
    credential_env = TOKEN_ENV

    @classmethod
    def base_argument_spec(cls):
        return fly_argument_spec()

    def build_client(self, params):
        return FlyClient(api_token=params["api_token"], api_url=params["api_url"],
                         timeout=params["request_timeout"], max_retries=params["max_retries"])

    def app_listing(self, func, app, *args, **kwargs):
        """A listing of something in ``app`` (machines, volumes, secrets, IPs). An app that does not
        exist has none: in check mode that is the prediction (the app is made by an earlier task
        of the same run); otherwise the task fails saying so."""
        try:
            return func(app, *args, **kwargs)
        except FlyAPIError as exc:
            if exc.status != 404:
                raise
            if self.check_mode:
                self.warnings.append("app %s does not exist yet; predicting as if it had nothing" % app)
                return []
            raise ModuleFailure("app %s does not exist; create it first (sophia.ops.fly_app)" % app,
                                api_error=exc.to_dict()) from None
