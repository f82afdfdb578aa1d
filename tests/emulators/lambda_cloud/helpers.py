"""Calls the Lambda Cloud emulator tests share (tests/emulators/lambda_cloud/test_*.py)."""

from __future__ import annotations

import time

from tests.support.openapi_contract import ContractChecker

A100 = "gpu_1x_a100_sxm4"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"
SSH_RULE = {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "SSH"}
PING_RULE = {"protocol": "icmp", "source_network": "10.0.0.0/8", "description": "ping"}

_CHECKER = []


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()["data"]


def failed(response, status, code):
    """The error object of a refusal, checked for its status and code, and against the document's
    schema for that operation and status (suggestion included where the document requires it)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert contract_problems(response) == []
    return error


def contract_problems(response):
    """What the answer breaks in the OpenAPI document ([] when it keeps it, or without the document,
    which the session-end check reports)."""
    if not _CHECKER:
        _CHECKER.append(ContractChecker("lambda_cloud"))
    checker = _CHECKER[0]
    if not checker.available:
        return []
    request = response.request
    path, dummy, query = request.path_url.partition("?")
    return checker.problems({"method": request.method, "path": path, "query": query, "status": response.status_code,
                             "content_type": response.headers.get("Content-Type"), "body": response.text})


def add_key(lam, name="ops"):
    return ok(lam.api("POST", "/ssh-keys", json={"name": name, "public_key": PUBLIC_KEY}))


def launch(lam, **body):
    body = dict({"region_name": "us-east-1", "instance_type_name": A100, "ssh_key_names": ["ops"]}, **body)
    return lam.api("POST", "/instance-operations/launch", json=body)


def launched(lam, **body):
    return ok(launch(lam, **body))["instance_ids"][0]


def wait_status(lam, instance_id, status="active", deadline_seconds=10):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        instance = ok(lam.api("GET", "/instances/" + instance_id))
        if instance["status"] == status:
            return instance
        time.sleep(0.1)
    raise AssertionError("instance %s never became %s" % (instance_id, status))


def wait_gone(lam, instance_id, deadline_seconds=10):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if lam.api("GET", "/instances/" + instance_id).status_code == 404:
            return
        time.sleep(0.1)
    raise AssertionError("instance %s never went" % instance_id)
