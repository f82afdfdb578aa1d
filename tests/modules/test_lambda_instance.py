"""sophia.ops.lambda_instance through the ansible CLI against the Lambda emulator."""

from __future__ import annotations

import pytest

from tests.support.ansible_cli import run_module

A100, H100 = "gpu_1x_a100_sxm4", "gpu_1x_h100_pcie"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"


@pytest.fixture
def lam(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    return lambda_api


def instance_args(lam, **args):
    return lam.module_args(**dict({"name": "sophia-gpu", "instance_type_names": [A100],
                                   "region_names": ["us-east-1", "us-west-1"], "ssh_key_name": "sophia-ops",
                                   "wait_timeout": 60}, **args))


def live(lam):
    return lam.api("GET", "/instances").json()["data"]


def test_lifecycle(lam):
    args = instance_args(lam)

    seq = lam.last_seq()
    predicted = run_module("lambda_instance", args, check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"] == {"instances": ["sophia-gpu"]}
    assert lam.writes_since(seq) == []

    launched = run_module("lambda_instance", args)
    assert launched.changed, launched
    [instance] = launched["instances"]
    assert instance["status"] == "active" and instance["ip"] and instance["region"] == "us-east-1"
    assert instance["instance_type"] == A100 and instance["hostname"]

    seq = lam.last_seq()
    again = run_module("lambda_instance", args)
    assert not again.changed and lam.writes_since(seq) == []

    seq = lam.last_seq()
    predicted = run_module("lambda_instance", dict(args, count=2), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"] == {"instances": ["sophia-gpu-1", "sophia-gpu-2"]}
    assert lam.writes_since(seq) == []

    seq = lam.last_seq()
    predicted = run_module("lambda_instance", dict(args, state="absent"), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"] == {"instances": ["sophia-gpu"]}
    assert lam.writes_since(seq) == []

    assert run_module("lambda_instance", dict(args, state="absent")).changed
    assert live(lam) == [] or all(i["status"] == "terminating" for i in live(lam))
    seq = lam.last_seq()
    assert not run_module("lambda_instance", dict(args, state="absent")).changed
    assert lam.writes_since(seq) == []


def test_a_pool_scales_up_and_down(lam):
    up = run_module("lambda_instance", instance_args(lam, name="embed", count=3))
    assert sorted(i["name"] for i in up["instances"]) == ["embed-1", "embed-2", "embed-3"]
    down = run_module("lambda_instance", instance_args(lam, name="embed", count=2))
    assert down.changed and sorted(i["name"] for i in down["instances"]) == ["embed-1", "embed-2"]


def test_a_lost_launch_answer_leaves_exactly_one_instance(lam):
    lam.add_fault(lose_response=True, count=1, method="POST", path_regex="/launch$")
    launched = run_module("lambda_instance", instance_args(lam))
    assert launched.changed and not launched.failed
    assert len(live(lam)) == 1


def test_no_capacity_in_the_first_region_lands_in_the_next(lam):
    lam.set_capacity(A100, "us-east-1", available=False)
    landed = run_module("lambda_instance", instance_args(lam))
    assert landed["instances"][0]["region"] == "us-west-1"


def test_no_capacity_for_the_first_type_falls_back_to_the_next_type(lam):
    lam.set_capacity(A100, "us-east-1", available=False)
    lam.set_capacity(A100, "us-west-1", available=False)
    landed = run_module("lambda_instance", instance_args(lam, instance_type_names=[A100, H100]))
    assert (landed["instances"][0]["instance_type"], landed["instances"][0]["region"]) == (H100, "us-east-1")


def test_no_capacity_anywhere_fails_clearly(lam):
    for region in ("us-east-1", "us-west-1"):
        lam.set_capacity(A100, region, available=False)
    failed = run_module("lambda_instance", instance_args(lam))
    assert failed.failed and "no capacity" in failed["msg"]
    assert live(lam) == []


def test_unhealthy_fails_fast(lam):
    launched = run_module("lambda_instance", instance_args(lam))
    lam.set_status(launched["instances"][0]["id"], "unhealthy")
    failed = run_module("lambda_instance", instance_args(lam))
    assert failed.failed and "unhealthy" in failed["msg"]


def test_restarted(lam):
    run_module("lambda_instance", instance_args(lam))
    restarted = run_module("lambda_instance", instance_args(lam, state="restarted"))
    assert restarted.changed and restarted["instances"][0]["status"] == "active"


def test_throttled_launches_wait_out_the_limit(lam):
    lam.settings(rate_limits=True, launch_interval_seconds=2)
    pool = run_module("lambda_instance", instance_args(lam, name="burst", count=2))
    assert pool.changed and len(pool["instances"]) == 2
    launches = [e for e in lam.requests_since(0) if e["path"].endswith("/launch")]
    assert [e["status"] for e in launches].count(200) == 2
