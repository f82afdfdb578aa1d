"""sophia.ops.lambda_instance through the ansible CLI against the Lambda emulator."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.modules import call_module

A100, H100 = "gpu_1x_a100_sxm4", "gpu_1x_h100_pcie"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T ops"


@pytest.fixture
def lam(lambda_api):
    lambda_api.api("POST", "/ssh-keys", json={"name": "sophia-ops", "public_key": PUBLIC_KEY})
    return lambda_api


def instance_args(lam, **args):
    # The lambda_api fixture turns the emulator's limits off, so launches need no spacing; the tests
    # about the limits turn both back on.
    return lam.module_args(**dict({"name": "sophia-gpu", "instance_type_names": [A100],
                                   "region_names": ["us-east-1", "us-west-1"], "ssh_key_name": "sophia-ops",
                                   "wait_timeout": 60, "launch_interval": 0}, **args))


def live(lam):
    return lam.api("GET", "/instances").json()["data"]


def writes(lam, seq, suffix):
    return [e for e in lam.writes_since(seq) if e["path"].endswith(suffix)]


def test_lifecycle(lam):
    args = instance_args(lam)

    seq = lam.last_seq()
    predicted = call_module("lambda_instance", args, check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"] == {"instances": ["sophia-gpu-1"]}
    assert lam.writes_since(seq) == []

    launched = call_module("lambda_instance", args)
    assert launched.changed, launched
    [instance] = launched["instances"]
    assert instance["name"] == "sophia-gpu-1"
    assert instance["status"] == "active" and instance["ip"] and instance["region"] == "us-east-1"
    assert instance["instance_type"] == A100 and instance["hostname"]

    seq = lam.last_seq()
    again = call_module("lambda_instance", args)
    assert not again.changed and lam.writes_since(seq) == []

    seq = lam.last_seq()
    predicted = call_module("lambda_instance", dict(args, count=2), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"] == {"instances": ["sophia-gpu-1", "sophia-gpu-2"]}
    assert lam.writes_since(seq) == []

    seq = lam.last_seq()
    predicted = call_module("lambda_instance", dict(args, state="absent"), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"] == {"instances": ["sophia-gpu-1"]}
    assert lam.writes_since(seq) == []

    assert call_module("lambda_instance", dict(args, state="absent")).changed
    assert live(lam) == [] or all(i["status"] == "terminating" for i in live(lam))
    seq = lam.last_seq()
    assert not call_module("lambda_instance", dict(args, state="absent")).changed
    assert lam.writes_since(seq) == []


def test_a_pool_scales_up_and_down(lam):
    up = call_module("lambda_instance", instance_args(lam, name="embed", count=3))
    assert [i["name"] for i in up["instances"]] == ["embed-1", "embed-2", "embed-3"]
    down = call_module("lambda_instance", instance_args(lam, name="embed", count=2))
    assert down.changed and [i["name"] for i in down["instances"]] == ["embed-1", "embed-2"]
    assert [i["id"] for i in down["instances"]] == [i["id"] for i in up["instances"][:2]]


def test_crossing_a_count_of_one_keeps_the_members(lam):
    two = call_module("lambda_instance", instance_args(lam, count=2))["instances"]

    seq = lam.last_seq()
    one = call_module("lambda_instance", instance_args(lam, count=1))
    assert one.changed and [i["id"] for i in one["instances"]] == [two[0]["id"]]
    [terminate] = writes(lam, seq, "/terminate")
    assert writes(lam, seq, "/launch") == [] and len(lam.writes_since(seq)) == 1
    assert terminate["status"] == 200

    seq = lam.last_seq()
    three = call_module("lambda_instance", instance_args(lam, count=3))
    assert [i["name"] for i in three["instances"]] == ["sophia-gpu-1", "sophia-gpu-2", "sophia-gpu-3"]
    assert three["instances"][0]["id"] == two[0]["id"]
    assert len(writes(lam, seq, "/launch")) == 2 and writes(lam, seq, "/terminate") == []


def test_an_unnumbered_instance_of_an_earlier_release_stays_a_member(lam):
    lam.api("POST", "/instance-operations/launch", json={
        "region_name": "us-east-1", "instance_type_name": A100, "ssh_key_names": ["sophia-ops"],
        "name": "sophia-gpu", "tags": [{"key": "sophia-ops:pool", "value": "sophia-gpu"}]})
    seq = lam.last_seq()
    kept = call_module("lambda_instance", instance_args(lam))
    assert not kept.changed and [i["name"] for i in kept["instances"]] == ["sophia-gpu"]
    assert lam.writes_since(seq) == []
    grown = call_module("lambda_instance", instance_args(lam, count=2))
    assert [i["name"] for i in grown["instances"]] == ["sophia-gpu", "sophia-gpu-1"]


def test_shrinking_gives_up_an_unhealthy_member_first(lam):
    first, second = call_module("lambda_instance", instance_args(lam, count=2))["instances"]
    lam.set_status(first["id"], "unhealthy")
    shrunk = call_module("lambda_instance", instance_args(lam, count=1))
    assert shrunk.changed and not shrunk.failed
    assert [i["id"] for i in shrunk["instances"]] == [second["id"]]


def test_a_negative_count_fails_before_any_request(lam):
    assert call_module("lambda_instance", instance_args(lam, count=1)).changed
    seq = lam.last_seq()
    failed = call_module("lambda_instance", instance_args(lam, count=-1))
    assert failed.failed and failed["msg"].startswith("count: -1 is out of range") and not failed.changed
    assert lam.requests_since(seq) == []
    assert len(live(lam)) == 1  # the pool kept its member


def test_a_failure_after_a_launch_still_reports_the_change(lam):
    lam.settings(instance_quota=1)
    failed = call_module("lambda_instance", instance_args(lam, count=2))
    assert failed.failed and "quota" in failed["msg"].lower()
    assert failed.changed and len(live(lam)) == 1


def test_a_lost_launch_answer_leaves_exactly_one_instance(lam):
    lam.add_fault(lose_response=True, count=1, method="POST", path_regex="/launch$")
    launched = call_module("lambda_instance", instance_args(lam))
    assert launched.changed and not launched.failed
    assert len(live(lam)) == 1


def test_no_capacity_in_the_first_region_lands_in_the_next(lam):
    lam.set_capacity(A100, "us-east-1", available=False)
    landed = call_module("lambda_instance", instance_args(lam))
    assert landed["instances"][0]["region"] == "us-west-1"


def test_no_capacity_for_the_first_type_falls_back_to_the_next_type(lam):
    lam.set_capacity(A100, "us-east-1", available=False)
    lam.set_capacity(A100, "us-west-1", available=False)
    landed = call_module("lambda_instance", instance_args(lam, instance_type_names=[A100, H100]))
    assert (landed["instances"][0]["instance_type"], landed["instances"][0]["region"]) == (H100, "us-east-1")


def test_no_capacity_anywhere_fails_clearly(lam):
    for region in ("us-east-1", "us-west-1"):
        lam.set_capacity(A100, region, available=False)
    failed = call_module("lambda_instance", instance_args(lam))
    assert failed.failed and "no capacity" in failed["msg"]
    assert live(lam) == []


def test_unhealthy_fails_fast(lam):
    launched = call_module("lambda_instance", instance_args(lam))
    lam.set_status(launched["instances"][0]["id"], "unhealthy")
    failed = call_module("lambda_instance", instance_args(lam))
    assert failed.failed and "unhealthy" in failed["msg"]
    assert [i["status"] for i in failed["instances"]] == ["unhealthy"]


def test_an_instance_preempted_while_booting_ends_the_wait_at_once(lam):
    lam.settings(boot_seconds=60)

    def preempt():
        for dummy in range(200):
            booting = live(lam)
            if booting:
                lam.set_status(booting[0]["id"], "preempted")
                return
            time.sleep(0.05)

    preempter = threading.Thread(target=preempt, daemon=True)
    preempter.start()
    started = time.monotonic()
    failed = call_module("lambda_instance", instance_args(lam, wait_timeout=50))
    preempter.join()
    assert failed.failed and "preempted" in failed["msg"] and failed.changed
    assert time.monotonic() - started < 30


def test_restarted(lam):
    call_module("lambda_instance", instance_args(lam))
    restarted = call_module("lambda_instance", instance_args(lam, state="restarted"))
    assert restarted.changed and restarted["instances"][0]["status"] == "active"


def test_a_pool_launches_within_the_limits(lam):
    lam.settings(rate_limits=True, launch_interval_seconds=1)
    seq = lam.last_seq()
    pool = call_module("lambda_instance", instance_args(lam, name="burst", count=3, launch_interval=1))
    assert pool.changed and len(pool["instances"]) == 3
    answers = lam.requests_since(seq)
    assert [e["status"] for e in answers if e["path"].endswith("/launch")] == [200, 200, 200]
    assert [e for e in answers if e["status"] == 429] == []


def test_a_throttled_launch_is_sent_again(lam):
    lam.settings(rate_limits=True, launch_interval_seconds=1.5)
    seq = lam.last_seq()
    pool = call_module("lambda_instance", instance_args(lam, name="burst", count=2, launch_interval=0.5))
    assert pool.changed and len(pool["instances"]) == 2
    launches = [e["status"] for e in lam.requests_since(seq) if e["path"].endswith("/launch")]
    assert launches.count(200) == 2 and 429 in launches
