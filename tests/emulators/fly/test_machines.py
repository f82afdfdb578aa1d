"""Machines: create, read, update, destroy, the state actions, wait, events, versions, and the
organisation-wide listing."""

from __future__ import annotations

import time

import pytest

from tests.emulators.fly.helpers import IMAGE, eventually, machine_path, make_machine, ok, refused, wait


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


@pytest.mark.fault("an update naming a stale version", checks="409; a current update replaces the config whole, new version")
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


@pytest.mark.fault("an update moving a machine to another region", checks="400")
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


@pytest.mark.fault("wait for an unknown state, without instance_id, with a 3600 s timeout",
                   checks="400 for the bad arguments; the timeout capped; a missed deadline is 408")
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


@pytest.mark.fault("destroy of a started machine without force", checks="412; with force it is destroyed")
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


# --- wait: the document's parameters ------------------------------------------------------
def test_wait_honours_version_for_every_state(fly, app):
    machine = make_machine(fly, app)
    version = machine["instance_id"]
    assert ok(wait(fly, app, machine, version=version))["version"] == version
    ok(fly.api("POST", machine_path(app, machine) + "/stop"))
    # version (the document's current parameter) stands for instance_id, "stopped" included.
    reached = ok(wait(fly, app, machine, "stopped", version=version))
    assert (reached["state"], reached["version"], reached["ok"]) == ("stopped", version, True)
    updated = ok(fly.api("POST", machine_path(app, machine), json={"config": {"image": IMAGE + "-2"}}))
    # Waiting on the old version for "started" does not take the new version's start.
    assert wait(fly, app, machine, version=version, timeout=1).status_code == 408
    assert ok(wait(fly, app, machine, version=updated["instance_id"]))["state"] == "started"


@pytest.mark.fault("a wait for stopped without a version, for a version the machine never had",
                   checks="400 naming version and instance_id")
def test_wait_for_stopped_needs_a_known_version(fly, app):
    machine = make_machine(fly, app)
    assert "version (or instance_id) is required" in refused(wait(fly, app, machine, "stopped"))
    assert "is not a version of this machine" in refused(wait(fly, app, machine, version="01NOTAVERSION"))


def test_wait_takes_failed_settled_and_several_states(fly, app):
    fly.set_image(IMAGE + "-broken", start=False)
    broken = make_machine(fly, app, config={"image": IMAGE + "-broken"})
    assert ok(wait(fly, app, broken, "failed"))["state"] == "failed"
    # Several states, comma-separated or repeated: the answer names the one reached.
    assert ok(wait(fly, app, broken, "started,failed"))["state"] == "failed"
    assert ok(fly.api("GET", machine_path(app, broken) + "/wait",
                      params=[("state", "started"), ("state", "failed"), ("timeout", "5")]))["state"] == "failed"
    healthy = make_machine(fly, app)
    assert ok(wait(fly, app, healthy, "settled"))["state"] == "started"
    idle = make_machine(fly, app, skip_launch=True)
    assert ok(wait(fly, app, idle, "settled"))["state"] == "created"


@pytest.mark.fault("a repeated wait state that does not exist", checks="400 listing the states")
def test_every_repeated_state_is_checked(fly, app):
    machine = make_machine(fly, app)
    answer = fly.api("GET", machine_path(app, machine) + "/wait", params=[("state", "exploded"), ("state", "started")])
    assert refused(answer) == "state must be one or more of started, stopped, suspended, destroyed, failed, settled"


# --- the config as the API keeps it --------------------------------------------------------
def test_autostop_given_as_the_older_boolean_is_kept_as_its_word(fly, app):
    services = [{"internal_port": 8080, "autostop": True, "ports": [{"port": 443}]},
                {"internal_port": 9090, "autostop": False}, {"internal_port": 7070, "autostop": "suspend"}]
    machine = make_machine(fly, app, config={"image": IMAGE, "services": services})
    assert [s["autostop"] for s in machine["config"]["services"]] == ["stop", "off", "suspend"]
    versions = ok(fly.api("GET", machine_path(app, machine) + "/versions"))
    assert [s["autostop"] for s in versions[0]["user_config"]["services"]] == ["stop", "off", "suspend"]


def test_summary_lists_leave_out_the_config_and_state_details(fly, app):
    make_machine(fly, app, config={"image": IMAGE, "checks": {"http": {"type": "http", "port": 80, "path": "/"}}})
    full = ok(fly.api("GET", "/apps/%s/machines" % app))[0]
    summary = ok(fly.api("GET", "/apps/%s/machines" % app, params={"summary": "true"}))[0]
    assert set(full) - set(summary) == {"config", "checks", "events", "host_status"}
    assert summary["id"] == full["id"] and summary["state"]


# --- the organisation's machines -------------------------------------------------------------
def test_org_machines_list_every_app_least_recently_updated_first(fly, app):
    ok(fly.api("POST", "/apps", json={"app_name": "emu-other-app", "org_slug": "personal"}), 201)
    ok(fly.api("POST", "/apps", json={"app_name": "emu-elsewhere", "org_slug": "another-org"}), 201)
    first = make_machine(fly, app, config={"image": IMAGE, "metadata": {"role": "web"}})
    time.sleep(1.1)  # updated_at is kept to the second
    second = make_machine(fly, "emu-other-app", region="ord")
    make_machine(fly, "emu-elsewhere")
    listed = ok(fly.api("GET", "/orgs/personal/machines"))
    assert [(m["id"], m["app_name"]) for m in listed["machines"]] == [(first["id"], app),
                                                                      (second["id"], "emu-other-app")]
    row = listed["machines"][0]
    assert row["config"] == {"image": IMAGE, "guest": first["config"]["guest"], "metadata": {"role": "web"}}
    assert row["version"] == row["instance_id"] == first["instance_id"]
    assert (listed["last_machine_id"], "next_cursor" in listed) == (second["id"], False)

    assert [m["id"] for m in ok(fly.api("GET", "/orgs/personal/machines", params={"region": "ord"}))["machines"]] == [
        second["id"]]
    assert "config" not in ok(fly.api("GET", "/orgs/personal/machines", params={"summary": "true"}))["machines"][0]
    newer = ok(fly.api("GET", "/orgs/personal/machines", params={"updated_after": first["updated_at"]}))
    assert [m["id"] for m in newer["machines"]] == [second["id"]]
    assert ok(fly.api("GET", "/orgs/nobody/machines")) == {"machines": []}


def test_org_machines_page_with_a_cursor(fly, app):
    made = [make_machine(fly, app)["id"] for dummy in range(3)]
    seen, params = [], {"limit": "2"}
    for dummy in range(5):  # bounded: three machines, two a page
        page = ok(fly.api("GET", "/orgs/personal/machines", params=params))
        seen.extend(m["id"] for m in page["machines"])
        if "next_cursor" not in page:
            break
        params = {"limit": "2", "cursor": page["next_cursor"]}
    assert sorted(seen) == sorted(made) and len(seen) == 3


@pytest.mark.fault("an org machine listing with a cursor it never gave, and an updated_after that is not RFC 3339",
                   checks="400 saying what to pass")
def test_org_machines_refuse_bad_cursors_and_times(fly, app):
    assert "invalid cursor" in refused(fly.api("GET", "/orgs/personal/machines", params={"cursor": "garbage!"}))
    assert "RFC 3339" in refused(fly.api("GET", "/orgs/personal/machines", params={"updated_after": "yesterday"}))
