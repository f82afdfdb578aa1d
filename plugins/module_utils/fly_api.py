# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the Fly.io Machines API, shared by every sophia.ops Fly module
and by the fleet inventory plugin.

What it owns, so that the modules do not have to (timeouts and retries with
jittered backoff come from the HTTP core in ``api_client``):
- authentication (``Bearer`` for plain tokens, ``FlyV1`` for macaroon tokens);
- writes that are safe to retry: before a write whose answer was lost is sent
  again, the client looks at the state and takes "already done" as done (a
  create finds what it made, a stop finds the machine stopping, an extend finds
  the volume grown), so a lost answer never makes two of anything and never
  turns a success into an error;
- pacing within the documented rate limits (per action and machine or app);
- the ``fly-request-id`` of every answer, carried into error messages;
- ``wait`` with deadlines longer than the API's 60 second cap, and cursor
  pagination. Leases are ``fly_lease``'s.
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid

from ansible_collections.sophia.ops.plugins.module_utils.api_client import (
    RETRYABLE_STATUSES,
    APIError,
    RetryingClient,
)
from ansible_collections.sophia.ops.plugins.module_utils.waiter import Waiter, WaitTimeout

DEFAULT_API_URL = "https://api.machines.dev/v1"
USER_AGENT = "sophia.ops/0.1.0"

# Metadata key written on a machine at create time. If a create's answer is
# lost, the client finds the machine by this key instead of creating another.
CREATE_MARKER_KEY = "sophia_ops_create_id"

# The Machines API caps one wait call at 60 seconds.
MAX_WAIT_CHUNK = 60
# A machine on its way out; the listing still shows it for a while.
# The states of a machine and of a volume that is being or has been destroyed: it no longer counts.
MACHINE_GONE = ("destroying", "destroyed")
VOLUME_GONE = ("pending_destroy", "destroyed")
# What an action leaves a machine in (or on its way to): a lost answer is found this way.
ACTION_REACHES = {"start": ("starting", "started"), "stop": ("stopping", "stopped"),
                  "suspend": ("suspending", "suspended")}
# Requests are paced a little below the documented rates: the server counts arrivals, and
# the network spreads them unevenly.
PACE = 0.97
# Path segments followed by an identifier, for the rate-limit keys.
ID_AFTER = frozenset(("apps", "machines", "volumes", "certificates", "ip_assignments", "snapshots", "secrets"))


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


def fly_rate_limits(method, path):
    """The documented limits: per action and per machine (or app), 1 request a second with a
    burst of 3; Get Machine 5 a second with a burst of 10; app deletions 100 a minute."""
    parts = path.strip("/").split("/")
    template, app, machine = [], "", ""
    for index, part in enumerate(parts):
        after = parts[index - 1] if index else ""
        if after in ID_AFTER:
            template.append("*")
            app = part if after == "apps" else app
            machine = part if after == "machines" else machine
        else:
            template.append(part)
    action = method + " " + "/".join(template)
    if action == "DELETE apps/*":
        return [("app deletions", PACE * 100 / 60.0, 100)]
    if action == "GET apps/*/machines/*":
        return [((action, machine), PACE * 5.0, 10)]
    return [((action, machine or app), PACE * 1.0, 3)]


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
                 max_retry_seconds=120.0, user_agent=USER_AGENT, sleep=time.sleep, clock=time.monotonic):
        super().__init__(api_url, {"Authorization": authorization_header(api_token), "User-Agent": user_agent,
                                   "Accept": "application/json"},
                         timeout=timeout, max_retries=max_retries, max_retry_seconds=max_retry_seconds, sleep=sleep,
                         clock=clock, limits=fly_rate_limits)
        self.waiter = Waiter(clock=clock, sleep=sleep)

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
        # The name is the marker: a lost answer is found by looking the app up. The answer has no body
        # (the docs show an ID), so the app is described from what was asked rather than read back.
        answer = self.request("POST", "/apps", json=body, before_retry=lambda: self.get_app(app))
        return dict({"name": app, "organization": {"slug": org_slug}, "network": network or "default"},
                    **(answer if isinstance(answer, dict) else {}))

    def delete_app(self, app, force=False):
        params = {"force": "true"} if force else None
        self.request("DELETE", "/apps/%s" % app, params=params, ok=(200, 202, 204),
                     before_retry=lambda: None if self.get_app(app) else {})

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
        """Replace the config; ``body["current_version"]`` guards it. Under the lease nobody else
        can update the machine, so a new version after a lost answer is this update."""
        def find_updated():
            machine = self.get_machine(app, machine_id)
            if machine and machine.get("instance_id") != body.get("current_version"):
                return machine
            return None

        return self.request("POST", "/apps/%s/machines/%s" % (app, machine_id), json=body,
                            headers=self._lease_headers(nonce),
                            before_retry=find_updated if body.get("current_version") else None)

    def machine_action(self, app, machine_id, action, nonce=None, json=None, params=None):
        """start, stop, restart, suspend, cordon, uncordon."""
        path = "/apps/%s/machines/%s/%s" % (app, machine_id, action)
        sent_at_ms = int(time.time() * 1000)

        def find_done():
            machine = self.get_machine(app, machine_id) or {}
            if action in ACTION_REACHES:
                return {"ok": True} if machine.get("state") in ACTION_REACHES[action] else None
            if action == "restart":
                recent = [e for e in machine.get("events") or []
                          if e.get("type") == "restart" and (e.get("timestamp") or 0) >= sent_at_ms - 1000]
                return {"ok": True} if recent else None
            return None  # cordon and uncordon are the same when sent twice

        return self.request("POST", path, json=json, params=params, headers=self._lease_headers(nonce),
                            before_retry=find_done)

    def delete_machine(self, app, machine_id, force=False, nonce=None):
        params = {"force": "true"} if force else None

        def find_gone():
            machine = self.get_machine(app, machine_id)
            return {} if machine is None or machine.get("state") in MACHINE_GONE else None

        # Already gone is what was asked for.
        self.request("DELETE", "/apps/%s/machines/%s" % (app, machine_id), params=params,
                     headers=self._lease_headers(nonce), ok=(200, 202, 204, 404), before_retry=find_gone)

    def machine_versions(self, app, machine_id):
        return self.request("GET", "/apps/%s/machines/%s/versions" % (app, machine_id)) or []

    def wait_machine(self, app, machine_id, states=("started",), version=None, timeout=60):
        """Wait until the machine is in one of ``states`` (of ``version``, when given), in calls of
        at most 60 s, up to ``timeout`` seconds. Answers the API's answer (``state`` says which)."""
        path = "/apps/%s/machines/%s/wait" % (app, machine_id)
        states = [states] if isinstance(states, str) else list(states)

        def probe(remaining):
            params = {"state": ",".join(states), "timeout": int(max(1, min(MAX_WAIT_CHUNK, remaining)))}
            if version:
                params["version"] = version
            try:
                # A 408 here is the wait's own deadline, not a lost request.
                return self.request("GET", path, params=params, retry_statuses=RETRYABLE_STATUSES - {408},
                                    timeout=params["timeout"] + self.timeout)
            except FlyAPIError as exc:
                if exc.status != 408:
                    raise
                return None

        try:
            return self.waiter.until(probe, timeout, what="machine %s reaching %s" % (machine_id, "/".join(states)),
                                     interval=0)
        except WaitTimeout as exc:
            raise FlyTimeout(str(exc), status=408, method="GET", path=path, request_id=self.last_request_id) from None

    # ---------------------------------------------------------------- leases
    @staticmethod
    def _lease_headers(nonce):
        return {"fly-machine-lease-nonce": nonce} if nonce else None

    def get_lease(self, app, machine_id):
        """The machine's lease (nonce, owner, description, expires_at), or None."""
        answer = self.get_or_none("/apps/%s/machines/%s/lease" % (app, machine_id))
        if not answer:
            return None
        return answer.get("data") if isinstance(answer.get("data"), dict) else answer

    def acquire_lease(self, app, machine_id, ttl, description, nonce=None):
        """Take (or, with our ``nonce``, refresh) the lease; answers its nonce. A lost answer is
        found by the description, which is unique to the run."""
        def find_ours():
            held = self.get_lease(app, machine_id)
            return {"data": held} if held and held.get("description") == description else None

        answer = self.request("POST", "/apps/%s/machines/%s/lease" % (app, machine_id),
                              json={"ttl": int(ttl), "description": description}, headers=self._lease_headers(nonce),
                              before_retry=find_ours, changes_state=False)
        data = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        return data["nonce"]

    def release_lease(self, app, machine_id, nonce):
        self.request("DELETE", "/apps/%s/machines/%s/lease" % (app, machine_id),
                     headers=self._lease_headers(nonce), ok=(200, 204, 404), changes_state=False)

    # --------------------------------------------------------------- volumes
    def list_volumes(self, app):
        return self.request("GET", "/apps/%s/volumes" % app) or []

    def get_volume(self, app, volume_id):
        return self.get_or_none("/apps/%s/volumes/%s" % (app, volume_id))

    def create_volume(self, app, body, known_ids=None):
        """Create a volume; a lost answer is found as a volume of that name and region that is not
        among ``known_ids`` (the IDs the caller listed before; listed here when not given)."""
        if known_ids is None:
            known_ids = [v["id"] for v in self.list_volumes(app)]
        known = set(known_ids)

        def find_made():
            for volume in self.list_volumes(app):
                if (volume["id"] not in known and volume.get("name") == body.get("name")
                        and body.get("region") in (None, volume.get("region"))):
                    return volume
            return None

        return self.request("POST", "/apps/%s/volumes" % app, json=body, before_retry=find_made)

    def update_volume(self, app, volume_id, body):
        # The same settings sent twice are the same settings: safe to re-send.
        return self.request("PUT", "/apps/%s/volumes/%s" % (app, volume_id), json=body)

    def extend_volume(self, app, volume_id, size_gb):
        def find_grown():
            volume = self.get_volume(app, volume_id)
            if volume and volume.get("size_gb", 0) >= size_gb:
                return {"volume": volume, "needs_restart": bool(volume.get("attached_machine_id"))}
            return None

        return self.request("PUT", "/apps/%s/volumes/%s/extend" % (app, volume_id), json={"size_gb": size_gb},
                            before_retry=find_grown)

    def delete_volume(self, app, volume_id):
        def find_gone():
            volume = self.get_volume(app, volume_id)
            return {} if volume is None or volume.get("state") in VOLUME_GONE else None

        return self.request("DELETE", "/apps/%s/volumes/%s" % (app, volume_id), ok=(200, 204, 404),
                            before_retry=find_gone)

    def list_volume_snapshots(self, app, volume_id):
        return self.request("GET", "/apps/%s/volumes/%s/snapshots" % (app, volume_id)) or []

    def create_volume_snapshot(self, app, volume_id, known_ids=None, wait_timeout=0):
        """Take an on-demand snapshot; answers it, or None when it is not listed yet and
        ``wait_timeout`` is 0.

        The answer has no body (the document: 200, no content), so the new snapshot is the one in
        the listing that is not among ``known_ids`` (the IDs listed before; listed here when not
        given). The same look before a retry after a lost answer keeps the retry from taking a
        second snapshot. With ``wait_timeout``, waits up to that many seconds for it to be listed.
        """
        if known_ids is None:
            known_ids = [s.get("id") for s in self.list_volume_snapshots(app, volume_id)]
        known = set(known_ids)

        def find_new():
            new = [s for s in self.list_volume_snapshots(app, volume_id) if s.get("id") not in known]
            # Should a scheduled snapshot land meanwhile, the newest is the one asked for.
            return max(new, key=lambda s: s.get("created_at") or "") if new else None

        answer = self.request("POST", "/apps/%s/volumes/%s/snapshots" % (app, volume_id), before_retry=find_new)
        if isinstance(answer, dict) and answer.get("id"):
            return answer
        if not wait_timeout:
            return find_new()
        return self.waiter.until(lambda remaining: find_new(), wait_timeout,
                                 what="snapshot of volume %s to be listed" % volume_id, interval=0.5,
                                 max_interval=5.0, backoff=1.5)

    # --------------------------------------------------------------- secrets
    def list_secrets(self, app):
        return self.request("GET", "/apps/%s/secrets" % app).get("secrets") or []

    def update_secrets(self, app, values):
        """Set (str) or delete (None) many secrets in one call; returns the answer."""
        def find_applied():
            listed = self.list_secrets(app)
            digests = dict((s.get("name"), s.get("digest")) for s in listed)
            applied = all(digests.get(name) == (None if value is None else secret_digest(value))
                          for name, value in values.items())
            return {"secrets": listed} if applied else None

        return self.request("POST", "/apps/%s/secrets" % app, json={"values": values}, before_retry=find_applied)

    # ------------------------------------------------------- ip assignments
    def list_ips(self, app):
        answer = self.request("GET", "/apps/%s/ip_assignments" % app)
        if isinstance(answer, dict):
            return answer.get("ips") or []
        return answer or []

    def assign_ip(self, app, body, known_ips=None):
        """Assign an address; a lost answer is found as an address not among ``known_ips``
        (listed here when not given), so a retry never assigns (and bills) a second one."""
        if known_ips is None:
            known_ips = [a["ip"] for a in self.list_ips(app)]
        known = set(known_ips)

        def find_assigned():
            for assignment in self.list_ips(app):
                if assignment["ip"] not in known and body.get("region") in (None, assignment.get("region")):
                    return assignment
            return None

        return self.request("POST", "/apps/%s/ip_assignments" % app, json=body, before_retry=find_assigned)

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
        # Asks Fly.io to look at DNS again; nothing of the app changes.
        return self.request("POST", "/apps/%s/certificates/%s/check" % (app, hostname), changes_state=False)

    def wait_certificate(self, app, hostname, certificate, status="active", timeout=600):
        """Ask Fly.io to check DNS and issue, with growing pauses, until ``status`` or ``timeout``
        seconds; returns the last answer, whatever its status."""
        last = {"certificate": certificate}

        def probe(remaining):
            if last["certificate"].get("status") == status:
                return last["certificate"]
            last["certificate"] = self.check_certificate(app, hostname)
            return last["certificate"] if last["certificate"].get("status") == status else None

        try:
            return self.waiter.until(probe, timeout, what="certificate of %s" % hostname, interval=0.5,
                                     max_interval=15, backoff=2)
        except WaitTimeout:
            return last["certificate"]

    def delete_certificate(self, app, hostname):
        self.request("DELETE", "/apps/%s/certificates/%s" % (app, hostname), ok=(200, 204, 404))
