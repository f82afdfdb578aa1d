"""The shared Fly client against the emulator: retries, request ids, retry-safe creates."""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.api_client import backoff_delay
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyAPIError, FlyClient, authorization_header
from ansible_collections.sophia.ops.plugins.module_utils.fly_lease import Leases

APP = "client-test-app"


@pytest.fixture
def client(fly_api):
    return FlyClient(api_token=fly_api.token, api_url=fly_api.url, timeout=10, max_retries=4)


@pytest.fixture
def app(fly_api, client):
    client.create_app(APP, "personal")
    return APP


def statuses(entries, method, path_suffix):
    return [e["status"] for e in entries if e["method"] == method and e["path"].endswith(path_suffix)]


@pytest.mark.parametrize("token, header", [
    ("plain-token", "Bearer plain-token"),
    ("fm2_macaroon", "FlyV1 fm2_macaroon"),
    ("fm1r_macaroon", "FlyV1 fm1r_macaroon"),
    ("FlyV1 fm2_already", "FlyV1 fm2_already"),
])
def test_authorization_scheme_follows_the_token_kind(token, header):
    assert authorization_header(token) == header


def test_backoff_never_undercuts_retry_after():
    assert all(backoff_delay(attempt, retry_after=2.0) >= 2.0 for attempt in range(6))
    assert all(0 <= backoff_delay(attempt, cap=1.0) <= 1.0 for attempt in range(10))


@pytest.mark.fault("503 then 429 (Retry-After) on a read", checks="retried until the 200")
def test_transient_errors_are_retried_until_an_answer(fly_api, client, app):
    seq = fly_api.last_seq()
    fly_api.add_fault(status=503, count=1, method="GET", path_regex="/apps/%s$" % app)
    fly_api.add_fault(status=429, count=1, method="GET", path_regex="/apps/%s$" % app, retry_after=1)

    assert client.get_app(app)["name"] == app
    assert statuses(fly_api.requests_since(seq), "GET", "/apps/" + app) == [503, 429, 200]


@pytest.mark.fault("500 on every attempt", checks="gives up after max_retries naming the status and the request id")
def test_giving_up_reports_status_and_request_id(fly_api, client, app):
    client.max_retries = 1
    seq = fly_api.last_seq()
    fly_api.add_fault(status=500, count=5, method="GET", path_regex="/apps/%s$" % app)

    with pytest.raises(FlyAPIError) as raised:
        client.get_app(app)

    log = [e for e in fly_api.requests_since(seq) if e["path"].endswith("/apps/" + app)]
    assert [e["status"] for e in log] == [500, 500]
    assert raised.value.status == 500
    assert raised.value.request_id == log[-1]["request_id"]
    assert log[-1]["request_id"] in str(raised.value)


@pytest.mark.fault("create of an app that exists (422)", checks="sent once; the error carries the status")
def test_client_errors_are_not_retried(fly_api, client, app):
    seq = fly_api.last_seq()
    with pytest.raises(FlyAPIError) as raised:
        client.create_app(app, "personal")
    assert raised.value.status == 422
    assert statuses(fly_api.requests_since(seq), "POST", "/apps") == [422]


@pytest.mark.fault("machine create answer lost", checks="exactly one machine")
def test_a_lost_machine_create_answer_never_makes_two(fly_api, client, app):
    fly_api.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/machines$")

    machine = client.create_machine(app, {"region": "iad", "config": {"image": "nginx:1.27"}})

    machines = client.list_machines(app)
    assert [m["id"] for m in machines] == [machine["id"]]


@pytest.mark.fault("volume create answer lost", checks="exactly one volume")
def test_a_lost_volume_create_answer_never_makes_two(fly_api, client, app):
    fly_api.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/volumes$")

    volume = client.create_volume(app, {"name": "data", "region": "iad", "size_gb": 1})

    assert [v["id"] for v in client.list_volumes(app)] == [volume["id"]]


@pytest.mark.fault("lease request answer lost",
                   checks="our lease found by its description; released when the block ends",
                   area="Leases")
def test_leases_are_released_when_the_block_ends_and_a_lost_answer_is_found(fly_api, client, app):
    machine = client.create_machine(app, {"region": "iad", "config": {"image": "nginx:1.27"}})
    lease_path = "/apps/%s/machines/%s/lease" % (app, machine["id"])
    fly_api.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/lease$")
    with Leases(client, app, ttl=30) as leases:
        nonce = leases.acquire(machine["id"])
        held = fly_api.api("GET", lease_path).json()["data"]
        assert (held["nonce"], held["description"]) == (nonce, leases.description)
    assert fly_api.api("GET", lease_path).status_code == 404
