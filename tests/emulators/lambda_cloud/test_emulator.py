"""The Lambda Cloud API emulator against the documented behaviour: catalogue, SSH keys,
instances and filesystems. Firewall rules and rulesets: test_lambda_firewall.py; refused
requests and error shapes: test_lambda_requests.py.

Every answer given here is checked against the OpenAPI document when the
session ends (tests/conftest.py) and by tests/emulators/test_openapi_contract.py;
every refusal also right where it is made (``failed``).
"""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.emulators.lambda_cloud.helpers import (
    A100,
    PUBLIC_KEY,
    add_key,
    failed,
    launch,
    launched,
    ok,
    wait_gone,
    wait_status,
)


@pytest.fixture
def key(lambda_api):
    return add_key(lambda_api)


def test_bearer_and_basic_auth(lambda_api):
    url = lambda_api.url + "/instances"
    basic = base64.b64encode((lambda_api.token + ":").encode()).decode()
    assert requests.get(url, headers={"Authorization": "Bearer " + lambda_api.token}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": "Basic " + basic}, timeout=5).status_code == 200
    refused = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "global/invalid-api-key",
                                       "message": "API key was invalid, expired, or deleted.",
                                       "suggestion": "Check your API key or create a new one, then try again."}


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
    # The document gives this operation the generic not-found error, not object-does-not-exist.
    failed(lambda_api.api("DELETE", "/ssh-keys/" + given["id"]), 404, "global/not-found")


@pytest.mark.fault("SSH keys that are not OpenSSH public keys, names too long or empty",
                   checks="400 global/invalid-parameters, no key stored")
@pytest.mark.parametrize("body", [
    {"name": "bad", "public_key": "not a key"},
    {"name": "bad", "public_key": "ssh-dss AAAAB3NzaC1kc3M= old"},
    {"name": "x" * 65, "public_key": PUBLIC_KEY},
    {"name": "", "public_key": PUBLIC_KEY},
    {"name": "bad", "public_key": "ssh-ed25519 " + "A" * 4096},
])
def test_ssh_key_refusals(lambda_api, body):
    failed(lambda_api.api("POST", "/ssh-keys", json=body), 400, "global/invalid-parameters")
    assert ok(lambda_api.api("GET", "/ssh-keys")) == []


def test_launch_boots_then_gets_an_address(lambda_api, key):
    lambda_api.settings(boot_seconds=1.5)  # long enough to see it booting on a slow machine
    instance_id = launched(lambda_api, name="gpu-worker-1", tags=[{"key": "sophia:pool", "value": "gpu"}])
    booting = ok(lambda_api.api("GET", "/instances/" + instance_id))
    assert booting["status"] == "booting" and "ip" not in booting
    active = wait_status(lambda_api, instance_id)
    assert active["ip"] and active["name"] == "gpu-worker-1"
    assert active["tags"] == [{"key": "sophia:pool", "value": "gpu"}]
    assert active["firewall_rulesets"] == [] and "file_system_mounts" not in active
    assert [i["id"] for i in ok(lambda_api.api("GET", "/instances"))] == [instance_id]


def test_update_instance_renames_it(lambda_api, key):
    instance_id = launched(lambda_api, name="gpu-worker-1")
    renamed = ok(lambda_api.api("POST", "/instances/" + instance_id, json={"name": "gpu-worker-one"}))
    assert renamed["name"] == "gpu-worker-one"
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["name"] == "gpu-worker-one"
    # Every field is optional: an empty object changes nothing.
    assert ok(lambda_api.api("POST", "/instances/" + instance_id, json={}))["name"] == "gpu-worker-one"
    assert ok(lambda_api.api("POST", "/instances/" + instance_id, json={"name": ""}))["name"] == ""


@pytest.mark.fault("instance updates with no body, a name too long or not a string, an unknown or non-hex id",
                   checks="400 global/invalid-parameters or 404 global/object-does-not-exist; the name unchanged")
def test_update_instance_refusals(lambda_api, key):
    instance_id = launched(lambda_api, name="kept")
    path = "/instances/" + instance_id
    failed(lambda_api.api("POST", path), 400, "global/invalid-parameters")
    failed(lambda_api.api("POST", path, json={"name": "x" * 65}), 400, "global/invalid-parameters")
    failed(lambda_api.api("POST", path, json={"name": ["kept"]}), 400, "global/invalid-parameters")
    failed(lambda_api.api("POST", "/instances/" + "0" * 32, json={"name": "x"}), 404, "global/object-does-not-exist")
    failed(lambda_api.api("POST", "/instances/not-hex", json={"name": "x"}), 404, "global/object-does-not-exist")
    assert ok(lambda_api.api("GET", path))["name"] == "kept"


def test_launch_takes_documented_fields_and_keeps_only_those(lambda_api, key):
    family = "lambda-stack-24-04"
    image = next(i for i in ok(lambda_api.api("GET", "/images"))
                 if i["region"]["name"] == "us-east-1" and i["family"] == family)
    # The document's own example sends "quantity", which it does not describe: taken, ignored.
    instance_id = launched(lambda_api, hostname="node-1", image={"id": image["id"]}, quantity=1,
                           user_data="#cloud-config\n", tags=[{"key": "team", "value": "ml", "extra": 1}])
    instance = ok(lambda_api.api("GET", "/instances/" + instance_id))
    assert instance["hostname"] == "node-1"
    assert instance["tags"] == [{"key": "team", "value": "ml"}]
    assert "quantity" not in instance and "user_data" not in instance
    assert launched(lambda_api, image={"family": family})


@pytest.mark.fault("launches naming nothing that exists, two SSH keys, a bad tag, hostname, image or user data",
                   checks="the documented status and code (404 object-does-not-exist with a suggestion, 400 "
                          "invalid-parameters), and no instance")
@pytest.mark.parametrize("changes, status, code", [
    ({"ssh_key_names": []}, 400, "global/invalid-parameters"),
    ({"ssh_key_names": ["ops", "other"]}, 400, "global/invalid-parameters"),
    ({"instance_type_name": "gpu_99x_imaginary"}, 404, "global/object-does-not-exist"),
    ({"region_name": "mars-1"}, 404, "global/object-does-not-exist"),
    ({"ssh_key_names": ["missing"]}, 404, "global/object-does-not-exist"),
    ({"tags": [{"key": "Bad Key", "value": "x"}]}, 400, "global/invalid-parameters"),
    ({"tags": [{"key": "team", "value": "v" * 129}]}, 400, "global/invalid-parameters"),
    ({"hostname": "Not_A_Hostname"}, 400, "global/invalid-parameters"),
    ({"name": "n" * 65}, 400, "global/invalid-parameters"),
    ({"image": {"family": "windows-95"}}, 404, "global/object-does-not-exist"),
    ({"image": {"id": "0" * 32}}, 404, "global/object-does-not-exist"),
    ({"image": "lambda-stack-24-04"}, 400, "global/invalid-parameters"),
    ({"user_data": "#" * (1024 * 1024 + 1)}, 400, "global/invalid-parameters"),
    ({"file_system_names": ["missing"]}, 404, "global/object-does-not-exist"),
    ({"file_system_mounts": [{"file_system_id": "0" * 32, "mount_point": "/data/x"}]}, 404,
     "global/object-does-not-exist"),
    ({"firewall_rulesets": [{"id": "0" * 32}]}, 404, "global/object-does-not-exist"),
])
def test_launch_refusals(lambda_api, key, changes, status, code):
    error = failed(launch(lambda_api, **changes), status, code)
    if status == 404:
        assert error["suggestion"]  # the document requires one for a launch's missing resource
    assert ok(lambda_api.api("GET", "/instances")) == []


def test_launch_image_of_another_region_is_refused(lambda_api, key):
    elsewhere = next(i for i in ok(lambda_api.api("GET", "/images")) if i["region"]["name"] == "us-west-1")
    failed(launch(lambda_api, image={"id": elsewhere["id"]}), 400, "global/invalid-parameters")


def test_restart_conflicts_while_booting_and_terminate(lambda_api, key):
    lambda_api.settings(boot_seconds=1.5)  # long enough to still be booting on a slow machine
    instance_id = launched(lambda_api)
    failed(lambda_api.api("POST", "/instance-operations/restart", json={"instance_ids": [instance_id]}),
           409, "global/conflict")
    wait_status(lambda_api, instance_id)
    restarted = ok(lambda_api.api("POST", "/instance-operations/restart", json={"instance_ids": [instance_id]}))
    assert restarted["restarted_instances"][0]["status"] == "booting"
    wait_status(lambda_api, instance_id)

    # Named twice, terminated (and answered) once.
    gone = ok(lambda_api.api("POST", "/instance-operations/terminate", json={"instance_ids": [instance_id] * 2}))
    assert [i["status"] for i in gone["terminated_instances"]] == ["terminating"]
    wait_gone(lambda_api, instance_id)
    assert ok(lambda_api.api("GET", "/instances")) == []
    failed(lambda_api.api("GET", "/instances/" + instance_id), 404, "global/object-does-not-exist")


@pytest.mark.fault("restart and terminate naming no instance, an unknown one or one that is not a hex id",
                   checks="400 global/invalid-parameters or 404 global/object-does-not-exist; nothing changes")
@pytest.mark.parametrize("operation", ["restart", "terminate"])
def test_restart_and_terminate_refusals(lambda_api, key, operation):
    instance_id = launched(lambda_api)
    wait_status(lambda_api, instance_id)
    path = "/instance-operations/" + operation
    failed(lambda_api.api("POST", path, json={"instance_ids": []}), 400, "global/invalid-parameters")
    failed(lambda_api.api("POST", path, json={"instance_ids": [instance_id, "0" * 32]}), 404,
           "global/object-does-not-exist")
    failed(lambda_api.api("POST", path, json={"instance_ids": ["zz-not-hex"]}), 404, "global/object-does-not-exist")
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["status"] == "active"


def test_instances_of_a_cluster(lambda_api, key):
    launched(lambda_api)
    # The emulator launches no 1-Click Clusters, so no instance belongs to one.
    assert ok(lambda_api.api("GET", "/instances", params={"cluster_id": "c0ffee"})) == []
    assert len(ok(lambda_api.api("GET", "/instances"))) == 1


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
           400, "global/duplicate")
    failed(launch(lambda_api, region_name="us-west-1", file_system_names=["models"]),
           400, "instance-operations/launch/file-system-in-wrong-region")
    instance_id = launched(lambda_api, file_system_names=["models"])
    assert ok(lambda_api.api("GET", "/file-systems"))[0]["is_in_use"] is True
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["file_system_mounts"] == [
        {"file_system_id": fs["id"], "mount_point": "/lambda/nfs/models"}]
    failed(lambda_api.api("DELETE", "/filesystems/" + fs["id"]), 400, "filesystems/filesystem-in-use")
    ok(lambda_api.api("POST", "/instance-operations/terminate", json={"instance_ids": [instance_id]}))
    wait_gone(lambda_api, instance_id)
    assert ok(lambda_api.api("DELETE", "/filesystems/" + fs["id"])) == {"deleted_ids": [fs["id"]]}
    failed(lambda_api.api("DELETE", "/filesystems/" + fs["id"]), 404, "global/object-does-not-exist")


def test_a_mount_point_attaches_and_places_a_filesystem(lambda_api, key):
    models = ok(lambda_api.api("POST", "/filesystems", json={"name": "models", "region": "us-east-1"}))
    data = ok(lambda_api.api("POST", "/filesystems", json={"name": "data", "region": "us-east-1"}))
    # Named in both lists: the mount point wins; only in file_system_mounts: mounted all the same.
    instance_id = launched(lambda_api, file_system_names=["models"], file_system_mounts=[
        {"file_system_id": models["id"], "mount_point": "/home/ubuntu/models"},
        {"file_system_id": data["id"], "mount_point": "/data/shared"}])
    instance = ok(lambda_api.api("GET", "/instances/" + instance_id))
    assert instance["file_system_names"] == ["models", "data"]
    assert instance["file_system_mounts"] == [{"file_system_id": models["id"], "mount_point": "/home/ubuntu/models"},
                                              {"file_system_id": data["id"], "mount_point": "/data/shared"}]
    failed(launch(lambda_api, file_system_mounts=[{"file_system_id": data["id"], "mount_point": "/etc/x"}]),
           400, "global/invalid-parameters")


@pytest.mark.fault("filesystems with a bad name, an unknown region, a name not a string; deleting an unknown one",
                   checks="400 global/invalid-parameters or 404 global/object-does-not-exist; nothing created")
def test_filesystem_refusals(lambda_api):
    for body in ({"name": "1models", "region": "us-east-1"}, {"name": "has space", "region": "us-east-1"},
                 {"name": "m" * 61, "region": "us-east-1"}, {"name": "models", "region": "mars-1"},
                 {"name": ["models"], "region": "us-east-1"}, {"name": "models"}):
        failed(lambda_api.api("POST", "/filesystems", json=body), 400, "global/invalid-parameters")
    assert ok(lambda_api.api("GET", "/file-systems")) == []
    failed(lambda_api.api("DELETE", "/filesystems/" + "0" * 32), 404, "global/object-does-not-exist")
    failed(lambda_api.api("DELETE", "/filesystems/not-a-hex-id"), 404, "global/object-does-not-exist")


@pytest.mark.fault("requests beyond Lambda's rate limits, launches closer than the interval",
                   checks="429 as plain text, as the real API answers")
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


@pytest.mark.fault("lost answer on a launch", checks="408 answered, and the instance was launched")
def test_a_lost_launch_answer_still_launched(lambda_api, key):
    lambda_api.add_fault(lose_response=True, method="POST", path_regex="/launch$")
    assert launch(lambda_api).status_code == 408
    assert len(ok(lambda_api.api("GET", "/instances"))) == 1


def test_unhealthy_out_of_band(lambda_api, key):
    instance_id = launched(lambda_api)
    wait_status(lambda_api, instance_id)
    lambda_api.set_status(instance_id, "unhealthy")
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["status"] == "unhealthy"
