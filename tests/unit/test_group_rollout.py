"""Group planning and the healthy floor: pure planning rules, then whole rollouts against an
in-memory app on a fake clock, checking the floor at every moment of every scenario."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.fly_lease import Leases
from ansible_collections.sophia.ops.plugins.module_utils.fly_rollout import (
    SUMMARY_KEYS,
    GroupPlan,
    GroupRollout,
    MachineOps,
    PlanError,
    RolloutError,
    floor_for,
    next_batch,
)
from tests.unit.fakes import FakeClock
from tests.unit.sim_fly import SimFly

OLD, NEW, BROKEN = "img:1", "img:2", "img:broken"


def member(machine_id, image=OLD, state="started", checks="passing", region="iad", created="1", volume=None):
    config = {"image": image, "metadata": {"fly_process_group": "app"}}
    if volume:
        config["mounts"] = [{"volume": volume, "path": "/data"}]
    return {"id": machine_id, "region": region, "state": state, "created_at": created, "instance_id": "v-" + machine_id,
            "config": config, "checks": [{"name": "alive", "status": checks}]}


def plan(machines, count, image=OLD, regions=("iad",), **kwargs):
    return GroupPlan(machines, "app", count, list(regions), {"image": image}, **kwargs)


# --- planning ------------------------------------------------------------------------------
def test_health_is_part_of_the_plan():
    machines = [member("a"), member("b", checks="critical"), member("c", state="stopped"), member("d", image=NEW)]
    planned = plan(machines, 4)
    assert [m["id"] for m in planned.unchanged] == ["a"]
    assert [m["id"] for m in planned.unhealthy] == ["b"]  # on the wanted config, failing: waited for, first
    assert planned.actions == {"c": "start", "d": "update"}
    assert planned.changes


AUTOSTOP = [{"protocol": "tcp", "internal_port": 8080, "autostop": "stop", "autostart": True,
             "min_machines_running": 1}]


def parked_member(machine_id, source="flyd", kind="stop", autostop="stop"):
    machine = member(machine_id, state="stopped", checks="critical")
    machine["config"]["services"] = [dict(AUTOSTOP[0], autostop=autostop)]
    machine["events"] = [{"type": kind, "status": "stopping", "source": source}]
    return machine


def autostop_plan(machines, count):
    running = [m for m in machines if m["state"] == "started"]
    for machine in running:
        machine["config"]["services"] = AUTOSTOP
    return GroupPlan(machines, "app", count, ["iad"], {"image": OLD, "services": AUTOSTOP})


def test_machines_the_proxy_parked_are_left_at_rest_while_the_minimum_runs():
    planned = autostop_plan([member("a"), parked_member("b"), parked_member("c")], 3)
    assert not planned.actions and not planned.changes
    assert sorted(m["id"] for m in planned.unchanged) == ["a", "b", "c"]


def test_a_machine_a_user_stopped_or_that_exited_is_started_again():
    planned = autostop_plan([member("a"), parked_member("b", source="user"), parked_member("c", kind="exit")], 3)
    assert planned.actions == {"b": "start", "c": "start"}


def test_parked_machines_are_started_up_to_the_minimum_and_not_without_autostop():
    # Nothing runs: the services' minimum (1) needs one of the parked machines started, only one.
    planned = autostop_plan([parked_member("b"), parked_member("c")], 2)
    assert list(planned.actions.values()) == ["start"]
    # With autostop off a stopped machine is not parked, whoever stopped it.
    off = parked_member("d", autostop="off")
    assert GroupPlan([off], "app", 1, ["iad"], {"image": OLD, "services": off["config"]["services"]}).actions == {"d": "start"}


def test_an_unhealthy_member_alone_is_no_change_to_predict():
    planned = plan([member("a"), member("b", checks="critical")], 2)
    assert not planned.changes and [m["id"] for m in planned.unhealthy] == ["b"]


def test_the_surplus_is_the_unhealthy_then_the_newest():
    machines = [member("old", created="1"), member("sick", checks="critical", created="2"), member("new", created="3")]
    assert [m["id"] for m in plan(machines, 2).destroy] == ["sick"]
    assert [m["id"] for m in plan(machines, 1).destroy] == ["sick", "new"]


def test_new_machines_fill_the_emptiest_region_and_machines_elsewhere_are_replaced():
    planned = plan([member("a", region="iad"), member("gone", region="lhr")], 3, regions=("iad", "ord"))
    assert [m["id"] for m in planned.destroy] == ["gone"] and planned.create_regions == ["ord", "iad"]


def test_volumes_grow_with_a_restart_and_never_shrink():
    volumes = [{"id": "v1", "size_gb": 2, "attached_machine_id": "a"},
               {"id": "v2", "size_gb": 5, "attached_machine_id": "b"}]
    machines = [member("a", volume="v1"), member("b", volume="v2")]
    grown = plan(machines, 2, volume={"name": "data", "path": "/data", "size_gb": 5}, volumes=volumes)
    assert [v["id"] for v in grown.grow] == ["v1"] and grown.actions == {"a": "restart"}
    with pytest.raises(PlanError, match="volume.size_gb is 4"):
        plan(machines, 2, volume={"name": "data", "path": "/data", "size_gb": 4}, volumes=volumes)


def test_the_planned_summary_has_the_shape_of_a_done_one():
    assert sorted(plan([member("a")], 3, image=NEW).summary()) == sorted(SUMMARY_KEYS)


# --- the floor --------------------------------------------------------------------------------
@pytest.mark.parametrize("size, max_unavailable, floor", [(1, 1, 0), (2, 1, 1), (2, 2, 1), (3, 1, 2), (20, 6, 14)])
def test_the_floor_is_size_minus_max_unavailable_and_never_zero_for_two_or_more(size, max_unavailable, floor):
    assert floor_for(size, max_unavailable) == floor


@pytest.mark.fault("members already down before a batch",
                   checks="down members go first and use up max_unavailable; none healthy goes below the floor")
def test_members_that_are_down_go_first_and_use_up_the_allowance():
    pending = [{"id": i} for i in ("up1", "up2", "down")]
    assert [m["id"] for m in next_batch(pending, {"up1", "up2", "other"}, 4, 2)] == ["down", "up1"]
    assert [m["id"] for m in next_batch(pending, {"up1", "up2", "other"}, 4, 1)] == ["down"]
    # One healthy member short already: nothing healthy may go down.
    assert next_batch([{"id": "up1"}], {"up1", "up2"}, 3, 1) == []


# --- whole rollouts on the simulated app ----------------------------------------------------------
def rollout_on(sim, count, image, max_unavailable, rollback=True, strategy="rolling"):
    listed = sim.list_machines("app")
    planned = GroupPlan(listed, "app", count, ["iad"], {"image": image})
    leases = Leases(sim, "app", ttl=30, wait_timeout=60, wall_clock=sim.clock.time)
    ops = MachineOps(sim, "app", leases, wait_timeout=60, health_timeout=20, group="app")
    rollout = GroupRollout(ops, planned, max_unavailable=max_unavailable, rollback=rollback, clock=sim.clock.time,
                           workers=1, strategy=strategy)
    try:
        with leases:
            return rollout.run(), None
    except RolloutError as exc:
        return rollout.summary, exc


SCENARIOS = list(itertools.product([1, 2, 3, 5], [1, 2, 0.4], [0, 1, 2], [NEW, BROKEN]))


@pytest.mark.parametrize("size, max_unavailable, down, image", SCENARIOS)
@pytest.mark.fault("rollouts of 1-5 machines, 0-2 down, a good or a broken image, three max_unavailable",
                   checks="never below the healthy floor; a broken image stops after one batch and is rolled back")
def test_no_rollout_ever_goes_below_the_floor(size, max_unavailable, down, image):
    down = min(down, size)
    sim = SimFly(FakeClock(), broken=[BROKEN])
    for number in range(size):
        sim.add_machine(OLD, state="stopped" if number < down else "started")
    summary, error = rollout_on(sim, size, image, max_unavailable)

    allowed = max(1, int(max_unavailable * size)) if max_unavailable < 1 else int(max_unavailable)
    floor = min(size - down, floor_for(size, allowed))
    assert sim.fewest_healthy() >= floor, sim.down
    if image == NEW:
        assert error is None and all(sim.healthy(m) for m in sim.machines.values())
        assert len(summary["updated"]) == size and len(summary["progress"]) >= 1
    else:
        assert error is not None and "not spread further" in str(error)
        # Only the first batch ever ran the broken image, and it was put back.
        assert summary["rolled_back"] == summary["updated"] and len(summary["updated"]) <= allowed
        assert all(m["config"]["image"] == OLD for m in sim.machines.values())


@pytest.mark.fault("broken image already on a member (left by a killed run)",
                   checks="stops as looks broken before any write")
def test_a_broken_config_already_on_a_member_stops_the_rollout_before_any_write():
    sim = SimFly(FakeClock(), broken=[BROKEN])
    sim.add_machine(OLD)
    sim.add_machine(BROKEN)  # left by a run that was killed
    summary, error = rollout_on(sim, 2, BROKEN, 1)
    assert error is not None and "looks broken" in str(error)
    assert sim.writes == [] and summary["unhealthy"] == ["m3"]
    assert sim.fewest_healthy() == 1


def test_a_rollout_takes_as_long_as_its_batches():
    sim = SimFly(FakeClock(), boot=3.0)
    for dummy in range(6):
        sim.add_machine(OLD)
    began = sim.clock.now
    summary, error = rollout_on(sim, 6, NEW, 2)
    assert error is None and len(summary["progress"]) == 3
    assert sim.clock.now - began < 3 * (3.0 + 2.5)  # three batches, each a boot plus a poll's lag


# --- immediate: everything at once ----------------------------------------------------------------
def test_immediate_acts_on_every_member_and_creates_at_once_then_says_what_became_healthy():
    sim = SimFly(FakeClock(), boot=3.0)
    for number in range(3):
        sim.add_machine(OLD, state="stopped" if number == 0 else "started")
    summary, error = rollout_on(sim, 4, NEW, 1, strategy="immediate")
    assert error is None
    # Every write in the same instant: nothing was waited for before the next one.
    assert len(sim.writes) == 4 and len({at for dummy, dummy, at in sim.writes}) == 1
    assert len(summary["updated"]) == 3 and len(summary["created"]) == 1
    # Then watched until they passed: the summary says all four did.
    assert summary["left_unhealthy"] == [] and all(sim.healthy(m) for m in sim.machines.values())
    assert summary["progress"][-1].startswith("immediate: 3 acted on and 1 created at once; 4 of 4 passing")


@pytest.mark.fault("immediate rollout of a broken image to three machines",
                   checks="every machine updated at once, none rolled back; the run ends within the health "
                          "timeout naming them as left unhealthy")
def test_immediate_keeps_no_floor_and_names_what_a_broken_image_left_unhealthy():
    sim = SimFly(FakeClock(), broken=[BROKEN])
    for dummy in range(3):
        sim.add_machine(OLD)
    began = sim.clock.now
    summary, error = rollout_on(sim, 3, BROKEN, 1, strategy="immediate")
    assert error is None and summary["rolled_back"] == []
    assert sorted(summary["left_unhealthy"]) == sorted(summary["updated"]) and len(summary["updated"]) == 3
    assert sim.fewest_healthy() == 0  # what immediate means: no floor
    assert sim.clock.now - began < 20 + 6  # the health timeout from the first look, and the polls' lag
    assert summary["progress"][-1].endswith(" 0 of 3 passing their checks after %.1fs" % (sim.clock.now - began))


def test_immediate_with_nothing_to_do_writes_nothing_and_a_strategy_must_be_known():
    sim = SimFly(FakeClock())
    sim.add_machine(OLD)
    summary, error = rollout_on(sim, 1, OLD, 1, strategy="immediate")
    assert error is None and sim.writes == [] and summary["progress"] == []
    with pytest.raises(ValueError, match="canary"):
        GroupRollout(None, plan([member("a")], 1), strategy="canary")
