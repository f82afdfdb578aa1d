"""Requests the Lambda Cloud emulator must refuse, and the shape of every refusal: bodies of the
wrong type on each operation that takes one, malformed JSON, unknown paths and methods, ids
that are not ids, operations left out. Always the document's ``{"error": {"code", "message",
"suggestion"}}`` with its code for the status, never a 5xx, never a write."""

from __future__ import annotations

import json

import pytest

from tests.emulators.lambda_cloud.helpers import PUBLIC_KEY, SSH_RULE, add_key, contract_problems, failed, launched, ok

LAUNCH = {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["ops"]}

# Every operation with a body, and bodies of the wrong type for it (whole, or one field at any depth).
# "{instance}" and "{ruleset}" stand for resources the world fixture made.
WRONG_BODIES = {
    ("POST", "/instance-operations/launch"): [
        [LAUNCH], "launch", 42, {"region_name": ["us-east-1"], **{k: v for k, v in LAUNCH.items() if k != "region_name"}},
        dict(LAUNCH, ssh_key_names="ops"), dict(LAUNCH, instance_type_name={"name": "gpu_1x_a10"}),
        dict(LAUNCH, tags={"team": "ml"}), dict(LAUNCH, tags=[{"key": "team", "value": 7}]),
        dict(LAUNCH, firewall_rulesets=["{ruleset}"]), dict(LAUNCH, firewall_rulesets=[{"id": {"id": "{ruleset}"}}]),
        dict(LAUNCH, file_system_mounts={"file_system_id": "x", "mount_point": "/data"}),
        dict(LAUNCH, file_system_names="models"), dict(LAUNCH, image={"name": "ubuntu"}), dict(LAUNCH, name=5),
        dict(LAUNCH, hostname=""), dict(LAUNCH, user_data={"runcmd": []}),
        {k: v for k, v in LAUNCH.items() if k != "ssh_key_names"}],
    ("POST", "/instance-operations/restart"): [
        ["{instance}"], {"instance_ids": "{instance}"}, {"instance_ids": [7]}, {"instance_ids": None}, {}],
    ("POST", "/instance-operations/terminate"): [
        ["{instance}"], {"instance_ids": "{instance}"}, {"instance_ids": [{"id": "{instance}"}]}, {}],
    ("POST", "/instances/{instance}"): [["renamed"], "renamed", {"name": ["renamed"]}, {"name": None}, {"name": 1}],
    ("POST", "/ssh-keys"): [[{"name": "k"}], {"name": 7}, {"name": None}, {"name": "k", "public_key": ["ssh-ed25519"]},
                            {"public_key": PUBLIC_KEY}],
    ("POST", "/filesystems"): [["fs"], {"name": ["fs"], "region": "us-east-1"}, {"name": "fs", "region": 1},
                               {"name": "fs", "region": None}, {"region": "us-east-1"}],
    ("PUT", "/firewall-rules"): [[SSH_RULE], {"data": SSH_RULE}, {"data": [[SSH_RULE]]}, {"rules": [SSH_RULE]},
                                 {"data": [dict(SSH_RULE, port_range={"min": 22, "max": 22})]},
                                 {"data": [dict(SSH_RULE, protocol=6)]}, {"data": [dict(SSH_RULE, description=5)]}],
    ("POST", "/firewall-rulesets"): [
        [{"name": "r"}], {"name": ["r"], "region": "us-east-1", "rules": []},
        {"name": "r", "region": ["us-east-1"], "rules": []}, {"name": "r", "region": "us-east-1", "rules": "none"},
        {"name": "r", "region": "us-east-1", "rules": [dict(SSH_RULE, source_network={"cidr": "0.0.0.0/0"})]}],
    ("PATCH", "/firewall-rulesets/{ruleset}"): [
        [{"name": "r"}], {"name": ["r"]}, {"name": 3}, {"rules": {}}, {"rules": [None]}],
    ("PATCH", "/firewall-rulesets/global"): [[SSH_RULE], {"rules": SSH_RULE}, {"rules": ["tcp"]}, {"rules": None}],
}


def cases():
    for (method, path), bodies in WRONG_BODIES.items():
        for index, body in enumerate(bodies):
            yield pytest.param(method, path, body, id="%s %s #%d" % (method, path, index))


@pytest.fixture
def world(lambda_api):
    """A key, a filesystem, a ruleset and an instance using both; the API's state, to compare."""
    add_key(lambda_api)
    ok(lambda_api.api("POST", "/filesystems", json={"name": "models", "region": "us-east-1"}))
    ruleset = ok(lambda_api.api("POST", "/firewall-rulesets", json={"name": "gpu", "region": "us-east-1",
                                                                    "rules": [SSH_RULE]}))
    ok(lambda_api.api("PUT", "/firewall-rules", json={"data": [SSH_RULE]}))
    instance = launched(lambda_api, name="worker", file_system_names=["models"],
                        firewall_rulesets=[{"id": ruleset["id"]}])
    return {"instance": instance, "ruleset": ruleset["id"]}


def fill(value, ids):
    text = json.dumps(value)
    for name, real in ids.items():
        text = text.replace("{%s}" % name, real)
    return json.loads(text)


def state(lam):
    """Everything the API lists, statuses aside (a booting instance turns active meanwhile)."""
    instances = [dict(i, status=None, actions=None, ip=None) for i in ok(lam.api("GET", "/instances"))]
    return {"instances": instances, "keys": ok(lam.api("GET", "/ssh-keys")),
            "filesystems": ok(lam.api("GET", "/file-systems")), "rules": ok(lam.api("GET", "/firewall-rules")),
            "rulesets": ok(lam.api("GET", "/firewall-rulesets"))}


@pytest.mark.fault("a body of the wrong type on every Lambda operation that takes one: a JSON array, string or "
                   "number for the object, a field of the wrong type at any depth, a required field left out, a "
                   "ruleset entry double-wrapped",
                   checks="400 global/invalid-parameters valid against the document, and nothing the API lists changed")
@pytest.mark.parametrize("method, path, body", list(cases()))
def test_wrong_typed_bodies_are_400_and_change_nothing(lambda_api, world, method, path, body):
    before = state(lambda_api)
    failed(lambda_api.api(method, fill(path, world), json=fill(body, world)), 400, "global/invalid-parameters")
    assert state(lambda_api) == before


@pytest.mark.fault("bytes that are not JSON on every Lambda operation that takes a body",
                   checks="400 global/invalid-parameters in the document's error object; nothing changed")
@pytest.mark.parametrize("method, path", list(WRONG_BODIES))
def test_malformed_json_is_400_in_the_lambda_shape(lambda_api, world, method, path):
    before = state(lambda_api)
    response = lambda_api.api(method, fill(path, world), data=b'{"name": ', headers={"Content-Type": "application/json"})
    error = failed(response, 400, "global/invalid-parameters")
    assert "JSON" in error["message"]
    assert state(lambda_api) == before


@pytest.mark.fault("a path the API does not have, and the paths of operations the emulator leaves out",
                   checks="404 global/not-found with a suggestion, valid against the document")
@pytest.mark.parametrize("method, path", [
    ("GET", "/no/such/thing"), ("GET", "/instances/abc/extra"), ("GET", "/tickets"), ("POST", "/tickets"),
    ("GET", "/tickets/1/attachments"), ("POST", "/fabric"), ("DELETE", "/fabric/abc"), ("GET", "/audit-events"),
])
def test_unknown_paths_are_404_with_a_suggestion(lambda_api, method, path):
    response = lambda_api.api(method, path, json={})
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "global/not-found" and error["message"] and error["suggestion"]
    assert contract_problems(response) == []


@pytest.mark.fault("a method a known path does not take", checks="405 with Allow, in the document's error object")
def test_unsupported_method_is_405_in_the_lambda_shape(lambda_api):
    response = lambda_api.api("DELETE", "/instances/" + "0" * 32)
    assert response.status_code == 405
    assert response.headers["Allow"].split(", ") == ["GET", "POST", "HEAD"]
    error = response.json()["error"]
    assert error["code"] == "global/invalid-parameters" and "DELETE" in error["message"] and error["suggestion"]


@pytest.mark.fault("ids that are not hex, or hex ids of nothing, in every path that takes one",
                   checks="404 with the document's code for the operation (object-does-not-exist; the generic "
                          "not-found for SSH keys) and its required suggestion")
@pytest.mark.parametrize("resource_id", ["0" * 32, "not-a-hex-id", "%20", "x" * 200])
@pytest.mark.parametrize("method, path, body, code", [
    ("GET", "/instances/", None, "global/object-does-not-exist"),
    ("POST", "/instances/", {"name": "x"}, "global/object-does-not-exist"),
    ("DELETE", "/filesystems/", None, "global/object-does-not-exist"),
    ("GET", "/firewall-rulesets/", None, "global/object-does-not-exist"),
    ("PATCH", "/firewall-rulesets/", {"name": "x"}, "global/object-does-not-exist"),
    ("DELETE", "/firewall-rulesets/", None, "global/object-does-not-exist"),
    ("DELETE", "/ssh-keys/", None, "global/not-found"),
])
def test_ids_of_nothing_are_404_with_the_documented_code(lambda_api, method, path, body, code, resource_id):
    error = failed(lambda_api.api(method, path + resource_id, json=body), 404, code)
    assert error["suggestion"]


@pytest.mark.fault("faults injected as 403, 404, 409, 500 and 503",
                   checks="the document's error object for the status, its required suggestion included")
@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/ssh-keys", 403, "global/account-inactive"), ("GET", "/ssh-keys", 404, "global/not-found"),
    ("POST", "/instance-operations/restart", 409, "global/conflict"),
    ("GET", "/ssh-keys", 500, "global/internal-error"), ("GET", "/ssh-keys", 503, "global/internal-error")])
def test_injected_faults_carry_the_documented_error(lambda_api, method, path, status, code):
    lambda_api.add_fault(status=status, method=method, path_regex=path + "$")
    response = lambda_api.api(method, path, json={"instance_ids": []} if method == "POST" else None)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["suggestion"]
    assert contract_problems(response) == []
