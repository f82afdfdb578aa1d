"""How every Fly request is served: the token, request ids, error bodies, rate limits, a
restart on the same data, and the contract check itself."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.emulators.fly.helpers import APP, IMAGE, machine_path, make_machine, ok, wait
from tests.support.emulators import FlyEmulator
from tests.support.openapi_contract import ContractChecker


@pytest.mark.fault("no token, a wrong token, a token without its scheme",
                   checks="401 with the error body and a request id; an unknown path tells nothing without a token")
def test_requests_without_a_valid_token_are_refused(fly):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": fly.token}):
        answer = requests.get(fly.url + "/apps", params={"org_slug": "personal"}, headers=headers, timeout=5)
        assert answer.status_code == 401
        assert "error" in answer.json()
        assert answer.headers["fly-request-id"]
    # Without a token nothing is told, not even whether a path exists.
    assert requests.get(fly.url + "/no/such/path", timeout=5).status_code == 401


@pytest.mark.fault("an unknown path; a method the path does not take", checks="404 and 405 in Fly's error body")
def test_unknown_paths_and_methods_answer_the_error_body(fly, app):
    unknown = fly.api("GET", "/no/such/path")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no such path: /v1/no/such/path"})
    wrong_method = fly.api("PATCH", "/apps/" + app)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET, DELETE, HEAD"
    assert wrong_method.json() == {"error": "method PATCH is not allowed on /v1/apps/%s; allowed: GET, DELETE, HEAD"
                                            % app}


def test_flyv1_scheme_is_accepted(fly):
    answer = requests.get(fly.url + "/apps", params={"org_slug": "personal"},
                          headers={"Authorization": "FlyV1 " + fly.token}, timeout=5)
    assert answer.status_code == 200


def test_every_answer_carries_a_request_id_that_the_log_records(fly, app):
    seq = fly.last_seq()
    answer = fly.api("GET", "/apps/%s" % app)
    logged = fly.requests_since(seq)
    assert [entry["request_id"] for entry in logged] == [answer.headers["fly-request-id"]]
    assert logged[0]["method"] == "GET" and logged[0]["status"] == 200


def test_missing_resources_answer_404_with_the_documented_error_body(fly, app):
    for path, message in [("/apps/nope", "app not found"), ("/apps/nope/machines", "app not found"),
                          ("/apps/%s/machines/0000" % app, "machine not found"),
                          ("/apps/%s/volumes/vol_none" % app, "volume not found"),
                          ("/apps/%s/certificates/none.example.com" % app, "certificate not found")]:
        answer = fly.api("GET", path)
        assert (answer.status_code, answer.json()) == (404, {"error": message}), path


@pytest.mark.fault("bursts of one action on one machine",
                   checks="429 with Retry-After past the documented burst; other actions and machines unaffected")
def test_actions_are_rate_limited_per_machine(fly, app):
    fly.settings(rate_limits=True)
    machine = make_machine(fly, app)
    other = make_machine(fly, app)
    path = "/apps/%s/machines/%s/metadata" % (app, machine["id"])
    statuses = [fly.api("GET", path, retry_throttled=False).status_code for dummy in range(8)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    limited = fly.api("GET", path, retry_throttled=False)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"]
    # Another action on the same machine has its own allowance.
    assert fly.api("GET", "/apps/%s/machines/%s/versions" % (app, machine["id"]),
                   retry_throttled=False).status_code == 200
    assert fly.api("GET", "/apps/%s/machines/%s/metadata" % (app, other["id"]),
                   retry_throttled=False).status_code == 200


@pytest.mark.fault("25 reads of one machine at once", checks="the first 10 pass, then 429")
def test_get_machine_has_a_larger_burst(fly, app):
    fly.settings(rate_limits=True)
    machine = make_machine(fly, app)
    statuses = [fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"]), retry_throttled=False).status_code
                for dummy in range(25)]
    assert statuses[:10] == [200] * 10 and 429 in statuses[10:]


@pytest.mark.fault("emulator stopped and started again on its data directory",
                   checks="apps, volumes, secrets, leases, settings and the request log all kept")
def test_a_second_emulator_on_the_same_data_dir_keeps_everything(tmp_path):
    first = FlyEmulator(tmp_path).start()
    try:
        first.settings(transition_seconds=0.05, rate_limits=False)
        first.set_image(IMAGE, healthy=False)
        ok(first.api("POST", "/apps", json={"app_name": APP, "org_slug": "personal"}), 201)
        ok(first.api("POST", "/apps/%s/secrets" % APP, json={"values": {"KEPT": "yes-kept"}}))
        volume = ok(first.api("POST", "/apps/%s/volumes" % APP, json={"name": "data", "region": "iad"}))
        checks = {"http": {"type": "http", "port": 8080, "path": "/"}}
        mounts = [{"volume": volume["id"], "path": "/data"}]
        machine = make_machine(first, APP, lease_ttl=300, skip_launch=True,
                               config={"image": IMAGE, "checks": checks, "mounts": mounts})
        seq = first.last_seq()
    finally:
        first.stop()

    second = FlyEmulator(tmp_path)
    second.token = first.token
    second.start()
    try:
        assert second.control("GET", "settings")["rate_limits"] is False
        assert second.last_seq() == seq  # the request log goes on where it was
        kept_volume = ok(second.api("GET", "/apps/%s/volumes/%s" % (APP, volume["id"])))
        assert kept_volume["attached_machine_id"] == machine["id"]
        assert [s["digest"] for s in ok(second.api("GET", "/apps/%s/secrets" % APP))["secrets"]] == \
            [hashlib.sha256(b"yes-kept").hexdigest()[:16]]
        start = machine_path(APP, machine) + "/start"
        assert second.api("POST", start).status_code == 409  # the lease is still held
        ok(second.api("POST", start, headers={"fly-machine-lease-nonce": machine["nonce"]}))
        ok(wait(second, APP, machine))
        assert [c["status"] for c in ok(second.api("GET", machine_path(APP, machine)))["checks"]] == ["critical"]
    finally:
        second.stop()
    checker = ContractChecker("fly")
    if checker.available:
        assert checker.check_file(second.capture_path)[1] == []


def test_the_contract_checker_catches_a_broken_answer():
    checker = ContractChecker("fly")
    if not checker.available:
        pytest.skip("the Fly OpenAPI document is not beside the repository")
    good = {"method": "GET", "path": "/v1/apps/x/volumes/vol_1/snapshots", "query": "", "status": 200,
            "content_type": "application/json", "body": "[]"}
    bad = dict(good, body='[{"size": "not a number"}]')
    error_without_message = dict(good, status=404, body='{"message": "nope"}')
    assert checker.problems(good) == []
    assert checker.problems(bad)
    assert checker.problems(error_without_message)


def test_the_transition_seconds_flag_sets_the_clock_and_outlives_resets(tmp_path):
    other = FlyEmulator(tmp_path)
    other.extra_args += ["--transition-seconds", "0.01"]
    other.start()
    try:
        assert requests.get(other.base_url + "/_emulator/health", timeout=5).json() == {"status": "ok"}
        assert other.control("GET", "settings")["transition_seconds"] == 0.01
        other.reset()
        assert other.control("GET", "settings")["transition_seconds"] == 0.01
    finally:
        other.stop()
