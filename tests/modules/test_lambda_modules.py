"""sophia.ops.lambda_ssh_key, lambda_filesystem, lambda_firewall and lambda_instance_info."""

from __future__ import annotations

import json

from tests.support.modules import call_module

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops@laptop"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOtherOtherOtherOtherOtherOtherOth ops@desk"


def test_ssh_key_lifecycle(lambda_api):
    args = lambda_api.module_args(name="sophia-ops", public_key=PUBLIC_KEY)
    seq = lambda_api.last_seq()
    assert call_module("lambda_ssh_key", args, check=True).changed
    assert lambda_api.writes_since(seq) == []
    added = call_module("lambda_ssh_key", args)
    assert added.changed and added["lambda_ssh_key"]["name"] == "sophia-ops"
    seq = lambda_api.last_seq()
    same_key_other_comment = dict(args, public_key=PUBLIC_KEY.replace("ops@laptop", "renamed"))
    assert not call_module("lambda_ssh_key", same_key_other_comment).changed
    assert lambda_api.writes_since(seq) == []

    seq = lambda_api.last_seq()
    predicted = call_module("lambda_ssh_key", dict(args, public_key=OTHER_KEY), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"]["public_key"] == OTHER_KEY
    assert lambda_api.writes_since(seq) == []
    replaced = call_module("lambda_ssh_key", dict(args, public_key=OTHER_KEY))
    assert replaced.changed and replaced["lambda_ssh_key"]["public_key"] == OTHER_KEY

    assert call_module("lambda_ssh_key", dict(args, state="absent")).changed
    assert not call_module("lambda_ssh_key", dict(args, state="absent")).changed


def private_lines(path):
    """The base64 lines of a private key file, none of which may show in a task's output."""
    return [line for line in path.read_text().splitlines() if not line.startswith("-----")]


def registered_key(lambda_api, name):
    return next(k["public_key"] for k in lambda_api.api("GET", "/ssh-keys").json()["data"] if k["name"] == name)


def test_a_kept_pair_is_made_on_the_controller_and_its_private_key_goes_nowhere_else(lambda_api, tmp_path):
    path = tmp_path / "lambda_key"
    args = lambda_api.module_args(name="generated", private_key_path=str(path))
    seq = lambda_api.last_seq()
    predicted = call_module("lambda_ssh_key", args, check=True)
    assert predicted.changed and not path.exists() and lambda_api.writes_since(seq) == []

    made = call_module("lambda_ssh_key", args, diff=True)
    assert made.changed and made["private_key_path"] == str(path)
    key = path.read_text()
    assert key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----") and oct(path.stat().st_mode & 0o777) == "0o600"
    assert not any(line in json.dumps(made) for line in private_lines(path))
    assert made["lambda_ssh_key"]["public_key"] == registered_key(lambda_api, "generated")
    assert made["lambda_ssh_key"]["public_key"].startswith("ssh-ed25519 ")

    seq = lambda_api.last_seq()
    again = call_module("lambda_ssh_key", args)
    assert not again.changed and path.read_text() == key and lambda_api.writes_since(seq) == []


def test_rotation_keeps_the_previous_private_key(lambda_api, tmp_path):
    path, previous = tmp_path / "lambda_key", tmp_path / "lambda_key.previous"
    args = lambda_api.module_args(name="generated", private_key_path=str(path))
    first = call_module("lambda_ssh_key", args)["lambda_ssh_key"]["public_key"]
    first_private = path.read_text()

    seq = lambda_api.last_seq()
    predicted = call_module("lambda_ssh_key", dict(args, rotate=True), check=True)
    assert predicted.changed and path.read_text() == first_private and not previous.exists()
    assert lambda_api.writes_since(seq) == []

    rotated = call_module("lambda_ssh_key", dict(args, rotate=True))
    assert rotated.changed and rotated["previous_private_key_path"] == str(previous)
    assert previous.read_text() == first_private and oct(previous.stat().st_mode & 0o777) == "0o600"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    second = registered_key(lambda_api, "generated")
    assert second != first and rotated["lambda_ssh_key"]["public_key"] == second
    assert not any(line in json.dumps(rotated) for line in private_lines(path) + private_lines(previous))

    again = call_module("lambda_ssh_key", dict(args, rotate=True))
    assert again.changed and registered_key(lambda_api, "generated") not in (first, second)


def test_a_registered_key_without_its_private_key_is_only_replaced_on_request(lambda_api, tmp_path):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    path = tmp_path / "lambda_key"
    args = lambda_api.module_args(name="sophia-ops", private_key_path=str(path))
    refused = call_module("lambda_ssh_key", args)
    assert refused.failed and "rotate" in refused["msg"] and not refused.changed and not path.exists()
    replaced = call_module("lambda_ssh_key", dict(args, rotate=True))
    assert replaced.changed and path.exists() and registered_key(lambda_api, "sophia-ops") != PUBLIC_KEY
    assert "previous_private_key_path" not in replaced


def test_filesystem_lifecycle(lambda_api):
    args = lambda_api.module_args(name="sophia-models", region="us-east-1")
    seq = lambda_api.last_seq()
    assert call_module("lambda_filesystem", args, check=True).changed
    assert lambda_api.writes_since(seq) == []
    created = call_module("lambda_filesystem", args, diff=True)
    assert created.changed and created["diff"]["after"] == {"name": "sophia-models", "region": "us-east-1"}
    seq = lambda_api.last_seq()
    assert not call_module("lambda_filesystem", args).changed
    assert lambda_api.writes_since(seq) == []
    moved = call_module("lambda_filesystem", dict(args, region="us-west-1"))
    assert moved.failed and "cannot move" in moved["msg"]

    unconfirmed = call_module("lambda_filesystem", dict(args, state="absent"))
    assert unconfirmed.failed and "confirm_delete" in unconfirmed["msg"]
    gone = dict(args, state="absent", confirm_delete=True)
    seq = lambda_api.last_seq()
    assert call_module("lambda_filesystem", gone, check=True, diff=True).changed
    assert lambda_api.writes_since(seq) == []
    assert call_module("lambda_filesystem", gone).changed
    assert not call_module("lambda_filesystem", gone).changed


def test_firewall_is_declarative(lambda_api):
    rules = [{"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "ops"},
             {"protocol": "icmp", "source_network": "198.51.100.7", "description": "monitoring"}]
    seq = lambda_api.last_seq()
    predicted = call_module("lambda_firewall", lambda_api.module_args(rules=rules), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"] == {"rules": []}
    assert lambda_api.writes_since(seq) == []

    assert call_module("lambda_firewall", lambda_api.module_args(rules=rules)).changed
    seq = lambda_api.last_seq()
    reordered = list(reversed(rules))
    assert not call_module("lambda_firewall", lambda_api.module_args(rules=reordered)).changed
    assert lambda_api.writes_since(seq) == []

    fewer = call_module("lambda_firewall", lambda_api.module_args(rules=rules[:1]), diff=True)
    assert fewer.changed and len(fewer["diff"]["before"]["rules"]) == 2 and len(fewer["rules"]) == 1

    many = [{"protocol": "tcp", "port_range": [p, p], "source_network": "0.0.0.0/0"} for p in range(8000, 8021)]
    warned = call_module("lambda_firewall", lambda_api.module_args(rules=many))
    assert warned.changed and any("advises" in w for w in warned.get("warnings", []))


def test_instance_info_filters(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    call_module("lambda_instance", lambda_api.module_args(
        name="info-pool", instance_type_names=["gpu_1x_a10"], region_names=["us-west-1"],
        ssh_key_name="sophia-ops", wait=False))
    everything = call_module("lambda_instance_info", lambda_api.module_args())
    pool = call_module("lambda_instance_info", lambda_api.module_args(pool="info-pool", region="us-west-1"))
    other = call_module("lambda_instance_info", lambda_api.module_args(pool="other"))
    assert len(everything["instances"]) == 1 and len(pool["instances"]) == 1 and other["instances"] == []
    by_id = call_module("lambda_instance_info", lambda_api.module_args(instance_id=pool["instances"][0]["id"]))
    assert by_id["instances"][0]["name"] == "info-pool-1"
    assert "sophia-ops" not in json.dumps(lambda_api.requests_since(0))  # the log holds no bodies
