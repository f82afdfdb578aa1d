"""Backups through the Fly modules: on-demand snapshots (sophia.ops.fly_volume_snapshot), a volume restored
from a snapshot (sophia.ops.fly_volume), and the snapshot settings of a process group's volumes converged
with its machines (sophia.ops.fly_machine)."""

from __future__ import annotations

from tests.support.modules import call_module

IMAGE = "registry.fly.io/sophia-weaviate:1.32.0"
VOLUME = {"name": "weaviate_data", "path": "/var/lib/weaviate", "size_gb": 2, "snapshot_retention": 14,
          "auto_backup_enabled": True}


def make_volume(fly, app, name="data", region="iad", size_gb=1):
    answer = fly.api("POST", "/apps/%s/volumes" % app, json={"name": name, "region": region, "size_gb": size_gb})
    assert answer.ok, answer.text
    return answer.json()


def snapshots(fly, app, volume_id):
    return fly.api("GET", "/apps/%s/volumes/%s/snapshots" % (app, volume_id)).json()


def snapshot_posts(fly, seq):
    return [e for e in fly.requests_since(seq) if e["method"] == "POST" and e["path"].endswith("/snapshots")]


def group_args(fly, app, count=2, volume=None, **args):
    config = {"image": IMAGE, "guest": {"cpus": 1, "memory_mb": 1024}}
    return fly.module_args(**dict({"app": app, "group": "app", "count": count, "regions": ["iad"], "config": config,
                                   "volume": volume or VOLUME, "rollout": {"health_timeout": 20, "wait_timeout": 20}},
                                  **args))


def test_snapshots_of_every_volume_with_a_name(fly, app):
    first, second = make_volume(fly, app), make_volume(fly, app, region="ord")
    other = make_volume(fly, app, name="scratch")
    args = fly.module_args(app=app, name="data")

    seq = fly.last_seq()
    predicted = call_module("fly_volume_snapshot", args, check=True, diff=True)
    assert predicted.changed and fly.writes_since(seq) == []
    assert sorted(s["volume_id"] for s in predicted["snapshots"]) == sorted([first["id"], second["id"]])
    assert {s["id"] for s in predicted["snapshots"]} == {None}
    assert len(predicted["diff"]["after"]["snapshots"]) == 2

    taken = call_module("fly_volume_snapshot", args)
    assert taken.changed, taken.get("msg")
    by_volume = dict((s["volume_id"], s) for s in taken["snapshots"])
    assert sorted(by_volume) == sorted([first["id"], second["id"]])
    for volume in (first, second):
        listed = snapshots(fly, app, volume["id"])
        assert [s["id"] for s in listed] == [by_volume[volume["id"]]["id"]]
        assert by_volume[volume["id"]]["id"].startswith("vs_")
        assert by_volume[volume["id"]]["volume_name"] == "data"
        assert by_volume[volume["id"]]["region"] == volume["region"]
    assert snapshots(fly, app, other["id"]) == []

    # Always a new one: that is what it is for.
    again = call_module("fly_volume_snapshot", fly.module_args(app=app, volume_id=first["id"]))
    assert again.changed and [s["volume_id"] for s in again["snapshots"]] == [first["id"]]
    assert len(snapshots(fly, app, first["id"])) == 2 and len(snapshots(fly, app, second["id"])) == 1

    # Without a name or ID: every volume of the app.
    everything = call_module("fly_volume_snapshot", fly.module_args(app=app, wait=False))
    assert everything.changed and len(everything["snapshots"]) == 3


def test_nothing_to_snapshot_changes_nothing_and_a_missing_volume_fails(fly, app):
    make_volume(fly, app)
    seq = fly.last_seq()
    none = call_module("fly_volume_snapshot", fly.module_args(app=app, name="absent_name"))
    assert not none.failed and not none.changed and none["snapshots"] == []
    missing = call_module("fly_volume_snapshot", fly.module_args(app=app, volume_id="vol_doesnotexist0000"))
    assert missing.failed and "does not exist" in missing["msg"]
    no_app = call_module("fly_volume_snapshot", fly.module_args(app="no-such-app-here"))
    assert no_app.failed and "does not exist" in no_app["msg"]
    assert fly.writes_since(seq) == []
    # On an app still to be made (check mode of a first run), there is nothing to snapshot.
    predicted = call_module("fly_volume_snapshot", fly.module_args(app="no-such-app-here"), check=True)
    assert not predicted.failed and not predicted.changed


def test_a_lost_answer_makes_one_snapshot(fly, app):
    volume = make_volume(fly, app)
    fly.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/volumes/[^/]+/snapshots$")

    seq = fly.last_seq()
    taken = call_module("fly_volume_snapshot", fly.module_args(app=app, volume_id=volume["id"]))
    assert not taken.failed and taken.changed, taken.get("msg")
    posts = snapshot_posts(fly, seq)
    assert [e["status"] for e in posts] == [408], "the fault did not hit the snapshot request, or it was repeated"
    listed = snapshots(fly, app, volume["id"])
    assert [s["id"] for s in listed] == [taken["snapshots"][0]["id"]]


def test_a_volume_restored_from_a_snapshot(fly, app):
    source = make_volume(fly, app, size_gb=3)
    snapshot = call_module("fly_volume_snapshot", fly.module_args(app=app, volume_id=source["id"]))["snapshots"][0]
    args = fly.module_args(app=app, name="restore_drill", region="iad", snapshot_id=snapshot["id"])

    seq = fly.last_seq()
    predicted = call_module("fly_volume", args, check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"]["snapshot_id"] == snapshot["id"]
    assert fly.writes_since(seq) == []

    fly.add_fault(lose_response=True, count=1, method="POST", path_regex=r"/volumes$")
    restored = call_module("fly_volume", args)
    assert restored.changed, restored.get("msg")
    volume = restored["fly_volume"]
    # As large as the volume the snapshot was taken of, holding the snapshot's data.
    assert (volume["size_gb"], volume["bytes_used"]) == (3, snapshot["size"])
    assert [v["name"] for v in fly.api("GET", "/apps/%s/volumes" % app).json()].count("restore_drill") == 1

    seq = fly.last_seq()
    assert not call_module("fly_volume", args).changed
    assert fly.writes_since(seq) == []

    too_small = call_module("fly_volume", dict(args, name="restore_small", size_gb=1))
    assert too_small.failed and "at least 3" in too_small["msg"]
    unknown = call_module("fly_volume", dict(args, name="restore_unknown", snapshot_id="vs_doesnotexist"))
    assert unknown.failed and unknown["api_error"]["status"] == 404


def test_the_snapshot_settings_of_a_groups_volumes_converge(fly, app):
    made = call_module("fly_machine", group_args(fly, app))
    assert made.changed, made.get("msg")
    volumes = fly.api("GET", "/apps/%s/volumes" % app).json()
    assert len(volumes) == 2
    assert {(v["snapshot_retention"], v["auto_backup_enabled"]) for v in volumes} == {(14, True)}
    assert made["summary"]["volumes_updated"] == []

    seq = fly.last_seq()
    assert not call_module("fly_machine", group_args(fly, app)).changed
    assert fly.writes_since(seq) == []

    # Out of band: one volume's retention shortened, the other's daily backups turned off.
    drifted, other = volumes
    fly.api("PUT", "/apps/%s/volumes/%s" % (app, drifted["id"]), json={"snapshot_retention": 3})
    fly.api("PUT", "/apps/%s/volumes/%s" % (app, other["id"]), json={"auto_backup_enabled": False})

    seq = fly.last_seq()
    predicted = call_module("fly_machine", group_args(fly, app), check=True, diff=True)
    assert predicted.changed and fly.writes_since(seq) == []
    assert sorted(predicted["summary"]["volumes_updated"]) == sorted([drifted["id"], other["id"]])
    assert predicted["summary"]["updated"] == [] and len(predicted["summary"]["unchanged"]) == 2
    assert predicted["diff"]["before"]["volumes"] == {drifted["id"]: {"snapshot_retention": 3},
                                                      other["id"]: {"auto_backup_enabled": False}}
    assert predicted["diff"]["after"]["volumes"] == {drifted["id"]: {"snapshot_retention": 14},
                                                     other["id"]: {"auto_backup_enabled": True}}

    seq = fly.last_seq()
    fixed = call_module("fly_machine", group_args(fly, app), diff=True)
    assert fixed.changed and sorted(fixed["summary"]["volumes_updated"]) == sorted([drifted["id"], other["id"]])
    writes = fly.writes_since(seq)
    # Only the two volumes: no machine was touched.
    assert sorted((e["method"], e["path"].rsplit("/", 1)[1]) for e in writes) == sorted(
        [("PUT", drifted["id"]), ("PUT", other["id"])])
    volumes = fly.api("GET", "/apps/%s/volumes" % app).json()
    assert {(v["snapshot_retention"], v["auto_backup_enabled"]) for v in volumes} == {(14, True)}

    seq = fly.last_seq()
    assert not call_module("fly_machine", group_args(fly, app)).changed
    assert fly.writes_since(seq) == []

    # Settings not given are left alone; a retention outside 1-60 fails before any request.
    untouched = dict(VOLUME)
    del untouched["snapshot_retention"], untouched["auto_backup_enabled"]
    fly.api("PUT", "/apps/%s/volumes/%s" % (app, drifted["id"]), json={"snapshot_retention": 30})
    seq = fly.last_seq()
    assert not call_module("fly_machine", group_args(fly, app, volume=untouched)).changed
    refused = call_module("fly_machine", group_args(fly, app, volume=dict(VOLUME, snapshot_retention=61)))
    assert refused.failed and refused["msg"] == "volume.snapshot_retention: 61 is out of range; accepted: 1 to 60 days"
    assert fly.writes_since(seq) == []


def test_a_new_member_volume_gets_the_snapshot_settings_and_a_free_one_is_retuned(fly, app):
    call_module("fly_machine", group_args(fly, app, count=1))
    # A free volume of the group's name, as a destroyed machine leaves behind, with other settings.
    free = fly.api("POST", "/apps/%s/volumes" % app,
                   json={"name": "weaviate_data", "region": "iad", "size_gb": 2, "snapshot_retention": 5,
                         "auto_backup_enabled": False}).json()
    outsider = make_volume(fly, app, name="scratch")

    grown = call_module("fly_machine", group_args(fly, app, count=2))
    assert grown.changed and grown["summary"]["volumes_updated"] == [free["id"]]
    volumes = dict((v["id"], v) for v in fly.api("GET", "/apps/%s/volumes" % app).json())
    assert volumes[free["id"]]["attached_machine_id"]  # taken by the new machine
    assert volumes[outsider["id"]]["snapshot_retention"] == 5  # not the group's
    assert {(v["snapshot_retention"], v["auto_backup_enabled"]) for i, v in volumes.items()
            if i != outsider["id"]} == {(14, True)}
