# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every Fly module shares; see plugins/module_utils/fly.py.
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Fly.io API token.
      - Macaroon tokens (V(fm1_...), V(fm2_...)) are sent with the C(FlyV1) scheme, others as C(Bearer).
      - If not set, the environment variables E(FLY_API_TOKEN) and then E(FLY_ACCESS_TOKEN) are used; a variable
        that is set but empty counts as unset.
      - Required. Without a token from either source, or with an empty one, the task fails at once, before any
        request, naming the option and the variables.
    type: str
  api_url:
    description:
      - Base URL of the Machines API, including the C(/v1) prefix.
      - If not set, the environment variable E(FLY_API_URL) is used, then the public endpoint.
      - Point it at the local emulator (for example V(http://127.0.0.1:4280/v1)) for tests.
    type: str
    default: https://api.machines.dev/v1
  request_timeout:
    description:
      - Seconds to wait for one HTTP answer.
    type: float
    default: 30
  max_retries:
    description:
      - How many times a request that failed with 408, 429, 5xx or a connection error is retried.
      - Retries back off exponentially with jitter and honour C(Retry-After). Requests are paced within the
        documented rate limits (per action and machine or app). A write whose answer was lost is only sent again
        after the state shows it did not take effect.
    type: int
    default: 6
notes:
  - Every Fly module can take these options from a C(module_defaults) group, C(group/sophia.ops.fly).
requirements:
  - requests
"""
