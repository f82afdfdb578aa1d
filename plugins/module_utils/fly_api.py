# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the Fly.io Machines API, shared by every sophia.ops Fly module
and by the fleet inventory plugin.

What it owns, so that the modules do not have to (timeouts and retries with
jittered backoff come from the HTTP core in ``api_client``):
- authentication (``Bearer`` for plain tokens, ``FlyV1`` for macaroon tokens);
- retry-safe creates: before a create is retried, the client looks for the
  object the lost attempt may have made, so a lost answer never makes two;
- the ``fly-request-id`` of every answer, carried into error messages;
- leases, ``wait`` with deadlines longer than the API's 60 second cap, and
  cursor pagination.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import time
import uuid

from ansible_collections.sophia.ops.plugins.module_utils.api_client import (
    RETRYABLE_STATUSES,
    APIError,
    RetryingClient,
)

DEFAULT_API_URL = "https://api.machines.dev/v1"
USER_AGENT = "sophia.ops/0.1.0"

# Metadata key written on a machine at create time. If a create's answer is
# lost, the client finds the machine by this key instead of creating another.
CREATE_MARKER_KEY = "sophia_ops_create_id"

# The Machines API caps one wait call at 60 seconds.
MAX_WAIT_CHUNK = 60


def secret_digest(value):
    """The digest the secrets listing shows for a value: the first 16 hex digits of its SHA-256.

    Values cannot be read back, so this is how a module tells whether a secret
    already holds the wanted value.
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


class FlyAPIError(APIError):
    """An answer the caller did not ask for, or no answer at all."""

    api_name = "Fly API"
    request_id_label = "fly-request-id"


class FlyTimeout(FlyAPIError):
    """A wait that did not see the state it waited for in time."""


def authorization_header(token):
    """Fly macaroon tokens (``fm1_``/``fm2_``) use the FlyV1 scheme; others Bearer."""
    token = token.strip()
    if token.startswith(("FlyV1 ", "Bearer ")):
        return token
    if token.startswith(("fm1", "fm2")):
        return "FlyV1 " + token
    return "Bearer " + token


class FlyClient(RetryingClient):
    """The Machines API, resource by resource."""

    error_class = FlyAPIError
    request_id_header = "fly-request-id"

    def __init__(self, api_token, api_url=DEFAULT_API_URL, timeout=30.0, max_retries=6,
                 max_retry_seconds=120.0, user_agent=USER_AGENT, sleep=time.sleep):
        super().__init__(api_url, {"Authorization": authorization_header(api_token), "User-Agent": user_agent,
                                   "Accept": "application/json"},
                         timeout=timeout, max_retries=max_retries, max_retry_seconds=max_retry_seconds, sleep=sleep)

    def paginate(self, path, items_key, params=None, limit=None, max_pages=1000):
        """Follow ``next_cursor`` through a cursor-paginated listing."""
        params = dict(params or {})
        if limit:
            params["limit"] = limit
        items = []
        for dummy in range(max_pages):
            page = self.request("GET", path, params=params)
            items.extend(page.get(items_key) or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return items
            params["cursor"] = cursor
        raise FlyAPIError("pagination did not end after %d pages" % max_pages, method="GET", path=path)

    # ------------------------------------------------------------------ apps
    def get_app(self, app):
        return self.get_or_none("/apps/%s" % app)

    def list_apps(self, org_slug):
        return self.request("GET", "/apps", params={"org_slug": org_slug}).get("apps") or []

    def create_app(self, app, org_slug, network=None):
        body = {"app_name": app, "org_slug": org_slug}
        if network:
            body["network"] = network
        # The name is the marker: a lost answer is found by looking the app up.
        self.request("POST", "/apps", json=body, before_retry=lambda: self.get_app(app))
        return self.get_app(app)

    def delete_app(self, app, force=False):
        params = {"force": "true"} if force else None
        self.request("DELETE", "/apps/%s" % app, params=params, ok=(200, 202, 204))

    # -------------------------------------------------------------- machines
    def list_machines(self, app, region=None, include_deleted=False, metadata=None):
        params = {}
        if region:
            params["region"] = region
        if include_deleted:
            params["include_deleted"] = "true"
        for key, value in (metadata or {}).items():
            params["metadata.%s" % key] = value
        machines = self.request("GET", "/apps/%s/machines" % app, params=params) or []
        # Filter here too: the metadata filter is a documented hint, not a promise.
        if metadata:
            machines = [m for m in machines
                        if all(((m.get("config") or {}).get("metadata") or {}).get(k) == v
                               for k, v in metadata.items())]
        return machines

    def get_machine(self, app, machine_id):
        return self.get_or_none("/apps/%s/machines/%s" % (app, machine_id))

    def create_machine(self, app, body):
        """Create a machine; retry-safe through a metadata marker."""
        body = copy.deepcopy(body)
        marker = uuid.uuid4().hex
        config = body.setdefault("config", {})
        config.setdefault("metadata", {})
        config["metadata"] = dict(config["metadata"] or {}, **{CREATE_MARKER_KEY: marker})

        def find_made():
            made = self.list_machines(app, metadata={CREATE_MARKER_KEY: marker})
            return made[0] if made else None

        return self.request("POST", "/apps/%s/machines" % app, json=body, before_retry=find_made)

    def update_machine(self, app, machine_id, body, nonce=None):
        return self.request("POST", "/apps/%s/machines/%s" % (app, machine_id), json=body,
                            headers=self._lease_headers(nonce))

    def machine_action(self, app, machine_id, action, nonce=None, json=None, params=None):
        """start, stop, restart, suspend, cordon, uncordon."""
        return self.request("POST", "/apps/%s/machines/%s/%s" % (app, machine_id, action),
                            json=json, params=params, headers=self._lease_headers(nonce))

    def delete_machine(self, app, machine_id, force=False, nonce=None):
        params = {"force": "true"} if force else None
        try:
            self.request("DELETE", "/apps/%s/machines/%s" % (app, machine_id), params=params,
                         headers=self._lease_headers(nonce))
        except FlyAPIError as exc:
            if exc.status != 404:  # already gone is what was asked for
                raise

    def machine_versions(self, app, machine_id):
        return self.request("GET", "/apps/%s/machines/%s/versions" % (app, machine_id)) or []

    def wait_machine(self, app, machine_id, state="started", instance_id=None, timeout=60):
        """Wait for a state, in calls of at most 60 s, up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        path = "/apps/%s/machines/%s/wait" % (app, machine_id)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FlyTimeout("machine %s did not reach state %s within %ss" % (machine_id, state, timeout),
                                 status=408, method="GET", path=path, request_id=self.last_request_id)
            params = {"state": state, "timeout": int(max(1, min(MAX_WAIT_CHUNK, remaining)))}
            if instance_id:
                params["instance_id"] = instance_id
            try:
                # A 408 here is the wait's own deadline, not a lost request.
                return self.request("GET", path, params=params,
                                    retry_statuses=RETRYABLE_STATUSES - {408},
                                    timeout=params["timeout"] + self.timeout)
            except FlyAPIError as exc:
                if exc.status != 408:
                    raise

    # ---------------------------------------------------------------- leases
    @staticmethod
    def _lease_headers(nonce):
        return {"fly-machine-lease-nonce": nonce} if nonce else None

    def acquire_lease(self, app, machine_id, ttl=120, description="sophia.ops"):
        answer = self.request("POST", "/apps/%s/machines/%s/lease" % (app, machine_id),
                              json={"ttl": int(ttl), "description": description})
        data = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        return data["nonce"]

    def release_lease(self, app, machine_id, nonce):
        self.request("DELETE", "/apps/%s/machines/%s/lease" % (app, machine_id),
                     headers=self._lease_headers(nonce), ok=(200, 204, 404))

    @contextlib.contextmanager
    def lease(self, app, machine_id, ttl=120, description="sophia.ops"):
        """Hold a machine's lease for the block; always release it after."""
        nonce = self.acquire_lease(app, machine_id, ttl=ttl, description=description)
        try:
            yield nonce
        finally:
            with contextlib.suppress(FlyAPIError):
                self.release_lease(app, machine_id, nonce)

    # --------------------------------------------------------------- volumes
    def list_volumes(self, app):
        return self.request("GET", "/apps/%s/volumes" % app) or []

    def get_volume(self, app, volume_id):
        return self.get_or_none("/apps/%s/volumes/%s" % (app, volume_id))

    def create_volume(self, app, body):
        """Create a volume; a lost answer is found as a volume that was not there before."""
        known = set(v["id"] for v in self.list_volumes(app))

        def find_made():
            for volume in self.list_volumes(app):
                if (volume["id"] not in known and volume.get("name") == body.get("name")
                        and volume.get("region") == body.get("region")):
                    return volume
            return None

        return self.request("POST", "/apps/%s/volumes" % app, json=body, before_retry=find_made)

    def update_volume(self, app, volume_id, body):
        return self.request("PUT", "/apps/%s/volumes/%s" % (app, volume_id), json=body)

    def extend_volume(self, app, volume_id, size_gb):
        return self.request("PUT", "/apps/%s/volumes/%s/extend" % (app, volume_id), json={"size_gb": size_gb})

    def delete_volume(self, app, volume_id):
        return self.request("DELETE", "/apps/%s/volumes/%s" % (app, volume_id))

    def list_volume_snapshots(self, app, volume_id):
        return self.request("GET", "/apps/%s/volumes/%s/snapshots" % (app, volume_id)) or []

    # --------------------------------------------------------------- secrets
    def list_secrets(self, app):
        return self.request("GET", "/apps/%s/secrets" % app).get("secrets") or []

    def update_secrets(self, app, values):
        """Set (str) or delete (None) many secrets in one call; returns the answer."""
        return self.request("POST", "/apps/%s/secrets" % app, json={"values": values})

    # ------------------------------------------------------- ip assignments
    def list_ips(self, app):
        answer = self.request("GET", "/apps/%s/ip_assignments" % app)
        if isinstance(answer, dict):
            return answer.get("ips") or []
        return answer or []

    def assign_ip(self, app, body):
        return self.request("POST", "/apps/%s/ip_assignments" % app, json=body)

    def release_ip(self, app, ip):
        self.request("DELETE", "/apps/%s/ip_assignments/%s" % (app, ip), ok=(200, 204, 404))

    # ---------------------------------------------------------- certificates
    def list_certificates(self, app):
        return self.paginate("/apps/%s/certificates" % app, "certificates")

    def get_certificate(self, app, hostname):
        return self.get_or_none("/apps/%s/certificates/%s" % (app, hostname))

    def request_acme_certificate(self, app, hostname):
        return self.request("POST", "/apps/%s/certificates/acme" % app, json={"hostname": hostname},
                            before_retry=lambda: self.get_certificate(app, hostname))

    def check_certificate(self, app, hostname):
        return self.request("POST", "/apps/%s/certificates/%s/check" % (app, hostname))

    def wait_certificate(self, app, hostname, certificate, status="active", timeout=600):
        """Ask Fly.io to check DNS and issue, with growing pauses, until ``status`` or ``timeout``
        seconds; returns the last answer, whatever its status."""
        deadline = time.monotonic() + timeout
        pause = 0.5
        while certificate.get("status") != status and time.monotonic() < deadline:
            self._sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 15)
            certificate = self.check_certificate(app, hostname)
        return certificate

    def delete_certificate(self, app, hostname):
        self.request("DELETE", "/apps/%s/certificates/%s" % (app, hostname), ok=(200, 204, 404))
