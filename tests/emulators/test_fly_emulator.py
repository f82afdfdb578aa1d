"""The Fly Machines API emulator, endpoint by endpoint, against the documented behaviour.

Every answer given here is also checked against the OpenAPI document when the
session ends (tests/conftest.py) and by tests/emulators/test_openapi_contract.py.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

from tests.conftest import FlyEmulator
from tests.support.openapi_contract import ContractChecker

APP = "emu-test-app"
IMAGE = "registry.fly.io/emu-test:1"


@pytest.fixture
def fly(fly_api):
    """Fast clock; rate limits off except in the tests about them."""
    fly_api.settings(transition_seconds=0.05, rate_limits=False)
    return fly_api


@pytest.fixture
def app(fly):
    assert fly.api("POST", "/apps", json={"app_name": APP, "org_slug": "personal"}).status_code == 201
    return APP


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def make_machine(fly, app, **body):
    body.setdefault("region", "iad")
    body.setdefault("config", {"image": IMAGE})
    return ok(fly.api("POST", "/apps/%s/machines" % app, json=body))


def wait(fly, app, machine, state="started", **params):
    return fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]),
                   params=dict({"state": state, "timeout": 5}, **params))


def eventually(read, accept, deadline_seconds=10):
    """Read until ``accept`` holds (the emulator's clock runs in real time); answer the last read."""
    deadline = time.monotonic() + deadline_seconds
    value = read()
    while not accept(value):
        assert time.monotonic() < deadline, "still %r" % (value,)
        time.sleep(0.05)
        value = read()
    return value


def machine_path(app, machine):
    return "/apps/%s/machines/%s" % (app, machine["id"])


# --- authentication, request ids, errors --------------------------------------
def test_requests_without_a_valid_token_are_refused(fly):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": fly.token}):
        answer = requests.get(fly.url + "/apps", params={"org_slug": "personal"}, headers=headers, timeout=5)
        assert answer.status_code == 401
        assert "error" in answer.json()
        assert answer.headers["fly-request-id"]
    # Without a token nothing is told, not even whether a path exists.
    assert requests.get(fly.url + "/no/such/path", timeout=5).status_code == 401


def test_unknown_paths_and_methods_answer_the_error_body(fly, app):
    unknown = fly.api("GET", "/no/such/path")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "not found"})
    wrong_method = fly.api("PATCH", "/apps/" + app)
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "method not allowed"})


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


# --- apps -------------------------------------------------------------------------
def test_apps_create_list_get_delete(fly):
    ok(fly.api("POST", "/apps", json={"app_name": APP, "org_slug": "personal", "network": "blue"}), 201)
    ok(fly.api("POST", "/apps", json={"app_name": "other-org-app", "org_slug": "sophia-intel"}), 201)

    listed = ok(fly.api("GET", "/apps", params={"org_slug": "personal"}))
    assert [a["name"] for a in listed["apps"]] == [APP] and listed["total_apps"] == 1
    shown = ok(fly.api("GET", "/apps/" + APP))
    assert shown["organization"]["slug"] == "personal" and shown["network"] == "blue"

    taken = fly.api("POST", "/apps", json={"app_name": APP, "org_slug": "personal"})
    assert taken.status_code == 422 and "taken" in taken.json()["error"]

    ok(fly.api("DELETE", "/apps/" + APP), 202)
    missing = fly.api("GET", "/apps/" + APP)
    assert missing.status_code == 404 and missing.json() == {"error": "app not found"}


def test_deleting_an_app_with_machines_needs_force(fly, app):
    make_machine(fly, app)
    assert fly.api("DELETE", "/apps/" + app).status_code == 412
    ok(fly.api("DELETE", "/apps/" + app, params={"force": "true"}), 202)
    assert fly.api("GET", "/apps/%s/machines" % app).status_code == 404


def test_an_app_whose_machines_are_stopped_is_deleted_without_force(fly, app):
    machine = make_machine(fly, app, skip_launch=True)
    ok(fly.api("DELETE", "/apps/" + app), 202)
    assert fly.api("GET", machine_path(app, machine)).status_code == 404


def test_missing_resources_answer_404_with_the_documented_error_body(fly, app):
    for path, message in [("/apps/nope", "app not found"), ("/apps/nope/machines", "app not found"),
                          ("/apps/%s/machines/0000" % app, "machine not found"),
                          ("/apps/%s/volumes/vol_none" % app, "volume not found"),
                          ("/apps/%s/certificates/none.example.com" % app, "certificate not found")]:
        answer = fly.api("GET", path)
        assert (answer.status_code, answer.json()) == (404, {"error": message}), path


# --- machines -----------------------------------------------------------------------
def test_a_machine_is_created_then_started_on_the_clock(fly, app):
    machine = make_machine(fly, app, name="web-1")
    assert machine["state"] == "created"
    assert machine["config"]["guest"] == {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}
    ok(wait(fly, app, machine))
    shown = ok(fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"])))
    assert shown["state"] == "started" and shown["instance_id"] == machine["instance_id"]
    assert [(e["type"], e["status"], e["source"]) for e in shown["events"]] == [("launch", "created", "user")]


def test_skip_launch_leaves_the_machine_created(fly, app):
    machine = make_machine(fly, app, skip_launch=True)
    time.sleep(0.2)
    assert ok(fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"])))["state"] == "created"
    assert wait(fly, app, machine, timeout=1).status_code == 408
    assert ok(wait(fly, app, machine, "settled"))["state"] == "created"  # nothing more under way


def test_health_checks_pass_once_the_machine_has_run_a_step(fly, app):
    checks = {"http": {"type": "http", "port": 8080, "path": "/health"}}
    machine = make_machine(fly, app, config={"image": IMAGE, "checks": checks})
    assert [c["status"] for c in machine["checks"]] == ["critical"]  # not running yet
    shown = eventually(lambda: ok(fly.api("GET", machine_path(app, machine))),
                       lambda m: m["checks"][0]["status"] == "passing")
    assert shown["state"] == "started" and shown["checks"][0]["name"] == "http"


def test_a_machine_whose_image_cannot_start_fails_and_can_be_started_again(fly, app):
    fly.set_image(IMAGE, start=False)
    machine = make_machine(fly, app)
    assert ok(wait(fly, app, machine, "failed"))["state"] == "failed"
    listed = ok(fly.api("GET", "/apps/%s/machines" % app, params={"state": "stopped,failed"}))
    assert [m["id"] for m in listed] == [machine["id"]]
    assert ok(fly.api("GET", "/apps/%s/machines" % app, params={"state": "started"})) == []
    fly.set_image(IMAGE, start=True)
    assert ok(fly.api("POST", machine_path(app, machine) + "/start"))["previous_state"] == "failed"
    ok(wait(fly, app, machine))


def test_list_filters_by_region_and_metadata(fly, app):
    make_machine(fly, app, region="iad", config={"image": IMAGE, "metadata": {"fly_process_group": "app"}})
    make_machine(fly, app, region="ord", config={"image": IMAGE, "metadata": {"fly_process_group": "worker"}})
    by_region = ok(fly.api("GET", "/apps/%s/machines" % app, params={"region": "ord"}))
    by_group = ok(fly.api("GET", "/apps/%s/machines" % app, params={"metadata.fly_process_group": "app"}))
    assert [m["region"] for m in by_region] == ["ord"]
    assert [m["region"] for m in by_group] == ["iad"]


def test_update_replaces_the_config_and_makes_a_new_version(fly, app):
    machine = make_machine(fly, app, config={"image": IMAGE, "env": {"A": "1"}})
    ok(wait(fly, app, machine))
    updated = ok(fly.api("POST", "/apps/%s/machines/%s" % (app, machine["id"]),
                         json={"config": {"image": IMAGE + "-new"}, "current_version": machine["instance_id"]}))
    assert updated["instance_id"] != machine["instance_id"]
    assert "env" not in updated["config"]  # full replacement, not a merge
    assert updated["state"] == "replacing"
    ok(wait(fly, app, updated, version=updated["instance_id"]))  # the document's name for instance_id
    versions = ok(fly.api("GET", "/apps/%s/machines/%s/versions" % (app, machine["id"])))
    assert [v["version"] for v in versions] == [updated["instance_id"], machine["instance_id"]]

    stale = fly.api("POST", "/apps/%s/machines/%s" % (app, machine["id"]),
                    json={"config": {"image": IMAGE}, "current_version": machine["instance_id"]})
    assert stale.status_code == 409


def test_region_and_name_are_immutable(fly, app):
    machine = make_machine(fly, app, name="fixed")
    moved = fly.api("POST", "/apps/%s/machines/%s" % (app, machine["id"]),
                    json={"region": "ord", "config": {"image": IMAGE}})
    assert moved.status_code == 400


def test_stop_start_restart_suspend(fly, app):
    machine = make_machine(fly, app)
    ok(wait(fly, app, machine))
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    ok(fly.api("POST", base + "/stop"))
    ok(wait(fly, app, machine, "stopped", instance_id=machine["instance_id"]))
    assert fly.api("POST", base + "/stop").status_code == 412
    assert ok(fly.api("POST", base + "/start"))["previous_state"] == "stopped"
    ok(wait(fly, app, machine))
    ok(fly.api("POST", base + "/restart"))
    ok(wait(fly, app, machine))
    ok(fly.api("POST", base + "/suspend"))
    ok(wait(fly, app, machine, "suspended"))
    ok(fly.api("POST", base + "/cordon"))
    ok(fly.api("POST", base + "/uncordon"))


def test_wait_validates_its_arguments_and_caps_the_deadline(fly, app):
    machine = make_machine(fly, app)
    assert wait(fly, app, machine, "exploded").status_code == 400
    assert wait(fly, app, machine, "stopped").status_code == 400  # instance_id required
    ok(wait(fly, app, machine, timeout=3600))  # longer than the 60 s cap: capped, not refused
    started = time.monotonic()
    answer = fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]),
                     params={"state": "stopped", "instance_id": machine["instance_id"], "timeout": 1})
    assert answer.status_code == 408 and answer.json()["error"].startswith("deadline_exceeded")
    assert time.monotonic() - started < 30


def test_destroy_needs_a_stopped_machine_or_force(fly, app):
    machine = make_machine(fly, app)
    ok(wait(fly, app, machine))
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    assert fly.api("DELETE", base).status_code == 412
    ok(fly.api("DELETE", base, params={"force": "true"}))
    ok(wait(fly, app, machine, "destroyed"))
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []
    assert [m["state"] for m in ok(fly.api("GET", "/apps/%s/machines" % app,
                                           params={"include_deleted": "true"}))] == ["destroyed"]


def test_a_stopped_machine_is_destroyed_without_force(fly, app):
    machine = make_machine(fly, app, skip_launch=True)
    assert ok(fly.api("DELETE", machine_path(app, machine))) == {"ok": True}
    ok(wait(fly, app, machine, "destroyed"))
    assert fly.api("DELETE", machine_path(app, machine)).status_code == 404


def test_events_record_the_actions_newest_first(fly, app):
    machine = make_machine(fly, app)
    ok(wait(fly, app, machine))
    ok(fly.api("POST", machine_path(app, machine) + "/stop"))
    ok(wait(fly, app, machine, "stopped", instance_id=machine["instance_id"]))
    events = ok(fly.api("GET", machine_path(app, machine) + "/events"))
    assert [(e["type"], e["status"]) for e in events] == [("stop", "stopping"), ("launch", "created")]
    assert len(ok(fly.api("GET", machine_path(app, machine) + "/events", params={"limit": 1}))) == 1
    waited = ok(wait(fly, app, machine, "stopped", instance_id=machine["instance_id"]))
    assert waited["event_id"] == events[0]["id"]


def test_versions_and_cordon(fly, app):
    machine = make_machine(fly, app, config={"image": IMAGE, "env": {"A": "1"}})
    updated = ok(fly.api("POST", machine_path(app, machine), json={"config": {"image": IMAGE}, "skip_launch": True}))
    versions = ok(fly.api("GET", machine_path(app, machine) + "/versions"))
    assert [v["version"] for v in versions] == [updated["instance_id"], machine["instance_id"]]
    assert versions[1]["user_config"] == {"image": IMAGE, "env": {"A": "1"}}
    assert ok(fly.api("POST", machine_path(app, machine) + "/cordon")) == {"ok": True}
    assert ok(fly.api("POST", machine_path(app, machine) + "/uncordon")) == {"ok": True}


def test_metadata_keys(fly, app):
    machine = make_machine(fly, app)
    base = "/apps/%s/machines/%s/metadata" % (app, machine["id"])
    ok(fly.api("POST", base + "/role", json={"value": "primary"}), 204)
    assert ok(fly.api("GET", base)) == {"role": "primary"}
    assert ok(fly.api("GET", base + "/role")) == {"value": "primary"}
    ok(fly.api("DELETE", base + "/role"), 204)
    assert fly.api("GET", base + "/role").status_code == 404


# --- leases ------------------------------------------------------------------------
def test_a_leased_machine_only_takes_changes_with_the_nonce(fly, app):
    machine = make_machine(fly, app)
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    lease = ok(fly.api("POST", base + "/lease", json={"ttl": 30, "description": "deploy"}), 201)
    assert lease["status"] == "success"
    nonce = lease["data"]["nonce"]
    assert ok(fly.api("GET", base + "/lease"))["data"]["nonce"] == nonce

    assert fly.api("POST", base + "/lease", json={"ttl": 30}).status_code == 409
    assert fly.api("POST", base, json={"config": {"image": IMAGE}}).status_code == 409
    ok(fly.api("POST", base, json={"config": {"image": IMAGE}}, headers={"fly-machine-lease-nonce": nonce}))

    assert fly.api("DELETE", base + "/lease", headers={"fly-machine-lease-nonce": "wrong"}).status_code == 409
    ok(fly.api("DELETE", base + "/lease", headers={"fly-machine-lease-nonce": nonce}))
    assert fly.api("GET", base + "/lease").status_code == 404


def test_a_lease_expires_after_its_ttl(fly, app):
    machine = make_machine(fly, app, lease_ttl=1)
    assert machine["nonce"]
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    assert fly.api("POST", base + "/cordon").status_code == 409
    time.sleep(2.1)
    ok(fly.api("POST", base + "/cordon"))


def test_the_holder_refreshes_a_lease_and_its_ttl_is_capped(fly, app):
    fly.settings(lease_ttl_max=60)
    machine = make_machine(fly, app)
    base = machine_path(app, machine) + "/lease"
    assert fly.api("GET", base).status_code == 404
    first = ok(fly.api("POST", base, json={"ttl": 30}), 201)["data"]
    again = ok(fly.api("POST", base, json={"ttl": 3600}, headers={"fly-machine-lease-nonce": first["nonce"]}),
               201)["data"]
    assert again["nonce"] == first["nonce"] and again["version"] == machine["instance_id"]
    assert again["expires_at"] <= time.time() + 61


# --- rate limits -------------------------------------------------------------------
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


def test_get_machine_has_a_larger_burst(fly, app):
    fly.settings(rate_limits=True)
    machine = make_machine(fly, app)
    statuses = [fly.api("GET", "/apps/%s/machines/%s" % (app, machine["id"]), retry_throttled=False).status_code
                for dummy in range(25)]
    assert statuses[:10] == [200] * 10 and 429 in statuses[10:]


# --- volumes -----------------------------------------------------------------------
def test_volume_lifecycle_and_rules(fly, app):
    base = "/apps/%s/volumes" % app
    volume = ok(fly.api("POST", base, json={"name": "data", "region": "iad", "size_gb": 2}))
    assert volume["id"].startswith("vol_") and volume["encrypted"] is True and volume["snapshot_retention"] == 5
    assert fly.api("POST", base, json={"name": "Bad-Name", "region": "iad"}).status_code == 400

    settings = {"snapshot_retention": 10, "auto_backup_enabled": False}
    updated = ok(fly.api("PUT", base + "/" + volume["id"], json=settings))
    assert (updated["snapshot_retention"], updated["auto_backup_enabled"]) == (10, False)
    assert fly.api("PUT", base + "/" + volume["id"], json={"size_gb": 9}).status_code == 400

    grown = ok(fly.api("PUT", base + "/%s/extend" % volume["id"], json={"size_gb": 5}))
    assert grown["volume"]["size_gb"] == 5 and grown["needs_restart"] is False
    assert fly.api("PUT", base + "/%s/extend" % volume["id"], json={"size_gb": 3}).status_code == 400
    assert [v["id"] for v in ok(fly.api("GET", base))] == [volume["id"]]


def test_volume_defaults_and_the_destroyed_answer(fly, app):
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data"}))
    shown = (volume["region"], volume["size_gb"], volume["snapshot_retention"], volume["state"])
    assert shown == ("iad", 3, 5, "created")
    assert volume["encrypted"] is True and volume["auto_backup_enabled"] is True
    assert "attached_machine_id" not in volume
    gone = ok(fly.api("DELETE", "/apps/%s/volumes/%s" % (app, volume["id"])))
    assert (gone["id"], gone["state"]) == (volume["id"], "destroyed")


def test_a_volume_is_pinned_to_its_region_and_to_one_machine(fly, app):
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad", "size_gb": 1}))
    mounts = [{"volume": volume["id"], "path": "/data"}]
    elsewhere = fly.api("POST", "/apps/%s/machines" % app,
                        json={"region": "ord", "config": {"image": IMAGE, "mounts": mounts}})
    assert elsewhere.status_code == 400
    machine = make_machine(fly, app, region="iad", config={"image": IMAGE, "mounts": mounts})
    second = fly.api("POST", "/apps/%s/machines" % app,
                     json={"region": "iad", "config": {"image": IMAGE, "mounts": mounts}})
    assert second.status_code == 422

    volume_path = "/apps/%s/volumes/%s" % (app, volume["id"])
    assert ok(fly.api("GET", volume_path))["attached_machine_id"] == machine["id"]
    assert fly.api("DELETE", volume_path).status_code == 412
    # A clock slow enough that "still destroying" holds on a loaded machine between two requests.
    fly.settings(transition_seconds=1.0)
    ok(fly.api("DELETE", "/apps/%s/machines/%s" % (app, machine["id"]), params={"force": "true"}))
    assert fly.api("DELETE", volume_path).status_code == 412  # still destroying
    ok(wait(fly, app, machine, "destroyed"))
    assert ok(fly.api("DELETE", volume_path))["id"] == volume["id"]
    assert fly.api("GET", volume_path).status_code == 404


def test_snapshots(fly, app):
    volume = ok(fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad"}))
    path = "/apps/%s/volumes/%s/snapshots" % (app, volume["id"])
    assert ok(fly.api("GET", path)) == []
    ok(fly.api("POST", path))
    assert len(ok(fly.api("GET", path))) == 1


# --- secrets -----------------------------------------------------------------------
def test_secrets_are_write_only_with_digests_and_versions(fly, app):
    base = "/apps/%s/secrets" % app
    first = ok(fly.api("POST", base, json={"values": {"DATABASE_URL": "postgres://u:p@db/x", "TOKEN": "t-1"}}))
    second = ok(fly.api("POST", base, json={"values": {"TOKEN": "t-2", "DATABASE_URL": None}}))
    assert second["version"] > first["version"]

    listed = ok(fly.api("GET", base))["secrets"]
    assert [s["name"] for s in listed] == ["TOKEN"]
    assert "value" not in listed[0] and "t-2" not in fly.api("GET", base).text
    assert listed[0]["digest"] != [s for s in first["secrets"] if s["name"] == "TOKEN"][0]["digest"]
    assert fly.api("POST", base, json={"values": {"bad name": "x"}}).status_code == 400


def test_a_secret_digest_is_the_sha256_prefix_of_its_value(fly, app):
    base = "/apps/%s/secrets" % app
    first = ok(fly.api("POST", base, json={"values": {"API_KEY": "value-one"}}))
    second = ok(fly.api("POST", base, json={"values": {"API_KEY": "value-one", "GONE": None}}))
    listed = ok(fly.api("GET", base))["secrets"]
    assert [(s["name"], s["digest"]) for s in listed] == [("API_KEY", hashlib.sha256(b"value-one").hexdigest()[:16])]
    assert listed[0]["created_at"] == first["secrets"][0]["created_at"]
    assert second["version"] == first["version"] + 1


# --- ips and certificates ---------------------------------------------------------
def test_ip_assignments(fly, app):
    base = "/apps/%s/ip_assignments" % app
    shared = ok(fly.api("POST", base, json={"type": "shared_v4"}))
    v6 = ok(fly.api("POST", base, json={"type": "v6", "region": "iad"}))
    assert shared["shared"] is True and ":" in v6["ip"]
    assert fly.api("POST", base, json={"type": "v5"}).status_code == 400
    assert sorted(ip["ip"] for ip in ok(fly.api("GET", base))["ips"]) == sorted([shared["ip"], v6["ip"]])
    ok(fly.api("DELETE", base + "/" + v6["ip"]), 204)
    assert [ip["ip"] for ip in ok(fly.api("GET", base))["ips"]] == [shared["ip"]]


def test_certificates_become_active_on_the_clock(fly, app):
    base = "/apps/%s/certificates" % app
    cert = ok(fly.api("POST", base + "/acme", json={"hostname": "api.example.com"}), 201)
    assert cert["status"] == "pending_validation" and cert["dns_requirements"]["cname"] == app + ".fly.dev"
    time.sleep(0.3)
    assert ok(fly.api("POST", base + "/api.example.com/check"))["status"] == "active"
    assert [c["hostname"] for c in ok(fly.api("GET", base))["certificates"]] == ["api.example.com"]
    ok(fly.api("DELETE", base + "/api.example.com"), 204)
    assert fly.api("GET", base + "/api.example.com").status_code == 404


# --- control surface ---------------------------------------------------------------
def test_faults_answer_errors_without_changing_state(fly, app):
    fly.add_fault(status=503, count=2, method="POST", path_regex=r"/machines$")
    for dummy in range(2):
        assert fly.api("POST", "/apps/%s/machines" % app, json={"config": {"image": IMAGE}}).status_code == 503
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []
    make_machine(fly, app)


def test_faults_count_down_carry_retry_after_and_clear(fly, app):
    fly.add_fault(status=429, count=1, method="GET", path_regex=r"/apps/%s$" % app, retry_after=7)
    throttled = fly.api("GET", "/apps/" + app, retry_throttled=False)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7" and throttled.json()["error"]
    ok(fly.api("GET", "/apps/" + app))

    fly.add_fault(status=500, count=3, method="GET")
    assert [f["count"] for f in fly.control("GET", "faults")["faults"]] == [3]
    assert fly.api("GET", "/apps/" + app).status_code == 500
    assert [f["count"] for f in fly.control("GET", "faults")["faults"]] == [2]
    fly.clear_faults()
    ok(fly.api("GET", "/apps/" + app))


def test_a_latency_fault_delays_the_answer(fly, app):
    seq = fly.last_seq()
    fly.add_fault(latency_ms=300, method="GET")
    ok(fly.api("GET", "/apps/" + app))
    assert fly.requests_since(seq)[0]["duration_ms"] >= 300


def test_the_request_log_holds_no_bodies_and_not_the_control_surface(fly, app):
    seq = fly.last_seq()
    fly.api("POST", "/apps/%s/secrets" % app, json={"values": {"PASSWORD": "hunter2-a-long-password"}})
    fly.settings(lease_ttl_max=100)
    entries = fly.requests_since(seq)
    assert len(entries) == 1
    assert set(entries[0]) == {"seq", "time", "method", "path", "query", "status", "duration_ms", "request_id"}
    assert "hunter2" not in json.dumps(entries)
    assert len(fly.control("GET", "requests", params={"since": 0, "limit": 1})["requests"]) == 1


def test_reset_forgets_state_faults_image_rules_settings_and_the_log(fly, app):
    fly.set_image(IMAGE, start=False)
    fly.add_fault(status=500, count=5, path_regex="/never-called")
    fly.reset()
    assert fly.requests_since(0) == []
    assert fly.control("GET", "faults") == {"faults": []}
    assert fly.control("GET", "settings") == {"rate_limits": True, "transition_seconds": 0.2, "lease_ttl_max": 3600}
    assert fly.api("GET", "/apps/" + app).status_code == 404
    fly.settings(transition_seconds=0.05)
    ok(fly.api("POST", "/apps", json={"app_name": app, "org_slug": "personal"}), 201)
    ok(wait(fly, app, make_machine(fly, app)))  # the image starts again


def test_a_lost_answer_still_commits(fly, app):
    fly.add_fault(lose_response=True, method="POST", path_regex=r"/machines$")
    lost = fly.api("POST", "/apps/%s/machines" % app, json={"config": {"image": IMAGE}})
    assert lost.status_code == 408
    assert len(ok(fly.api("GET", "/apps/%s/machines" % app))) == 1


def test_image_rules_and_drift(fly, app):
    fly.set_image(IMAGE + "-sick", healthy=False)
    fly.set_image(IMAGE + "-broken", start=False)
    checks = {"alive": {"type": "http", "port": 8080, "path": "/health"}}
    sick = make_machine(fly, app, config={"image": IMAGE + "-sick", "checks": checks})
    broken = make_machine(fly, app, config={"image": IMAGE + "-broken"})
    ok(wait(fly, app, sick))
    time.sleep(0.2)
    shown = ok(fly.api("GET", "/apps/%s/machines/%s" % (app, sick["id"])))
    assert [c["status"] for c in shown["checks"]] == ["critical"]
    assert ok(fly.api("GET", "/apps/%s/machines/%s" % (app, broken["id"])))["state"] == "failed"

    drifted = fly.drift_machine(app, sick["id"], state="stopped", config={"env": {"HAND_EDIT": "1"}})
    assert drifted["state"] == "stopped" and drifted["config"]["env"] == {"HAND_EDIT": "1"}
    assert drifted["instance_id"] != sick["instance_id"]
    assert drifted["config"]["checks"] == checks  # merged, not replaced
    versions = ok(fly.api("GET", machine_path(app, sick) + "/versions"))
    assert [v["version"] for v in versions] == [drifted["instance_id"], sick["instance_id"]]

    relabelled = fly.drift_machine(app, sick["id"], metadata={"owner": "someone-else"})
    assert relabelled["config"]["metadata"]["owner"] == "someone-else"
    assert relabelled["instance_id"] == drifted["instance_id"]  # metadata and state make no version


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
