"""Machine metadata: one key at a time, and several at once (PUT and PATCH)."""

from __future__ import annotations

import pytest

from tests.emulators.fly.helpers import IMAGE, machine_path, make_machine, ok, refused


def test_metadata_keys(fly, app):
    machine = make_machine(fly, app)
    base = "/apps/%s/machines/%s/metadata" % (app, machine["id"])
    ok(fly.api("POST", base + "/role", json={"value": "primary"}), 204)
    assert ok(fly.api("GET", base)) == {"role": "primary"}
    assert ok(fly.api("GET", base + "/role")) == {"value": "primary"}
    ok(fly.api("DELETE", base + "/role"), 204)
    assert fly.api("GET", base + "/role").status_code == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_several_keys_are_set_and_removed_at_once(fly, app, method):
    machine = make_machine(fly, app, config={"image": IMAGE, "metadata": {"role": "web", "tier": "1", "old": "x"}})
    base = machine_path(app, machine) + "/metadata"
    changes = {"tier": "2", "zone": "a", "old": None, "role": ""}  # null and "" remove a key
    ok(fly.api(method, base, json={"metadata": changes, "machine_version": machine["instance_id"]}), 204)
    assert ok(fly.api("GET", base)) == {"tier": "2", "zone": "a"}
    shown = ok(fly.api("GET", machine_path(app, machine)))
    assert shown["config"]["metadata"] == {"tier": "2", "zone": "a"}
    assert shown["instance_id"] == machine["instance_id"]  # metadata makes no new version


@pytest.mark.fault("a metadata update naming a stale machine_version, and one without the lease nonce",
                   checks="412 and 409; the metadata unchanged")
def test_a_metadata_update_is_guarded_by_version_and_lease(fly, app):
    machine = make_machine(fly, app, config={"image": IMAGE, "metadata": {"role": "web"}})
    base = machine_path(app, machine) + "/metadata"
    stale = fly.api("PUT", base, json={"metadata": {"role": "db"}, "machine_version": "01STALE"})
    assert refused(stale, 412).startswith("failed_precondition: machine_version 01STALE")
    nonce = ok(fly.api("POST", machine_path(app, machine) + "/lease", json={"ttl": 30}), 201)["data"]["nonce"]
    assert fly.api("PATCH", base, json={"metadata": {"role": "db"}}).status_code == 409
    assert fly.api("POST", base + "/role", json={"value": "db"}).status_code == 409
    assert ok(fly.api("GET", base)) == {"role": "web"}
    ok(fly.api("PATCH", base, json={"metadata": {"role": "db"}}, headers={"fly-machine-lease-nonce": nonce}), 204)
    assert ok(fly.api("GET", base)) == {"role": "db"}
