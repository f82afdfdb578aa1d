"""When the HTTP core sends a request again, when it looks first, and what it counts as a change."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError, RateLimiter, RetryingClient
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import fly_rate_limits
from tests.unit.fakes import CONNECT_TIMEOUT, LOST, READ_TIMEOUT, THROTTLED, FakeClock, FakeResponse, ScriptedSession

OK = FakeResponse(200, {"ok": True})


def client_with(*script, max_retries=6, max_retry_seconds=120.0):
    clock = FakeClock()
    client = RetryingClient("http://api.test/v1", {}, max_retries=max_retries, max_retry_seconds=max_retry_seconds,
                            sleep=clock.sleep, clock=clock.time)
    client.session = ScriptedSession(*script)
    return client, clock


@pytest.mark.fault("write answered 429", checks="sent again after Retry-After without looking; one change counted")
def test_a_throttled_write_is_sent_again_without_looking_and_waits_retry_after():
    client, clock = client_with(THROTTLED, OK)
    looked = []
    assert client.request("POST", "/things", json={}, before_retry=lambda: looked.append(1)) == {"ok": True}
    assert looked == [] and len(client.session.sent) == 2
    assert clock.slept[0] >= 2
    assert client.state_changes == 1


@pytest.mark.parametrize("lost", [LOST, FakeResponse(503), READ_TIMEOUT], ids=["408", "503", "read timeout"])
@pytest.mark.fault("write answered 408, 503 or a read timeout",
                   checks="the write is looked for and found, never sent twice; one change counted")
def test_a_lost_answer_is_looked_for_before_the_write_is_sent_again(lost):
    client, dummy = client_with(lost)
    found = {"id": "made-by-the-lost-attempt"}
    assert client.request("POST", "/things", json={}, before_retry=lambda: found) is found
    assert len(client.session.sent) == 1  # never sent twice
    assert client.state_changes == 1


@pytest.mark.fault("write answer lost and the write not found after", checks="sent again")
def test_not_found_after_a_lost_answer_means_send_again():
    client, dummy = client_with(LOST, OK)
    assert client.request("POST", "/things", json={}, before_retry=lambda: None) == {"ok": True}
    assert len(client.session.sent) == 2


@pytest.mark.fault("connect timeout on a write", checks="sent again without looking")
def test_a_connection_never_made_is_sent_again_without_looking():
    client, dummy = client_with(CONNECT_TIMEOUT, OK)
    looked = []
    client.request("POST", "/things", json={}, before_retry=lambda: looked.append(1))
    assert looked == []


@pytest.mark.fault("write answered 409", checks="not retried; the error carries status and message; no change counted")
def test_an_answer_about_the_request_itself_is_not_retried_and_changes_nothing():
    client, dummy = client_with(FakeResponse(409, {"error": "conflict"}))
    with pytest.raises(APIError) as raised:
        client.request("POST", "/things", json={})
    assert raised.value.status == 409 and raised.value.message == "conflict"
    assert len(client.session.sent) == 1 and client.state_changes == 0


@pytest.mark.fault("write answer lost, then 503 until the retries run out", checks="fails, and counts a change")
def test_a_write_whose_fate_is_unknown_counts_as_a_change_when_the_retries_run_out():
    client, dummy = client_with(LOST, FakeResponse(503), FakeResponse(503), max_retries=2)
    with pytest.raises(APIError):
        client.request("POST", "/things", json={}, before_retry=lambda: None)
    assert client.state_changes == 1


@pytest.mark.fault("write answer lost and the look-up fails too", checks="fails, and counts a change")
def test_a_write_whose_check_fails_still_counts_as_a_change():
    client, dummy = client_with(LOST)

    def check_fails():
        raise APIError("outage", status=503)

    with pytest.raises(APIError):
        client.request("POST", "/things", json={}, before_retry=check_fails)
    assert client.state_changes == 1


def test_reads_and_bookkeeping_writes_never_count():
    client, dummy = client_with(OK, OK)
    client.request("GET", "/things")
    client.request("POST", "/things/1/lease", json={}, changes_state=False)
    assert client.state_changes == 0


@pytest.mark.fault("500 on every attempt; 429 on every attempt",
                   checks="stops after max_retries, and within max_retry_seconds")
def test_retries_are_bounded_in_count_and_in_time():
    client, clock = client_with(*[FakeResponse(500)] * 10, max_retries=3)
    with pytest.raises(APIError):
        client.request("GET", "/things")
    assert len(client.session.sent) == 4

    client, clock = client_with(*[THROTTLED] * 100, max_retries=100, max_retry_seconds=10)
    with pytest.raises(APIError):
        client.request("GET", "/things")
    assert clock.now - 1000 <= 10 + 1e-9 and len(client.session.sent) < 10


def test_the_limiter_spends_the_burst_then_paces_per_key():
    clock = FakeClock()
    limiter = RateLimiter(lambda method, path: [(path, 1.0, 3)], clock=clock.time, sleep=clock.sleep)
    for dummy in range(5):
        limiter.acquire("POST", "/a")
    assert clock.slept == pytest.approx([1.0, 1.0])
    limiter.acquire("POST", "/b")  # another key has its own burst
    assert len(clock.slept) == 2


def test_fly_limits_follow_the_docs_per_action_and_machine():
    get_machine = fly_rate_limits("GET", "/apps/a/machines/m1")
    assert get_machine == [(("GET apps/*/machines/*", "m1"), pytest.approx(5.0, rel=0.05), 10)]
    assert fly_rate_limits("POST", "/apps/a/machines/m1/stop")[0][0] == ("POST apps/*/machines/*/stop", "m1")
    assert fly_rate_limits("POST", "/apps/a/machines/m2/stop")[0][0] != fly_rate_limits(
        "POST", "/apps/a/machines/m1/stop")[0][0]
    assert fly_rate_limits("POST", "/apps/a/machines") == [(("POST apps/*/machines", "a"), pytest.approx(1.0, rel=0.05), 3)]
    assert fly_rate_limits("DELETE", "/apps/a")[0][1:] == (pytest.approx(100 / 60.0, rel=0.05), 100)
