"""Lambda writes whose answer is lost, and writes that fail for good, through the ansible CLI.

The emulator's ``lose_response`` fault carries a request out and then answers 408, as a
timeout on the way back would: the client must find the write done instead of sending it
again (which would fail, or do it twice).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.modules import call_module

A100 = "gpu_1x_a100_sxm4"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops@laptop"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOtherOtherOtherOtherOtherOtherOth ops@desk"


def lose_next(lam, method, path_regex):
    lam.add_fault(lose_response=True, count=1, method=method, path_regex=path_regex)


def sent(lam, seq, method, suffix):
    return [e for e in lam.requests_since(seq) if e["method"] == method and e["path"].endswith(suffix)]


def ssh_keys(lam):
    return lam.api("GET", "/ssh-keys").json()["data"]


def public_half(path):
    """The public key of the private key file at ``path``, as OpenSSH writes it (no comment)."""
    private = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()


def key_body(public_key):
    return " ".join(public_key.split()[:2])


@pytest.fixture
def instance(lambda_api):
    """One active instance of the pool ``sophia-gpu``."""
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    launched = call_module("lambda_instance", pool_args(lambda_api))
    assert launched.changed, launched
    return launched["instances"][0]


def pool_args(lam, **args):
    return lam.module_args(**dict({"name": "sophia-gpu", "instance_type_names": [A100], "region_names": ["us-east-1"],
                                   "ssh_key_name": "sophia-ops", "wait_timeout": 60, "launch_interval": 0}, **args))


# ----------------------------------------------------------------- instances
@pytest.mark.fault("instance terminate answer lost", checks="terminate sent once; changed, not failed")
def test_a_lost_terminate_answer_is_found_terminating(lambda_api, instance):
    lose_next(lambda_api, "POST", "/terminate$")
    seq = lambda_api.last_seq()
    gone = call_module("lambda_instance", pool_args(lambda_api, state="absent"))
    assert gone.changed and not gone.failed, gone
    assert len(sent(lambda_api, seq, "POST", "/terminate")) == 1


@pytest.mark.fault("instance restart answer lost while the instance boots",
                   checks="restart sent once; reported booting, changed")
def test_a_lost_restart_answer_is_found_restarting(lambda_api, instance):
    lambda_api.settings(boot_seconds=5)  # still booting when the client looks
    lose_next(lambda_api, "POST", "/restart$")
    seq = lambda_api.last_seq()
    restarted = call_module("lambda_instance", pool_args(lambda_api, state="restarted", wait=False))
    assert restarted.changed and not restarted.failed, restarted
    assert len(sent(lambda_api, seq, "POST", "/restart")) == 1
    assert restarted["instances"][0]["status"] == "booting"


# ------------------------------------------------------------------ ssh keys
@pytest.mark.fault("SSH key add answer lost", checks="add sent once; exactly the one key registered")
def test_a_lost_key_add_answer_is_found_by_name_and_key(lambda_api):
    lose_next(lambda_api, "POST", "/ssh-keys$")
    seq = lambda_api.last_seq()
    added = call_module("lambda_ssh_key", lambda_api.module_args(name="sophia-ops", public_key=PUBLIC_KEY))
    assert added.changed and not added.failed, added
    assert len(sent(lambda_api, seq, "POST", "/ssh-keys")) == 1
    assert [k["public_key"] for k in ssh_keys(lambda_api)] == [PUBLIC_KEY]


@pytest.mark.fault("SSH key add answer lost for a generated key pair",
                   checks="the registered key is the saved private key's public half; a rerun changes nothing")
def test_a_lost_answer_never_loses_a_generated_private_key(lambda_api, tmp_path):
    path = tmp_path / "lambda_key"
    lose_next(lambda_api, "POST", "/ssh-keys$")
    made = call_module("lambda_ssh_key", lambda_api.module_args(name="generated", private_key_path=str(path)))
    assert made.changed and not made.failed, made
    [registered] = ssh_keys(lambda_api)
    assert key_body(registered["public_key"]) == public_half(path)
    again = call_module("lambda_ssh_key", lambda_api.module_args(name="generated", private_key_path=str(path)))
    assert not again.changed and not again.failed


@pytest.mark.fault("SSH key delete answer lost", checks="found gone; changed, not failed")
def test_a_lost_key_delete_answer_is_found_gone(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    lose_next(lambda_api, "DELETE", "/ssh-keys/")
    deleted = call_module("lambda_ssh_key", lambda_api.module_args(name="sophia-ops", state="absent"))
    assert deleted.changed and not deleted.failed, deleted
    assert ssh_keys(lambda_api) == []


@pytest.mark.fault("503 on every add of a replacement SSH key",
                   checks="fails saying the old key is back, changed; the old key is registered")
def test_a_replacement_that_cannot_be_added_puts_the_old_key_back(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    lambda_api.add_fault(status=503, count=2, method="POST", path_regex="/ssh-keys$")
    failed = call_module("lambda_ssh_key", lambda_api.module_args(name="sophia-ops", public_key=OTHER_KEY,
                                                                  max_retries=1))
    assert failed.failed and "old key is back" in failed["msg"] and failed.changed
    assert [(k["name"], k["public_key"]) for k in ssh_keys(lambda_api)] == [("sophia-ops", PUBLIC_KEY)]


@pytest.mark.fault("503 on adding the new key during a rotation",
                   checks="the old key stays registered and saved as .previous; a later run converges")
def test_a_rotation_that_cannot_add_the_new_key_keeps_a_key_and_converges_later(lambda_api, tmp_path):
    path = tmp_path / "lambda_key"
    args = lambda_api.module_args(name="generated", private_key_path=str(path))
    call_module("lambda_ssh_key", args)
    before = public_half(path)

    lambda_api.add_fault(status=503, count=2, method="POST", path_regex="/ssh-keys$")
    failed = call_module("lambda_ssh_key", dict(args, rotate=True, max_retries=1))
    assert failed.failed and failed.changed and failed["previous_private_key_path"] == str(path) + ".previous"
    [registered] = ssh_keys(lambda_api)
    assert key_body(registered["public_key"]) == before == public_half(tmp_path / "lambda_key.previous")
    assert public_half(path) != before

    # The private key on disk is the wanted one: a plain run registers it, and a rotation would too
    # (without making yet another pair, which would push the key instances trust out of .previous).
    converged = call_module("lambda_ssh_key", args)
    assert converged.changed and not converged.failed
    assert key_body(ssh_keys(lambda_api)[0]["public_key"]) == public_half(path)
    assert public_half(tmp_path / "lambda_key.previous") == before


# --------------------------------------------------------------- filesystems
@pytest.mark.fault("filesystem create answer lost", checks="found by name; exactly one filesystem")
def test_a_lost_filesystem_create_answer_is_found_by_name(lambda_api):
    lose_next(lambda_api, "POST", "/filesystems$")
    created = call_module("lambda_filesystem", lambda_api.module_args(name="sophia-models", region="us-east-1"))
    assert created.changed and not created.failed, created
    assert created["lambda_filesystem"]["name"] == "sophia-models"
    assert len(lambda_api.api("GET", "/file-systems").json()["data"]) == 1


@pytest.mark.fault("filesystem delete answer lost", checks="found gone; changed, not failed")
def test_a_lost_filesystem_delete_answer_is_found_gone(lambda_api):
    lambda_api.api("POST", "/filesystems", json={"name": "sophia-models", "region": "us-east-1"})
    lose_next(lambda_api, "DELETE", "/filesystems/")
    deleted = call_module("lambda_filesystem", lambda_api.module_args(name="sophia-models", state="absent",
                                                                      confirm_delete=True))
    assert deleted.changed and not deleted.failed, deleted
    assert lambda_api.api("GET", "/file-systems").json()["data"] == []


# ------------------------------------------------------------------ firewall
@pytest.mark.fault("firewall rules PUT answer lost",
                   checks="the PUT (whole list, idempotent) is sent again; the rules are as wanted")
def test_a_lost_firewall_answer_is_sent_again(lambda_api):
    rules = [{"protocol": "tcp", "port_range": [22, 22], "source_network": "203.0.113.0/24", "description": "ops"}]
    lose_next(lambda_api, "PUT", "/firewall-rules$")
    seq = lambda_api.last_seq()
    put = call_module("lambda_firewall", lambda_api.module_args(rules=rules))
    assert put.changed and not put.failed, put
    assert len(sent(lambda_api, seq, "PUT", "/firewall-rules")) == 2
    assert lambda_api.api("GET", "/firewall-rules").json()["data"] == rules
