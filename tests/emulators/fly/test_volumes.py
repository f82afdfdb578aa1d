"""Volumes and snapshots: sizes, regions, attachment, restore and fork, the organisation's list."""

from __future__ import annotations

import pytest

from tests.emulators.fly.helpers import IMAGE, make_machine, make_volume, ok, refused, wait


@pytest.mark.fault("a bad volume name, a size change by update, a shrinking extend",
                   checks="400 each; the volume unchanged")
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


@pytest.mark.fault("a volume mounted in another region, by a second machine, deleted while attached or destroying",
                   checks="400, 422, 412; deleted once its machine is gone")
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


def test_a_fork_copies_a_volume_in_its_region(fly, app):
    source = make_volume(fly, app, region="ams", size_gb=4)
    fork = make_volume(fly, app, name="copy", region="ams", source_volume_id=source["id"])
    assert (fork["region"], fork["size_gb"], fork["bytes_used"]) == ("ams", 4, source["bytes_used"])
    assert fork["id"] != source["id"]


@pytest.mark.fault("a fork smaller than its source, in another region, of a volume that is not there",
                   checks="400 with the least size or the region; 404 for the unknown volume")
def test_a_fork_keeps_to_its_source(fly, app):
    source = make_volume(fly, app, region="ams", size_gb=4)
    base = "/apps/%s/volumes" % app
    smaller = fly.api("POST", base, json={"name": "copy", "source_volume_id": source["id"], "size_gb": 3})
    assert "at least 4" in refused(smaller)
    moved = fly.api("POST", base, json={"name": "copy", "source_volume_id": source["id"], "region": "iad"})
    assert "in its region ams" in refused(moved)
    assert refused(fly.api("POST", base, json={"name": "copy", "source_volume_id": "vol_none"}), 404) == (
        "volume not found")
    assert [v["id"] for v in ok(fly.api("GET", base))] == [source["id"]]


def test_an_on_demand_snapshot_restores_into_a_new_volume(fly, app):
    volume = make_volume(fly, app, size_gb=2)
    snapshots = "/apps/%s/volumes/%s/snapshots" % (app, volume["id"])
    assert ok(fly.api("POST", snapshots)) is None
    snapshot = ok(fly.api("GET", snapshots))[0]
    assert snapshot["id"].startswith("vs_") and snapshot["volume_size"] == 2 * 1024 ** 3
    restored = make_volume(fly, app, name="restored", snapshot_id=snapshot["id"])
    assert (restored["size_gb"], restored["bytes_used"]) == (2, snapshot["size"])


def test_summary_volume_lists_leave_out_the_block_counts(fly, app):
    make_volume(fly, app)
    summary = ok(fly.api("GET", "/apps/%s/volumes" % app, params={"summary": "true"}))[0]
    assert "blocks" not in summary and "bytes_total" not in summary and summary["size_gb"] == 3


def test_org_volumes_list_every_app(fly, app):
    ok(fly.api("POST", "/apps", json={"app_name": "emu-other-app", "org_slug": "personal"}), 201)
    first = make_volume(fly, app)
    machine = make_machine(fly, app, config={"image": IMAGE, "mounts": [{"volume": first["id"], "path": "/d"}]})
    second = make_volume(fly, "emu-other-app", region="ord")
    listed = ok(fly.api("GET", "/orgs/personal/volumes"))
    rows = {v["id"]: v for v in listed["volumes"]}
    assert set(rows) == {first["id"], second["id"]}
    assert (rows[first["id"]]["app_name"], rows[first["id"]]["attached_machine_id"]) == (app, machine["id"])
    assert rows[second["id"]]["app_name"] == "emu-other-app" and rows[second["id"]]["updated_at"]
    by_region = ok(fly.api("GET", "/orgs/personal/volumes", params={"region": "ord"}))
    assert [v["id"] for v in by_region["volumes"]] == [second["id"]]
    paged = ok(fly.api("GET", "/orgs/personal/volumes", params={"limit": "1"}))
    assert len(paged["volumes"]) == 1 and paged["next_cursor"]
    rest = ok(fly.api("GET", "/orgs/personal/volumes", params={"limit": "1", "cursor": paged["next_cursor"]}))
    assert {paged["volumes"][0]["id"], rest["volumes"][0]["id"]} == set(rows) and "next_cursor" not in rest
