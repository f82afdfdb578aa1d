"""The pool logic of sophia.ops.lambda_instance, and the pacing of its launches: pure, no emulator."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.api_client import RateLimiter
from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import LAUNCH_PATH, launch_marker, lambda_rate_limits
from ansible_collections.sophia.ops.plugins.module_utils.lambda_pool import member_index, plan_pool


def member(name, status="active", launched=None, ident=None):
    tags = [{"key": "sophia-ops:pool", "value": "gpu"}]
    if launched is not None:
        tags.append({"key": "sophia-ops:launch", "value": launch_marker(now=launched)})
    return {"id": ident or "id-" + name, "name": name, "status": status, "tags": tags}


def names(instances):
    return [i["name"] for i in instances]


def test_two_to_one_terminates_the_newest_and_keeps_the_other():
    plan = plan_pool("gpu", [member("gpu-1", launched=100), member("gpu-2", launched=200)], 1)
    assert names(plan.keep) == ["gpu-1"] and names(plan.terminate) == ["gpu-2"] and plan.launch == []


def test_one_to_three_launches_two_beside_the_member():
    plan = plan_pool("gpu", [member("gpu-1")], 3)
    assert names(plan.keep) == ["gpu-1"] and plan.terminate == [] and plan.launch == ["gpu-2", "gpu-3"]


def test_an_empty_pool_of_one_launches_a_numbered_member():
    assert plan_pool("gpu", [], 1).launch == ["gpu-1"]


def test_new_members_take_the_lowest_free_numbers():
    plan = plan_pool("gpu", [member("gpu-2"), member("gpu-4")], 4)
    assert plan.launch == ["gpu-1", "gpu-3"] and names(plan.keep) == ["gpu-2", "gpu-4"]


def test_an_unnumbered_member_counts():
    assert plan_pool("gpu", [member("gpu")], 1) == ([member("gpu")], [], [])
    assert plan_pool("gpu", [member("gpu")], 2).launch == ["gpu-1"]


def test_members_that_do_not_serve_go_before_the_newest():
    pool = [member("gpu-1", status="unhealthy", launched=100), member("gpu-2", status="booting", launched=150),
            member("gpu-3", launched=300)]
    plan = plan_pool("gpu", pool, 1)
    assert names(plan.terminate) == ["gpu-2", "gpu-1"] and names(plan.keep) == ["gpu-3"]


def test_the_newest_is_told_by_the_launch_time_not_the_number():
    # gpu-1 was relaunched into a free number after gpu-3 existed.
    pool = [member("gpu-1", launched=500), member("gpu-2", launched=100), member("gpu-3", launched=200)]
    assert names(plan_pool("gpu", pool, 2).terminate) == ["gpu-1"]


def test_without_launch_times_the_highest_number_goes_first():
    pool = [member("gpu"), member("gpu-1"), member("gpu-2")]
    assert names(plan_pool("gpu", pool, 1).terminate) == ["gpu-2", "gpu-1"]


def test_count_zero_empties_the_pool_and_below_zero_is_refused():
    assert names(plan_pool("gpu", [member("gpu-1"), member("gpu")], 0).terminate) == ["gpu-1", "gpu"]
    with pytest.raises(ValueError):
        plan_pool("gpu", [member("gpu-1")], -1)


def test_kept_members_are_in_name_order():
    pool = [member("gpu-10"), member("renamed"), member("gpu-2"), member("gpu")]
    assert names(plan_pool("gpu", pool, 4).keep) == ["gpu", "gpu-2", "gpu-10", "renamed"]


@pytest.mark.parametrize("name, index", [("gpu", 0), ("gpu-1", 1), ("gpu-12", 12), ("gpu-01", None),
                                         ("gpu-1-2", None), ("gpux-1", None), ("other", None), ("", None)])
def test_member_index(name, index):
    assert member_index("gpu", {"name": name}) == index


def test_launches_are_paced_twelve_seconds_apart_and_other_requests_one_a_second():
    now = [0.0]
    limiter = RateLimiter(lambda_rate_limits(), clock=lambda: now[0])
    waits = [limiter.reserve("POST", LAUNCH_PATH) for dummy in range(3)]
    assert waits[0] == 0 and 12 <= waits[1] < 12.5 and 24 <= waits[2] < 25
    # The account-wide burst of 5 was spent by the launches (3) and two more requests.
    assert [limiter.reserve("GET", "/instances") for dummy in range(2)] == [0, 0]
    assert 1 <= limiter.reserve("GET", "/instances") < 1.5


def test_a_launch_interval_of_zero_paces_only_the_account():
    limiter = RateLimiter(lambda_rate_limits(0), clock=lambda: 0.0)
    assert [limiter.reserve("POST", LAUNCH_PATH) for dummy in range(5)] == [0] * 5
