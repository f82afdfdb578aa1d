# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the Lambda Cloud API, shared by the lambda_* modules and the fleet inventory.

Beyond the HTTP core (``api_client``), it knows Lambda's ``{"data": ...}``
answers and ``{"error": {"code", "message", "suggestion"}}`` errors, and:
- its documented limits, one request a second (a burst of 5) and one launch
  every 12 seconds: requests are paced within them, so a pool launches without
  being throttled; a 429 all the same is waited out and sent again;
- writes that are safe to retry: before a write whose answer was lost is sent
  again, the client looks at the state and takes "already done" as done. Lambda
  has no idempotency key, so a launch carries a one-off tag the client looks for;
  a lost answer never makes a second instance, a second key or filesystem, nor
  turns a success into an error.
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError, RetryingClient, retry_after_seconds
from ansible_collections.sophia.ops.plugins.module_utils.waiter import Waiter

DEFAULT_API_URL = "https://cloud.lambda.ai/api/v1"
USER_AGENT = "sophia.ops/0.1.0"
# Docs: one request a second per account, launches one every 12 seconds.
REQUESTS_PER_SECOND = 1.0
REQUEST_BURST = 5
LAUNCH_INTERVAL = 12.0
# Requests reach the server a little sooner or later than they leave; pacing this much slower
# than the limits keeps that jitter from turning into 429s.
PACING_SLACK = 0.1
LAUNCH_PATH = "/instance-operations/launch"
# Tag of every launch: "<launch time in ms>-<random>". A retry looks for it; the pool logic reads
# the time to tell the newest members.
LAUNCH_MARKER_KEY = "sophia-ops:launch"
# The tag lambda_instance names its pools by; the info module and the inventory read it too.
POOL_TAG = "sophia-ops:pool"
# An instance on its way out (or taken back by Lambda): it no longer counts.
INSTANCE_GONE = ("terminating", "terminated", "preempted")
# What a restart leaves an instance in until it is up again.
RESTARTING = ("restarting", "booting")


class LambdaAPIError(APIError):
    api_name = "Lambda Cloud API"


def lambda_rate_limits(launch_interval=LAUNCH_INTERVAL):
    """The ``limits`` rules of the documented limits, with launches ``launch_interval`` seconds apart."""
    account = ("account", 1.0 / (1.0 / REQUESTS_PER_SECOND + PACING_SLACK), REQUEST_BURST)

    def limits(method, path):
        if method == "POST" and path == LAUNCH_PATH and launch_interval > 0:
            return [account, ("launches", 1.0 / (launch_interval + PACING_SLACK), 1)]
        return [account]

    return limits


def launch_marker(now=None):
    return "%d-%s" % (int((time.time() if now is None else now) * 1000), uuid.uuid4().hex)


class LambdaClient(RetryingClient):
    error_class = LambdaAPIError

    def __init__(self, api_key, api_url=DEFAULT_API_URL, timeout=30.0, max_retries=6, max_retry_seconds=180.0,
                 sleep=time.sleep, clock=time.monotonic, launch_interval=LAUNCH_INTERVAL):
        super().__init__(api_url, {"Authorization": "Bearer " + api_key.strip(), "User-Agent": USER_AGENT,
                                   "Accept": "application/json"},
                         timeout=timeout, max_retries=max_retries, max_retry_seconds=max_retry_seconds, sleep=sleep,
                         clock=clock, limits=lambda_rate_limits(launch_interval))
        self.launch_interval = launch_interval
        self.waiter = Waiter(clock=clock, sleep=sleep)

    def error_details(self, body):
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message") or ""
            if error.get("suggestion"):
                message += " " + error["suggestion"]
            return message, error.get("code")
        return None, None

    def retry_floor(self, method, path, response):
        # The edge's 429 has no Retry-After; a throttled launch waits out the interval between launches.
        if response is not None and response.status_code == 429 and path == LAUNCH_PATH:
            return self.launch_interval
        return retry_after_seconds(response)

    @staticmethod
    def in_pool(instance, pool):
        return {"key": POOL_TAG, "value": pool} in (instance.get("tags") or [])

    def data(self, method, path, **kwargs):
        return self.request(method, path, **kwargs).get("data")

    # ------------------------------------------------------------ catalog
    def instance_types(self):
        return self.data("GET", "/instance-types") or {}

    def regions(self):
        return self.data("GET", "/regions") or []

    # ---------------------------------------------------------- instances
    def list_instances(self):
        return self.data("GET", "/instances") or []

    def get_instance(self, instance_id):
        try:
            return self.data("GET", "/instances/%s" % instance_id)
        except LambdaAPIError as exc:
            if exc.status == 404:
                return None
            raise

    def launch(self, body):
        """Launch one instance; returns its ID. Retry-safe through a one-off tag."""
        marker = {"key": LAUNCH_MARKER_KEY, "value": launch_marker()}
        body = dict(body, tags=list(body.get("tags") or []) + [marker])

        def find_launched():
            for instance in self.list_instances():
                if marker in (instance.get("tags") or []):
                    return {"data": {"instance_ids": [instance["id"]]}}
            return None

        answer = self.request("POST", LAUNCH_PATH, json=body, before_retry=find_launched)
        return answer["data"]["instance_ids"][0]

    def restart(self, instance_ids):
        """Restart instances; a lost answer is found as every one of them restarting. (One that
        is already up again cannot be told from one never restarted: it restarts once more.)"""
        ids = list(instance_ids)

        def find_restarting():
            listed = dict((i["id"], i) for i in self.list_instances())
            if all(listed.get(i, {}).get("status") in RESTARTING for i in ids):
                return {"data": {"restarted_instances": [listed[i] for i in ids]}}
            return None

        return self.data("POST", "/instance-operations/restart", json={"instance_ids": ids},
                         before_retry=find_restarting)

    def terminate(self, instance_ids):
        """Terminate instances; a lost answer is found as every one of them going or gone."""
        ids = list(instance_ids)

        def find_going():
            listed = dict((i["id"], i) for i in self.list_instances())
            if all(i not in listed or listed[i].get("status") in INSTANCE_GONE for i in ids):
                return {"data": {"terminated_instances": [listed[i] for i in ids if i in listed]}}
            return None

        return self.data("POST", "/instance-operations/terminate", json={"instance_ids": ids},
                         before_retry=find_going)

    def rename(self, instance_id, name):
        return self.data("POST", "/instances/%s" % instance_id, json={"name": name})

    # ----------------------------------------------------------- ssh keys
    def list_ssh_keys(self):
        return self.data("GET", "/ssh-keys") or []

    def add_ssh_key(self, name, public_key):
        """Add a public key. Names are unique: a lost answer is found as the key of that name
        with the same key (the comment aside). Pairs are made by the caller, never by Lambda,
        whose answer would be the only copy of the private key."""
        def find_added():
            for key in self.list_ssh_keys():
                if key.get("name") == name and same_public_key(key.get("public_key"), public_key):
                    return {"data": key}
            return None

        return self.data("POST", "/ssh-keys", json={"name": name, "public_key": public_key},
                         before_retry=find_added)

    def delete_ssh_key(self, key_id):
        """Delete a key; one already gone is deleted."""
        def find_gone():
            return None if any(k.get("id") == key_id for k in self.list_ssh_keys()) else {}

        self.request("DELETE", "/ssh-keys/%s" % key_id, ok=(200, 204, 404), before_retry=find_gone)

    # ------------------------------------------------------- file systems
    def list_filesystems(self):
        return self.data("GET", "/file-systems") or []

    def create_filesystem(self, name, region):
        """Create a filesystem. Names are unique: a lost answer is found by the name (in the region)."""
        def find_created():
            for filesystem in self.list_filesystems():
                if filesystem.get("name") == name and (filesystem.get("region") or {}).get("name") == region:
                    return {"data": filesystem}
            return None

        return self.data("POST", "/filesystems", json={"name": name, "region": region}, before_retry=find_created)

    def delete_filesystem(self, filesystem_id):
        """Delete a filesystem; one already gone is deleted."""
        def find_gone():
            if any(fs.get("id") == filesystem_id for fs in self.list_filesystems()):
                return None
            return {"data": {"deleted_ids": [filesystem_id]}}

        return self.data("DELETE", "/filesystems/%s" % filesystem_id, ok=(200, 204, 404), before_retry=find_gone)

    # ----------------------------------------------------------- firewall
    def firewall_rules(self):
        return self.data("GET", "/firewall-rules") or []

    def set_firewall_rules(self, rules):
        # The whole list replaces the whole list: sending it twice is safe, so no lookup first.
        return self.data("PUT", "/firewall-rules", json={"data": rules}) or []


def same_public_key(one, other):
    """Whether two OpenSSH public keys are the same key: type and base64, the comment aside."""
    return (one or "").split()[:2] == (other or "").split()[:2]
