"""The Lambda Cloud API emulator against the documented behaviour.

Every answer given here is checked against the OpenAPI document when the
session ends (tests/conftest.py) and by tests/emulators/test_openapi_contract.py.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests

A100 = "gpu_1x_a100_sxm4"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()["data"]


def failed(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


@pytest.fixture
def key(lambda_api):
    return ok(lambda_api.api("POST", "/ssh-keys", json={"name": "ops", "public_key": PUBLIC_KEY}))


def launch(lam, **body):
    body = dict({"region_name": "us-east-1", "instance_type_name": A100, "ssh_key_names": ["ops"]}, **body)
    return lam.api("POST", "/instance-operations/launch", json=body)


def wait_active(lam, instance_id, deadline_seconds=10):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        instance = ok(lam.api("GET", "/instances/" + instance_id))
        if instance["status"] == "active":
            return instance
        time.sleep(0.1)
    raise AssertionError("instance %s never became active" % instance_id)


def test_bearer_and_basic_auth(lambda_api):
    url = lambda_api.url + "/instances"
    basic = base64.b64encode((lambda_api.token + ":").encode()).decode()
    assert requests.get(url, headers={"Authorization": "Bearer " + lambda_api.token}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": "Basic " + basic}, timeout=5).status_code == 200
    refused = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "global/invalid-api-key"


def test_catalog(lambda_api):
    types = ok(lambda_api.api("GET", "/instance-types"))
    assert types[A100]["instance_type"]["specs"]["gpus"] == 1
    assert {r["name"] for r in types[A100]["regions_with_capacity_available"]} >= {"us-east-1", "us-west-1"}
    assert "us-east-1" in [r["name"] for r in ok(lambda_api.api("GET", "/regions"))]
    assert ok(lambda_api.api("GET", "/images"))


def test_ssh_keys(lambda_api):
    given = ok(lambda_api.api("POST", "/ssh-keys", json={"name": "given", "public_key": PUBLIC_KEY}))
    made = ok(lambda_api.api("POST", "/ssh-keys", json={"name": "made"}))
    assert "private_key" not in given and made["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    listed = ok(lambda_api.api("GET", "/ssh-keys"))
    assert sorted(k["name"] for k in listed) == ["given", "made"]
    assert all("private_key" not in k for k in listed)  # handed out once, never again
    failed(lambda_api.api("POST", "/ssh-keys", json={"name": "given", "public_key": PUBLIC_KEY}),
           400, "global/invalid-parameters")
    assert lambda_api.api("DELETE", "/ssh-keys/" + given["id"]).status_code == 200
    failed(lambda_api.api("DELETE", "/ssh-keys/" + given["id"]), 404, "global/not-found")


def test_launch_boots_then_gets_an_address(lambda_api, key):
    lambda_api.settings(boot_seconds=1.5)  # long enough to see it booting on a slow machine
    instance_id = ok(launch(lambda_api, name="gpu-worker-1", tags=[{"key": "sophia:pool", "value": "gpu"}]))["instance_ids"][0]
    booting = ok(lambda_api.api("GET", "/instances/" + instance_id))
    assert booting["status"] == "booting" and "ip" not in booting
    active = wait_active(lambda_api, instance_id)
    assert active["ip"] and active["name"] == "gpu-worker-1"
    assert active["tags"] == [{"key": "sophia:pool", "value": "gpu"}]
    assert [i["id"] for i in ok(lambda_api.api("GET", "/instances"))] == [instance_id]

    renamed = ok(lambda_api.api("POST", "/instances/" + instance_id, json={"name": "gpu-worker-one"}))
    assert renamed["name"] == "gpu-worker-one"


def test_launch_validation(lambda_api, key):
    failed(launch(lambda_api, ssh_key_names=[]), 400, "global/invalid-parameters")
    failed(launch(lambda_api, ssh_key_names=["ops", "other"]), 400, "global/invalid-parameters")
    failed(launch(lambda_api, instance_type_name="gpu_99x_imaginary"), 404, "global/object-does-not-exist")
    failed(launch(lambda_api, ssh_key_names=["missing"]), 404, "global/object-does-not-exist")
    failed(launch(lambda_api, tags=[{"key": "Bad Key", "value": "x"}]), 400, "global/invalid-parameters")


def test_restart_conflicts_while_booting_and_terminate(lambda_api, key):
    lambda_api.settings(boot_seconds=1.5)  # long enough to still be booting on a slow machine
    instance_id = ok(launch(lambda_api))["instance_ids"][0]
    failed(lambda_api.api("POST", "/instance-operations/restart", json={"instance_ids": [instance_id]}),
           409, "global/conflict")
    wait_active(lambda_api, instance_id)
    restarted = ok(lambda_api.api("POST", "/instance-operations/restart", json={"instance_ids": [instance_id]}))
    assert restarted["restarted_instances"][0]["status"] == "booting"
    wait_active(lambda_api, instance_id)

    gone = ok(lambda_api.api("POST", "/instance-operations/terminate", json={"instance_ids": [instance_id]}))
    assert gone["terminated_instances"][0]["status"] == "terminating"
    time.sleep(1.0)  # terminating lasts half a boot
    assert ok(lambda_api.api("GET", "/instances")) == []
    failed(lambda_api.api("GET", "/instances/" + instance_id), 404, "global/object-does-not-exist")


def test_capacity_and_quota(lambda_api, key):
    lambda_api.set_capacity(A100, "us-east-1", available=False)
    types = ok(lambda_api.api("GET", "/instance-types"))
    assert "us-east-1" not in [r["name"] for r in types[A100]["regions_with_capacity_available"]]
    failed(launch(lambda_api), 400, "instance-operations/launch/insufficient-capacity")
    ok(launch(lambda_api, region_name="us-west-1"))

    lambda_api.settings(instance_quota=1)
    failed(launch(lambda_api, region_name="us-west-1"), 400, "global/quota-exceeded")


def test_filesystems_are_region_bound_and_kept_while_in_use(lambda_api, key):
    fs = ok(lambda_api.api("POST", "/filesystems", json={"name": "models", "region": "us-east-1"}))
    failed(lambda_api.api("POST", "/filesystems", json={"name": "models", "region": "us-east-1"}),
           400, "global/invalid-parameters")
    failed(launch(lambda_api, region_name="us-west-1", file_system_names=["models"]),
           400, "instance-operations/launch/file-system-in-wrong-region")
    instance_id = ok(launch(lambda_api, file_system_names=["models"]))["instance_ids"][0]
    assert ok(lambda_api.api("GET", "/file-systems"))[0]["is_in_use"] is True
    failed(lambda_api.api("DELETE", "/filesystems/" + fs["id"]), 400, "filesystems/filesystem-in-use")
    ok(lambda_api.api("POST", "/instance-operations/terminate", json={"instance_ids": [instance_id]}))
    time.sleep(0.3)
    assert ok(lambda_api.api("DELETE", "/filesystems/" + fs["id"])) == {"deleted_ids": [fs["id"]]}


def test_firewall_rules_replace_the_whole_list(lambda_api):
    rules = [{"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "SSH"},
             {"protocol": "icmp", "source_network": "10.0.0.0/8", "description": "ping"}]
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": rules})) == rules
    assert ok(lambda_api.api("GET", "/firewall-rules")) == rules
    failed(lambda_api.api("PUT", "/firewall-rules", json={"data": [dict(rules[0], port_range=[0, 99999])]}),
           400, "global/invalid-parameters")
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": rules[:1]})) == rules[:1]

    body = {"name": "gpu", "region": "us-east-1", "rules": rules}
    ruleset = ok(lambda_api.api("POST", "/firewall-rulesets", json=body))
    assert ok(lambda_api.api("GET", "/firewall-rulesets/" + ruleset["id"]))["rules"] == rules
    failed(lambda_api.api("POST", "/firewall-rulesets", json={"name": "gpu", "region": "us-east-1", "rules": []}),
           409, "global/internal-error")


def test_throttling_answers_plain_text_429(lambda_api, key):
    lambda_api.settings(rate_limits=True, launch_interval_seconds=2)
    statuses = [lambda_api.api("GET", "/instances", retry_throttled=False).status_code for dummy in range(8)]
    assert 429 in statuses
    throttled = lambda_api.api("GET", "/instances", retry_throttled=False)
    assert throttled.status_code == 429 and throttled.headers["Content-Type"].startswith("text/plain")

    time.sleep(1.5)
    assert launch(lambda_api).status_code == 200
    time.sleep(1.0)
    assert lambda_api.api("POST", "/instance-operations/launch", retry_throttled=False, json={
        "region_name": "us-east-1", "instance_type_name": A100, "ssh_key_names": ["ops"]}).status_code == 429


def test_a_lost_launch_answer_still_launched(lambda_api, key):
    lambda_api.add_fault(lose_response=True, method="POST", path_regex="/launch$")
    assert launch(lambda_api).status_code == 408
    assert len(ok(lambda_api.api("GET", "/instances"))) == 1


def test_unhealthy_out_of_band(lambda_api, key):
    instance_id = ok(launch(lambda_api))["instance_ids"][0]
    wait_active(lambda_api, instance_id)
    lambda_api.set_status(instance_id, "unhealthy")
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["status"] == "unhealthy"
