"""The one waiter: pauses, deadlines, early ends. Minutes of waiting on a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.waiter import Waiter, WaitFailed, WaitTimeout
from tests.unit.fakes import FakeClock


def test_answers_as_soon_as_the_probe_does_with_growing_pauses():
    clock = FakeClock()
    answers = iter([None, None, None, "ready"])
    waiter = Waiter(clock=clock.time, sleep=clock.sleep)
    assert waiter.until(lambda remaining: next(answers), 60, interval=1, backoff=2, max_interval=3) == "ready"
    assert clock.slept == [1, 2, 3]


@pytest.mark.fault("probe that never answers",
                   checks="the wait ends at the deadline naming what it waited for; the last pause cut to it")
def test_the_deadline_ends_the_wait_and_the_last_pause_is_cut_to_it():
    clock = FakeClock()
    waiter = Waiter(clock=clock.time, sleep=clock.sleep)
    with pytest.raises(WaitTimeout, match="machine x did not end within 10s"):
        waiter.until(lambda remaining: None, 10, what="machine x", interval=4, backoff=1)
    assert clock.slept == [4, 4, 2] and clock.now == 1010


@pytest.mark.fault("probe that reports a failed machine", checks="the wait ends at once, no pause")
def test_a_probe_that_knows_it_is_hopeless_ends_the_wait_at_once():
    clock = FakeClock()
    waiter = Waiter(clock=clock.time, sleep=clock.sleep)

    def probe(remaining):
        raise WaitFailed("machine failed", last="m1")

    with pytest.raises(WaitFailed) as failed:
        waiter.until(probe, 300)
    assert failed.value.last == "m1" and clock.slept == []


def test_a_long_poll_gets_the_time_left_and_no_pause():
    clock = FakeClock()
    seen = []

    def long_poll(remaining):
        seen.append(remaining)
        clock.sleep(min(remaining, 60))  # the server holds the call this long
        return None

    with pytest.raises(WaitTimeout):
        Waiter(clock=clock.time, sleep=clock.sleep).until(long_poll, 150, interval=0)
    assert seen == [150, 90, 30]
