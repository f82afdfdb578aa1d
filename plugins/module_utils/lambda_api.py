# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the Lambda Cloud API, shared by the lambda_* modules and the fleet inventory.

Beyond the HTTP core (``api_client``), it knows Lambda's ``{"data": ...}``
answers and ``{"error": {"code", "message", "suggestion"}}`` errors, and its
documented limits: a throttled launch waits out the 12 seconds between launches
before it is tried again. Lambda has no idempotency key, so a launch carries a
tag the client looks for before a retry; a lost answer never makes a second
instance.
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError, RetryingClient, retry_after_seconds

DEFAULT_API_URL = "https://cloud.lambda.ai/api/v1"
USER_AGENT = "sophia.ops/0.1.0"
# Docs: launches are limited to one every 12 seconds.
LAUNCH_INTERVAL = 12.0
LAUNCH_MARKER_KEY = "sophia-ops:launch"
# The tag lambda_instance names its pools by; the info module and the inventory read it too.
POOL_TAG = "sophia-ops:pool"
GONE = ("terminating", "terminated", "preempted")


class LambdaAPIError(APIError):
    api_name = "Lambda Cloud API"


class LambdaClient(RetryingClient):
    error_class = LambdaAPIError

    def __init__(self, api_key, api_url=DEFAULT_API_URL, timeout=30.0, max_retries=6, max_retry_seconds=180.0,
                 sleep=time.sleep):
        super().__init__(api_url, {"Authorization": "Bearer " + api_key.strip(), "User-Agent": USER_AGENT,
                                   "Accept": "application/json"},
                         timeout=timeout, max_retries=max_retries, max_retry_seconds=max_retry_seconds, sleep=sleep)

    def error_details(self, body):
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message") or ""
            if error.get("suggestion"):
                message += " " + error["suggestion"]
            return message, error.get("code")
        return None, None

    def retry_floor(self, method, path, response):
        if response is not None and response.status_code == 429 and path.endswith("/launch"):
            return LAUNCH_INTERVAL
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
        marker = uuid.uuid4().hex
        body = dict(body, tags=list(body.get("tags") or []) + [{"key": LAUNCH_MARKER_KEY, "value": marker}])

        def find_launched():
            for instance in self.list_instances():
                if {"key": LAUNCH_MARKER_KEY, "value": marker} in (instance.get("tags") or []):
                    return {"data": {"instance_ids": [instance["id"]]}}
            return None

        answer = self.request("POST", "/instance-operations/launch", json=body, before_retry=find_launched)
        return answer["data"]["instance_ids"][0]

    def restart(self, instance_ids):
        return self.data("POST", "/instance-operations/restart", json={"instance_ids": list(instance_ids)})

    def terminate(self, instance_ids):
        return self.data("POST", "/instance-operations/terminate", json={"instance_ids": list(instance_ids)})

    def rename(self, instance_id, name):
        return self.data("POST", "/instances/%s" % instance_id, json={"name": name})

    # ----------------------------------------------------------- ssh keys
    def list_ssh_keys(self):
        return self.data("GET", "/ssh-keys") or []

    def add_ssh_key(self, name, public_key=None):
        body = {"name": name}
        if public_key:
            body["public_key"] = public_key
        return self.data("POST", "/ssh-keys", json=body)

    def delete_ssh_key(self, key_id):
        self.request("DELETE", "/ssh-keys/%s" % key_id)

    # ------------------------------------------------------- file systems
    def list_filesystems(self):
        return self.data("GET", "/file-systems") or []

    def create_filesystem(self, name, region):
        return self.data("POST", "/filesystems", json={"name": name, "region": region})

    def delete_filesystem(self, filesystem_id):
        return self.data("DELETE", "/filesystems/%s" % filesystem_id)

    # ----------------------------------------------------------- firewall
    def firewall_rules(self):
        return self.data("GET", "/firewall-rules") or []

    def set_firewall_rules(self, rules):
        return self.data("PUT", "/firewall-rules", json={"data": rules}) or []
