"""Apps: create, list, read, delete."""

from __future__ import annotations

from tests.emulators.fly.helpers import APP, machine_path, make_machine, ok


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
