"""sophia.ops.fly_machine as an operator meets it at 3 a.m.: runs killed mid-rollout and run
again, leases left behind, answers lost on every kind of write, failing images. A monitor
counts the healthy machines all along; the request log shows what was written."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.ansible_cli import start_module
from tests.support.modules import call_module
from tests.support.watch import HealthMonitor, healthy, kill_at

OLD = "registry.fly.io/sophia-unified-api:1.4.1"
NEW = "registry.fly.io/sophia-unified-api:1.4.2"
BROKEN = "registry.fly.io/sophia-unified-api:broken"
CHECKS = {"alive": {"type": "http", "port": 8000, "method": "GET", "path": "/health"}}
UPDATE = re.compile(r"/machines/[^/]+$")


def group_args(fly, app, count, image=OLD, rollout=None, **args):
    config = {"image": image, "guest": {"cpus": 1, "memory_mb": 1024}, "checks": CHECKS}
    return fly.module_args(**dict({"app": app, "group": "app", "count": count, "regions": ["iad"], "config": config,
                                   "rollout": dict({"health_timeout": 20, "wait_timeout": 20}, **(rollout or {}))},
                                  **args))


def one_args(fly, app, **args):
    config = {"image": OLD, "checks": CHECKS, "env": {"LOG_LEVEL": "info"}}
    return fly.module_args(**dict({"app": app, "name": "one", "region": "iad", "config": config}, **args))


def updates(entries):
    return [e for e in entries if e["method"] == "POST" and UPDATE.search(e["path"])]


def machine(fly, app, machine_id):
    return fly.api("GET", "/apps/%s/machines/%s" % (app, machine_id)).json()


# --- 1. never below the healthy floor --------------------------------------------------------
@pytest.mark.fault("run killed mid-rollout of an image whose health checks fail, then run again",
                   checks="never below one healthy machine; the rerun stops as broken, updating no other machine")
def test_a_killed_rollout_of_a_broken_image_rerun_never_takes_the_last_healthy_machine(fly, app):
    fly.set_image(BROKEN, healthy=False)
    assert call_module("fly_machine", group_args(fly, app, 2)).changed

    seq = fly.last_seq()
    with HealthMonitor(fly, app) as monitor:
        run = start_module("fly_machine", group_args(fly, app, 2, image=BROKEN, rollout={"health_timeout": 120}))
        killed_at = kill_at(fly, run, lambda e: e["method"] == "POST" and UPDATE.search(e["path"]), seq)
        rerun = call_module("fly_machine", group_args(fly, app, 2, image=BROKEN, rollout={"health_timeout": 2}))

    assert rerun.failed and "looks broken" in rerun["msg"], rerun
    assert monitor.lowest == 1, monitor.samples  # one machine down, never both
    assert [e["path"] for e in updates(fly.requests_since(seq))] == [killed_at["path"]]  # not spread further
    assert not rerun.changed
    assert rerun["summary"]["unhealthy"] == [killed_at["path"].rsplit("/", 1)[1]]


@pytest.mark.fault("rollout with one of three machines stopped out of band",
                   checks="the stopped one is updated first; healthy machines never below count minus max_unavailable")
def test_members_that_are_down_go_first_and_count_against_max_unavailable(fly, app):
    made = call_module("fly_machine", group_args(fly, app, 3))["machines"]
    down = made[1]["id"]
    fly.drift_machine(app, down, state="stopped")

    seq = fly.last_seq()
    with HealthMonitor(fly, app) as monitor:
        rolled = call_module("fly_machine", group_args(fly, app, 3, image=NEW))
    assert rolled.changed and not rolled.failed, rolled
    assert monitor.lowest == 2, monitor.samples  # count 3 - max_unavailable 1, with one down at the start
    assert updates(fly.requests_since(seq))[0]["path"].endswith(down)  # the stopped one first
    assert sorted(rolled["summary"]["updated"]) == sorted(m["id"] for m in made)
    assert {m["config"]["image"] for m in rolled["machines"]} == {NEW} and all(healthy(m) for m in rolled["machines"])


@pytest.mark.fault("rollout of two machines with max_unavailable 2",
                   checks="at least one machine healthy all along; one batch per machine")
def test_a_group_of_two_never_goes_to_zero_even_when_all_may_be_unavailable(fly, app):
    call_module("fly_machine", group_args(fly, app, 2))
    with HealthMonitor(fly, app) as monitor:
        rolled = call_module("fly_machine", group_args(fly, app, 2, image=NEW, rollout={"max_unavailable": 2}))
    assert rolled.changed and len(rolled["summary"]["updated"]) == 2
    assert monitor.lowest >= 1, monitor.samples
    assert len(rolled["summary"]["progress"]) == 2  # one batch a machine


# --- 2. leases do not outlive the run ---------------------------------------------------------
@pytest.mark.fault("run killed while it holds a machine lease (updates answered 503)",
                   checks="the rerun waits our stale lease out and updates; no lease left after")
def test_a_lease_left_by_a_killed_run_is_waited_out(fly, app):
    made = call_module("fly_machine", group_args(fly, app, 1))["machines"][0]
    # The update is refused while the run holds the lease, so the kill lands between the two.
    fly.add_fault(status=503, count=1000, method="POST", path_regex=UPDATE.pattern)
    seq = fly.last_seq()
    run = start_module("fly_machine", group_args(fly, app, 1, image=NEW, lease_ttl=5))
    kill_at(fly, run, lambda e: e["method"] == "POST" and UPDATE.search(e["path"]), seq)
    fly.clear_faults()
    assert fly.api("GET", "/apps/%s/machines/%s/lease" % (app, made["id"])).json()["data"]["description"] \
        .startswith("sophia.ops ")

    started = time.monotonic()
    rerun = call_module("fly_machine", group_args(fly, app, 1, image=NEW, lease_ttl=5))
    assert rerun.changed and not rerun.failed, rerun
    assert time.monotonic() - started < 20
    assert fly.api("GET", "/apps/%s/machines/%s/lease" % (app, made["id"])).status_code == 404


@pytest.mark.fault("answer to the lease request lost (committed, then 408)",
                   checks="our own lease found and used without waiting; released after")
def test_a_lost_answer_on_taking_the_lease_does_not_orphan_it(fly, app):
    made = call_module("fly_machine", group_args(fly, app, 1))["machines"][0]
    fly.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/lease$")
    started = time.monotonic()
    rolled = call_module("fly_machine", group_args(fly, app, 1, image=NEW))
    assert rolled.changed and not rolled.failed, rolled
    assert time.monotonic() - started < 20  # found its own lease; waited for nothing
    assert fly.api("GET", "/apps/%s/machines/%s/lease" % (app, made["id"])).status_code == 404


@pytest.mark.fault("machine leased by another operator",
                   checks="fails naming the holder's description; not changed, no update sent")
def test_a_lease_held_by_someone_else_is_respected_and_named(fly, app):
    made = call_module("fly_machine", group_args(fly, app, 1))["machines"][0]
    fly.api("POST", "/apps/%s/machines/%s/lease" % (app, made["id"]), json={"ttl": 120, "description": "alice: hotfix"})
    seq = fly.last_seq()
    blocked = call_module("fly_machine", group_args(fly, app, 1, image=NEW))
    assert blocked.failed and "alice: hotfix" in blocked["msg"], blocked
    assert not blocked.changed and updates(fly.requests_since(seq)) == []


@pytest.mark.fault("6 s lease on a machine that takes longer to become healthy",
                   checks="lease refreshed while waiting, never lost; released at the end")
def test_leases_are_kept_fresh_while_the_work_goes_on(fly, app):
    """A 6 s lease on a machine that needs longer than that to become healthy: refreshed, never lost."""
    made = call_module("fly_machine", group_args(fly, app, 1))["machines"][0]
    fly.settings(transition_seconds=2.5)
    seq = fly.last_seq()
    rolled = call_module("fly_machine", group_args(fly, app, 1, image=NEW, lease_ttl=6))
    assert rolled.changed and not rolled.failed, rolled
    lease_posts = [e for e in fly.requests_since(seq) if e["method"] == "POST" and e["path"].endswith("/lease")]
    assert len(lease_posts) >= 2  # taken, then refreshed
    assert fly.api("GET", "/apps/%s/machines/%s/lease" % (app, made["id"])).status_code == 404


# --- 3. every write safe to retry after a lost answer -----------------------------------------
@pytest.mark.parametrize("first, then, method, path, end_state", [
    ({}, {"config": {"image": NEW, "checks": CHECKS, "env": {"LOG_LEVEL": "info"}}}, "POST", r"/machines/[^/]+$",
     "started"),
    ({}, {"state": "stopped"}, "POST", r"/stop$", "stopped"),
    ({"state": "stopped"}, {}, "POST", r"/start$", "started"),
    ({}, {"state": "suspended"}, "POST", r"/suspend$", "suspended"),
    ({"state": "stopped"}, {"state": "absent"}, "DELETE", r"/machines/[^/]+$", None),
], ids=["update", "stop", "start", "suspend", "destroy"])
@pytest.mark.fault("answer lost on a machine update, stop, start, suspend or destroy",
                   checks="write sent once and found done, changed; end state right; a rerun writes nothing")
def test_a_lost_answer_on_a_machine_write_is_taken_as_done(fly, app, first, then, method, path, end_state):
    made = call_module("fly_machine", one_args(fly, app, **first))["fly_machine"]
    fly.add_fault(lose_response=True, count=1, method=method, path_regex=path)
    seq = fly.last_seq()
    result = call_module("fly_machine", one_args(fly, app, **then))
    assert result.changed and not result.failed, result
    sent = [e["status"] for e in fly.requests_since(seq) if e["method"] == method and re.search(path, e["path"])]
    assert sent == [408]  # sent once; the lost answer was found done, not sent again
    live = fly.api("GET", "/apps/%s/machines" % app).json()
    if end_state is None:
        assert live == []
    else:
        assert [m["id"] for m in live] == [made["id"]] and live[0]["state"] == end_state
    seq = fly.last_seq()
    assert not call_module("fly_machine", one_args(fly, app, **then)).changed
    assert fly.writes_since(seq) == []


# --- 4. changed tells the truth -----------------------------------------------------------------
@pytest.mark.fault("update answer lost, then 503 on every read of the machine",
                   checks="task fails with changed=true; the update did land")
def test_changed_is_true_when_the_update_went_through_but_nothing_could_be_read_after(fly, app):
    call_module("fly_machine", one_args(fly, app))
    fly.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/machines/[^/]+$")
    fly.add_fault(status=503, count=1000, method="GET", path_regex=r"/machines/[0-9a-f]+$")  # an outage after it
    args = one_args(fly, app, max_retries=1, config={"image": NEW, "checks": CHECKS})
    result = call_module("fly_machine", args)
    fly.clear_faults()
    assert result.failed and result.changed, result
    assert fly.api("GET", "/apps/%s/machines" % app).json()[0]["config"]["image"] == NEW


@pytest.mark.fault("rollout of an image whose health checks never pass",
                   checks="rolled back, failed with changed=true; summary shaped as for a plan, a no-op and a success")
def test_a_failed_rollout_that_rolled_back_reports_changed_and_the_same_summary_shape(fly, app):
    fly.set_image(BROKEN, healthy=False)
    planned = call_module("fly_machine", group_args(fly, app, 2), check=True)
    made = call_module("fly_machine", group_args(fly, app, 2))
    noop = call_module("fly_machine", group_args(fly, app, 2))
    failed = call_module("fly_machine", group_args(fly, app, 2, image=BROKEN, rollout={"health_timeout": 1}))
    assert failed.failed and failed.changed and "rolled back" in failed["msg"], failed
    assert failed["summary"]["updated"] == failed["summary"]["rolled_back"] and len(failed["summary"]["updated"]) == 1
    shapes = [sorted(r["summary"]) for r in (planned, made, noop, failed)]
    assert all(shape == shapes[0] for shape in shapes)
    assert {m["config"]["image"] for m in fly.api("GET", "/apps/%s/machines" % app).json()} == {OLD}


# --- 6. fail fast -------------------------------------------------------------------------------
@pytest.mark.fault("image whose machine fails to start, with 300 s timeouts",
                   checks="the wait ends at once with a failure, not at the timeout")
def test_a_machine_that_fails_ends_the_wait_at_once(fly, app):
    fly.set_image(BROKEN, start=False)
    call_module("fly_machine", group_args(fly, app, 1))
    started = time.monotonic()
    failed = call_module("fly_machine", group_args(fly, app, 1, image=BROKEN,
                                                   rollout={"wait_timeout": 300, "health_timeout": 300}))
    assert failed.failed and "failed" in failed["msg"], failed
    assert time.monotonic() - started < 30


# --- 8. group volumes follow the wanted size ----------------------------------------------------
@pytest.mark.fault("group volume size_gb lowered below the current size",
                   checks="fails naming volume.size_gb, not changed, no write (growing works and restarts)")
def test_group_volumes_grow_to_the_wanted_size_and_never_shrink(fly, app):
    volume = {"name": "api_data", "path": "/data", "size_gb": 2}
    call_module("fly_machine", group_args(fly, app, 2, volume=volume))

    grown = call_module("fly_machine", group_args(fly, app, 2, volume=dict(volume, size_gb=4)))
    assert grown.changed and len(grown["summary"]["grown_volumes"]) == 2, grown
    assert len(grown["summary"]["restarted"]) == 2  # the machines see the space after a restart
    assert [v["size_gb"] for v in fly.api("GET", "/apps/%s/volumes" % app).json()] == [4, 4]
    assert not call_module("fly_machine", group_args(fly, app, 2, volume=dict(volume, size_gb=4))).changed

    seq = fly.last_seq()
    smaller = call_module("fly_machine", group_args(fly, app, 2, volume=dict(volume, size_gb=3)))
    assert smaller.failed and "volume.size_gb" in smaller["msg"] and not smaller.changed
    assert fly.writes_since(seq) == []


@pytest.mark.fault("fly_machine count: -1", checks="fails naming count with no request sent", area="Bad module input")
def test_bad_counts_fail_before_any_request(fly, app):
    seq = fly.last_seq()
    bad = call_module("fly_machine", group_args(fly, app, -1))
    assert bad.failed and "count" in bad["msg"]
    assert fly.requests_since(seq) == []
