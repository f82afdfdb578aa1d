# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every Lambda Cloud module shares; see plugins/module_utils/lambda_cloud.py.
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - Lambda Cloud API key.
      - If not set, the environment variable E(LAMBDA_API_KEY) is used; set but empty counts as unset.
      - Required. Without a key from either source, or with an empty one, the task fails at once, before any
        request, naming the option and the variable.
    type: str
  api_url:
    description:
      - Base URL of the Lambda Cloud API, including the C(/api/v1) prefix.
      - If not set, the environment variable E(LAMBDA_API_URL) is used, then the public endpoint.
      - Point it at the local emulator (for example V(http://127.0.0.1:4290/api/v1)) for tests.
    type: str
    default: https://cloud.lambda.ai/api/v1
  request_timeout:
    description:
      - Seconds to wait for one HTTP answer.
    type: float
    default: 30
  max_retries:
    description:
      - How many times a request that failed with 408, 429, 5xx or a connection error is retried.
      - Retries back off exponentially with jitter. Requests are paced within Lambda's documented limits (one a
        second, launches one every 12 seconds); a throttled launch waits out the launch interval before it is sent
        again.
    type: int
    default: 6
notes:
  - Every Lambda module can take these options from a C(module_defaults) group, C(group/sophia.ops.lambda).
requirements:
  - requests
"""
