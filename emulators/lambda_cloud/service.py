"""The Lambda Cloud API (``/api/v1``) as the emulator serves it.

Contract: the official OpenAPI document (1.10.0). Answers are ``{"data": ...}``,
errors ``{"error": {"code", "message", "suggestion"}}`` with the code the document
gives for the operation and status; a throttled request gets a 429 with a plain-text
body, as Lambda's edge answers it. Every request body and query is checked against the
document's request schema (``schemas.py``) before a handler runs.

``LambdaService`` is the common serving (auth, routing, request schemas, faults, rate limits, the
request log; emulators/common/server.py) with Lambda's own error shape, auth and limits. What it serves
is one module per resource, each a route table of plain functions over one ``LambdaState`` (state.py):

    catalog.py      /instance-types, /regions, /images; control: capacity
    instances.py    /instances[/{id}], /instance-operations/{launch,restart,terminate}; control: instances/{id}
    ssh_keys.py     /ssh-keys[/{id}]
    filesystems.py  /file-systems, /filesystems[/{id}]
    firewall.py     /firewall-rules, /firewall-rulesets[/global|/{id}]
"""

from __future__ import annotations

import base64
import functools

from emulators.common.server import HTTPError, Service
from emulators.lambda_cloud import catalog, filesystems, firewall, instances, ssh_keys
from emulators.lambda_cloud.errors import error_body
from emulators.lambda_cloud.state import LambdaState

RESOURCES = (catalog, instances, ssh_keys, filesystems, firewall)


class LambdaService(Service):
    prefix = "/api/v1"
    default_settings = {"rate_limits": True, "boot_seconds": 1.0, "launch_interval_seconds": 12.0,
                        "instance_quota": 20}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        self.state = LambdaState(store, self.settings)
        for resource in RESOURCES:
            for method, pattern, handler, action, options in resource.ROUTES:
                self.add_route(method, pattern, functools.partial(handler, self.state), action, **options)
            for method, pattern, handler in getattr(resource, "CONTROL_ROUTES", ()):
                self.add_control_route(method, pattern, functools.partial(handler, self.state))

    # --- the Docker backend (python -m emulators.lambda_cloud --backend docker --stack S) ----------------
    def use_docker(self, stack, data_dir):
        """Launch every instance as a GPU-node container of the stack ``stack`` (docker_backend.py)."""
        from emulators.lambda_cloud.docker_backend import DockerInstances  # the record backend needs no engine

        self.state.machines = DockerInstances(stack)

    def close(self):
        """Nothing to stop: the instances' containers outlive the emulator, as VMs outlive the API."""

    def restorable(self):
        return self.state.machines is None

    def reset_state(self):
        if self.state.machines is not None:
            self.state.machines.remove_all()
        super().reset_state()

    # --- shape of errors, auth and limits ------------------------------------
    def error_body(self, status, message):
        return error_body(status, message)

    def rate_limited_answer(self, retry_after):
        return HTTPError(429, error_body(429, ""))

    def authorized(self, header):
        """Bearer <key>, or Basic with the key as user and an empty password (or the bare key)."""
        if header == "Bearer " + self.token:
            return True
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except ValueError:
                decoded = header[6:].strip()
            return decoded in (self.token + ":", self.token) or header[6:].strip() == self.token
        return False

    def rate_limit(self, route, request):
        # Docs: 1 request a second per key; launches 1 every 12 seconds.
        if route.action == "launch":
            return ("launch", 1.0 / float(self.settings["launch_interval_seconds"]), 1)
        return ("api", 1, 5)
