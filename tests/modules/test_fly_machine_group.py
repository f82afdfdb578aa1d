"""sophia.ops.fly_machine in process-group mode: scaling, rolling updates, rollback."""

from __future__ import annotations

import re

import pytest

from tests.support.modules import call_module

OLD = "registry.fly.io/sophia-unified-api:1.4.1"
NEW = "registry.fly.io/sophia-unified-api:1.4.2"
CHECKS = {"alive": {"type": "http", "port": 8000, "method": "GET", "path": "/health"}}


def group_args(fly, app, count, image=OLD, **args):
    config = {"image": image, "guest": {"cpus": 1, "memory_mb": 1024}, "checks": CHECKS}
    return fly.module_args(**dict({"app": app, "group": "app", "count": count, "regions": ["iad", "ord"],
                                   "config": config, "rollout": {"health_timeout": 20, "wait_timeout": 20}},
                                  **args))


def live(fly, app):
    return fly.api("GET", "/apps/%s/machines" % app).json()


def update_posts(entries):
    return [e["path"] for e in entries if e["method"] == "POST" and re.search(r"/machines/[^/]+$", e["path"])]


def test_scale_up_then_no_op_then_scale_down(fly, app):
    seq = fly.last_seq()
    predicted = call_module("fly_machine", group_args(fly, app, 3), check=True, diff=True)
    assert predicted.changed and predicted["summary"]["created"] == ["new-1", "new-2", "new-3"]
    assert [predicted["diff"]["after"]["machines"]["new-%d" % n]["region"] for n in (1, 2, 3)] == ["iad", "ord", "iad"]
    assert fly.writes_since(seq) == []

    up = call_module("fly_machine", group_args(fly, app, 3))
    assert up.changed and len(up["summary"]["created"]) == 3
    assert sorted(m["region"] for m in up["machines"]) == ["iad", "iad", "ord"]
    assert {m["state"] for m in up["machines"]} == {"started"}
    assert {m["config"]["metadata"]["fly_process_group"] for m in up["machines"]} == {"app"}

    seq = fly.last_seq()
    again = call_module("fly_machine", group_args(fly, app, 3))
    assert not again.changed and fly.writes_since(seq) == []

    newest_in_iad = max((m for m in up["machines"] if m["region"] == "iad"), key=lambda m: m["created_at"])
    down = call_module("fly_machine", group_args(fly, app, 2))
    assert down.changed and down["summary"]["destroyed"] == [newest_in_iad["id"]]
    assert sorted(m["region"] for m in live(fly, app)) == ["iad", "ord"]

    gone = call_module("fly_machine", group_args(fly, app, 2, state="absent"))
    assert gone.changed and live(fly, app) == []


def test_rolling_update_goes_one_batch_at_a_time(fly, app):
    call_module("fly_machine", group_args(fly, app, 3))

    seq = fly.last_seq()
    predicted = call_module("fly_machine", group_args(fly, app, 3, image=NEW), check=True, diff=True)
    assert predicted.changed and len(predicted["summary"]["updated"]) == 3
    assert {m["image"] for m in predicted["diff"]["after"]["machines"].values()} == {NEW}
    assert fly.writes_since(seq) == []

    seq = fly.last_seq()
    rolled = call_module("fly_machine", group_args(fly, app, 3, image=NEW))
    assert rolled.changed and len(rolled["summary"]["updated"]) == 3
    assert {m["config"]["image"] for m in rolled["machines"]} == {NEW}

    # With max_unavailable 1, each update waits for the machine before it to be healthy:
    # between two updates there is a health read of the group.
    entries = fly.requests_since(seq)
    updates = [i for i, e in enumerate(entries) if e["method"] == "POST" and re.search(r"/machines/[^/]+$", e["path"])]
    assert len(updates) == 3
    for first, second in zip(updates, updates[1:]):
        assert any(e["method"] == "GET" and e["path"] == "/v1/apps/%s/machines" % app for e in entries[first:second])

    assert not call_module("fly_machine", group_args(fly, app, 3, image=NEW)).changed


def test_two_at_a_time(fly, app):
    call_module("fly_machine", group_args(fly, app, 4))
    seq = fly.last_seq()
    rolled = call_module("fly_machine", group_args(fly, app, 4, image=NEW,
                                                   rollout={"max_unavailable": 2, "health_timeout": 20}))
    assert len(rolled["summary"]["updated"]) == 4
    entries = fly.requests_since(seq)
    updates = [i for i, e in enumerate(entries) if e["method"] == "POST" and re.search(r"/machines/[^/]+$", e["path"])]
    # Two updates go out back to back (apart from their leases), then the batch is waited for.
    between = [e for e in entries[updates[0]:updates[1]] if e["method"] == "GET"]
    assert between == []


@pytest.mark.fault("rolling update of three machines to an image whose health checks fail",
                   checks="only the first batch touched and rolled back; every machine on the old image and started")
def test_a_bad_image_is_rolled_back_and_the_rest_keep_serving(fly, app):
    BAD = "registry.fly.io/sophia-unified-api:broken"
    fly.set_image(BAD, healthy=False)
    before = call_module("fly_machine", group_args(fly, app, 3))["machines"]

    seq = fly.last_seq()
    failed = call_module("fly_machine", group_args(fly, app, 3, image=BAD,
                                                   rollout={"health_timeout": 2, "wait_timeout": 20}))
    assert failed.failed
    assert "rolled back" in failed["msg"]
    assert len(failed["summary"]["rolled_back"]) == 1

    touched = set(update_posts(fly.requests_since(seq)))
    assert len(touched) == 1  # only the first batch was ever changed
    after = live(fly, app)
    assert sorted(m["id"] for m in after) == sorted(m["id"] for m in before)
    assert {m["config"]["image"] for m in after} == {OLD}
    assert {m["state"] for m in after} == {"started"}
    # The machines never touched kept their version all along.
    untouched = [m for m in before if not any(p.endswith(m["id"]) for p in touched)]
    assert all(m["instance_id"] == next(a for a in after if a["id"] == m["id"])["instance_id"] for m in untouched)


def test_immediate_updates_every_machine_before_looking_at_any(fly, app):
    call_module("fly_machine", group_args(fly, app, 3))
    immediate = {"strategy": "immediate", "health_timeout": 20, "wait_timeout": 20}

    seq = fly.last_seq()
    predicted = call_module("fly_machine", group_args(fly, app, 4, image=NEW, rollout=immediate), check=True)
    assert predicted.changed and len(predicted["summary"]["updated"]) == 3 and predicted["summary"]["created"]
    assert fly.writes_since(seq) == []

    rolled = call_module("fly_machine", group_args(fly, app, 4, image=NEW, rollout=immediate))
    assert rolled.changed and not rolled.failed and len(rolled["summary"]["updated"]) == 3
    assert len(rolled["summary"]["created"]) == 1 and rolled["summary"]["left_unhealthy"] == []
    assert {m["config"]["image"] for m in rolled["machines"]} == {NEW} and not rolled.get("warnings")
    # No read of the group's health between the writes: they all go out, then the group is watched.
    entries = fly.requests_since(seq)
    writes = [i for i, e in enumerate(entries) if e["method"] == "POST" and re.search(r"/machines(/[^/]+)?$", e["path"])]
    assert len(writes) == 4
    assert not [e for e in entries[writes[0]:writes[-1]] if e["method"] == "GET" and e["path"].endswith("/machines")]
    assert not call_module("fly_machine", group_args(fly, app, 4, image=NEW, rollout=immediate)).changed


@pytest.mark.fault("immediate rollout of three machines to an image whose health checks fail",
                   checks="all three updated, none rolled back, the task succeeds with a warning naming them")
def test_immediate_names_what_a_broken_image_left_unhealthy_and_rolls_nothing_back(fly, app):
    BAD = "registry.fly.io/sophia-unified-api:broken"
    fly.set_image(BAD, healthy=False)
    call_module("fly_machine", group_args(fly, app, 3))
    rolled = call_module("fly_machine", group_args(fly, app, 3, image=BAD, rollout={
        "strategy": "immediate", "health_timeout": 2, "wait_timeout": 20}))
    assert rolled.changed and not rolled.failed and rolled["summary"]["rolled_back"] == []
    assert sorted(rolled["summary"]["left_unhealthy"]) == sorted(rolled["summary"]["updated"])
    assert len(rolled["summary"]["updated"]) == 3
    assert any("did not pass their health checks within 2s" in w for w in rolled["warnings"]), rolled
    assert {m["config"]["image"] for m in live(fly, app)} == {BAD}


@pytest.mark.fault("machine create answer lost",
                   checks="exactly the two wanted machines; a rerun changes nothing",
                   area="Lost answers")
def test_a_lost_create_answer_never_makes_an_extra_machine(fly, app):
    fly.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/machines$")
    made = call_module("fly_machine", group_args(fly, app, 2))
    assert made.changed and not made.failed
    assert len(live(fly, app)) == 2
    assert not call_module("fly_machine", group_args(fly, app, 2)).changed


def test_each_machine_gets_its_own_volume_and_keeps_it(fly, app):
    volume = {"name": "api_data", "path": "/data", "size_gb": 2}
    up = call_module("fly_machine", group_args(fly, app, 2, volume=volume))
    assert up.changed
    mounts = [m["config"]["mounts"][0] for m in up["machines"]]
    assert len({mount["volume"] for mount in mounts}) == 2 and {mount["path"] for mount in mounts} == {"/data"}
    assert not call_module("fly_machine", group_args(fly, app, 2, volume=volume)).changed

    updated = call_module("fly_machine", group_args(fly, app, 2, image=NEW, volume=volume))
    assert {m["config"]["mounts"][0]["volume"] for m in updated["machines"]} == {mount["volume"] for mount in mounts}

    call_module("fly_machine", group_args(fly, app, 1, image=NEW, volume=volume))
    again = call_module("fly_machine", group_args(fly, app, 2, image=NEW, volume=volume))
    assert {m["config"]["mounts"][0]["volume"] for m in again["machines"]} == {mount["volume"] for mount in mounts}
    volumes = fly.api("GET", "/apps/%s/volumes" % app).json()
    assert len(volumes) == 2 and all(v["size_gb"] == 2 for v in volumes)
