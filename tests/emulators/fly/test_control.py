"""The control surface (/_emulator/): faults, the request log, reset, image rules and drift."""

from __future__ import annotations

import json
import time

import pytest

from tests.emulators.fly.helpers import IMAGE, machine_path, make_machine, ok, wait


@pytest.mark.fault("injected 503 on machine creates", checks="503 answered and nothing created")
def test_faults_answer_errors_without_changing_state(fly, app):
    fly.add_fault(status=503, count=2, method="POST", path_regex=r"/machines$")
    for dummy in range(2):
        assert fly.api("POST", "/apps/%s/machines" % app, json={"config": {"image": IMAGE}}).status_code == 503
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []
    make_machine(fly, app)


@pytest.mark.fault("injected 429 with Retry-After and 500s", checks="answered as injected, counted down and cleared")
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


@pytest.mark.fault("injected 300 ms latency", checks="the logged duration is at least 300 ms")
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


@pytest.mark.fault("lost answer on a machine create", checks="408 answered, and the machine was made")
def test_a_lost_answer_still_commits(fly, app):
    fly.add_fault(lose_response=True, method="POST", path_regex=r"/machines$")
    lost = fly.api("POST", "/apps/%s/machines" % app, json={"config": {"image": IMAGE}})
    assert lost.status_code == 408
    assert len(ok(fly.api("GET", "/apps/%s/machines" % app))) == 1


@pytest.mark.fault("images whose health checks fail or that cannot start; changes made out of band",
                   checks="checks critical, machine failed; drift makes a new version as the API would")
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
