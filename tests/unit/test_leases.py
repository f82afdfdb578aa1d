"""Leases as flyctl holds them: our own found again, an earlier run's waited out, anyone else's respected."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.fly_lease import LeaseHeld, Leases
from tests.unit.fakes import FakeClock
from tests.unit.sim_fly import SimFly


def leases_on(ttl=30, wait_timeout=90):
    sim = SimFly(FakeClock())
    sim.add_machine("img:1")
    return sim, Leases(sim, "app", ttl=ttl, wait_timeout=wait_timeout, wall_clock=sim.clock.time)


def someone_holds(sim, description, seconds):
    sim.leases["m1"] = {"nonce": "theirs", "description": description, "owner": "alice@example.com",
                        "expires_at": sim.clock.now + seconds}


def test_a_lease_is_taken_with_a_short_ttl_and_released_when_the_block_ends():
    sim, leases = leases_on(ttl=30)
    with leases:
        nonce = leases.acquire("m1")
        assert leases.acquire("m1") == nonce  # held once per run
        assert sim.leases["m1"]["expires_at"] == sim.clock.now + 30
        assert sim.leases["m1"]["description"].startswith("sophia.ops ")
    assert sim.leases == {}


def test_a_refresh_extends_the_lease_with_the_same_nonce():
    sim, leases = leases_on(ttl=30)
    nonce = leases.acquire("m1")
    sim.clock.sleep(20)
    leases.refresh()
    assert sim.leases["m1"]["nonce"] == nonce and sim.leases["m1"]["expires_at"] == sim.clock.now + 30
    leases.close()


@pytest.mark.fault("our lease request committed but its answer lost", checks="the lease is taken as ours, no wait")
def test_our_own_lease_whose_answer_was_lost_is_taken_as_ours():
    sim, leases = leases_on()
    someone_holds(sim, leases.description, 30)  # what a lost answer leaves
    assert leases.acquire("m1") == "theirs" and sim.clock.slept == []
    leases.close()


@pytest.mark.fault("lease of an earlier (killed) run, 25 s left",
                   checks="waited out (25-27 s on the fake clock), then taken")
def test_a_lease_left_by_an_earlier_run_is_waited_out():
    sim, leases = leases_on(wait_timeout=90)
    someone_holds(sim, "sophia.ops 0123456789ab", 25)
    nonce = leases.acquire("m1")
    assert nonce != "theirs" and 25 <= sum(sim.clock.slept) <= 27
    leases.close()


@pytest.mark.fault("earlier run's lease lasting longer than wait_timeout",
                   checks="fails at once naming the earlier run; no wait")
def test_an_earlier_runs_lease_that_lasts_too_long_fails_at_once():
    sim, leases = leases_on(wait_timeout=10)
    someone_holds(sim, "sophia.ops 0123456789ab", 600)  # another run, still refreshing it
    with pytest.raises(LeaseHeld, match="earlier sophia.ops run"):
        leases.acquire("m1")
    assert sim.clock.slept == []


@pytest.mark.fault("lease held by another operator",
                   checks="fails naming holder and description; their lease kept; no wait")
def test_anyone_elses_lease_is_respected_and_named():
    sim, leases = leases_on()
    someone_holds(sim, "alice: hotfix", 5)
    with pytest.raises(LeaseHeld, match="alice@example.com \\(alice: hotfix\\)"):
        leases.acquire("m1")
    assert sim.clock.slept == [] and sim.leases["m1"]["nonce"] == "theirs"
