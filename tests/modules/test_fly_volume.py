"""sophia.ops.fly_volume through the ansible CLI against the emulator."""

from __future__ import annotations

from tests.support.modules import call_module


def test_lifecycle(fly, app):
    args = fly.module_args(app=app, name="weaviate_data", region="iad", size_gb=2)

    seq = fly.last_seq()
    predicted = call_module("fly_volume", args, check=True)
    assert predicted.changed and fly.writes_since(seq) == []

    created = call_module("fly_volume", args)
    assert created.changed
    volume = created["fly_volume"]
    assert (volume["name"], volume["region"], volume["size_gb"]) == ("weaviate_data", "iad", 2)

    seq = fly.last_seq()
    assert not call_module("fly_volume", args).changed
    assert fly.writes_since(seq) == []

    bigger = dict(args, size_gb=5, snapshot_retention=14)
    seq = fly.last_seq()
    predicted = call_module("fly_volume", bigger, check=True, diff=True)
    assert predicted.changed and fly.writes_since(seq) == []
    assert predicted["diff"]["before"]["size_gb"] == 2 and predicted["diff"]["after"]["size_gb"] == 5
    assert predicted["diff"]["after"]["snapshot_retention"] == 14

    grown = call_module("fly_volume", bigger, diff=True)
    assert grown.changed and grown["fly_volume"]["size_gb"] == 5
    shown = fly.api("GET", "/apps/%s/volumes/%s" % (app, volume["id"])).json()
    assert (shown["size_gb"], shown["snapshot_retention"]) == (5, 14)
    assert not call_module("fly_volume", bigger).changed

    gone = dict(args, state="absent", confirm_delete=True)
    seq = fly.last_seq()
    assert call_module("fly_volume", gone, check=True).changed
    assert fly.writes_since(seq) == []
    assert call_module("fly_volume", gone).changed
    assert fly.api("GET", "/apps/%s/volumes/%s" % (app, volume["id"])).status_code == 404
    seq = fly.last_seq()
    assert not call_module("fly_volume", gone).changed
    assert fly.writes_since(seq) == []


def test_a_volume_never_shrinks(fly, app):
    args = fly.module_args(app=app, name="data", region="iad", size_gb=3)
    call_module("fly_volume", args)
    seq = fly.last_seq()
    refused = call_module("fly_volume", dict(args, size_gb=1))
    assert refused.failed and "never shrink" in refused["msg"]
    assert fly.writes_since(seq) == []


def test_deleting_needs_confirmation_and_a_free_volume(fly, app):
    created = call_module("fly_volume", fly.module_args(app=app, name="data", region="iad"))["fly_volume"]
    unconfirmed = call_module("fly_volume", fly.module_args(app=app, volume_id=created["id"], state="absent"))
    assert unconfirmed.failed and "confirm_delete" in unconfirmed["msg"]

    fly.api("POST", "/apps/%s/machines" % app,
            json={"region": "iad", "config": {"image": "nginx:1.27",
                                              "mounts": [{"volume": created["id"], "path": "/data"}]}})
    seq = fly.last_seq()
    attached = call_module("fly_volume", fly.module_args(app=app, volume_id=created["id"], state="absent",
                                                         confirm_delete=True))
    assert attached.failed and "mounted by machine" in attached["msg"]
    assert fly.writes_since(seq) == []


def test_same_name_in_two_regions_needs_a_region_or_id(fly, app):
    in_iad = call_module("fly_volume", fly.module_args(app=app, name="data", region="iad"))["fly_volume"]
    call_module("fly_volume", fly.module_args(app=app, name="data", region="ord"))
    ambiguous = call_module("fly_volume", fly.module_args(app=app, name="data", size_gb=4))
    assert ambiguous.failed and "volume_id" in ambiguous["msg"]
    moved = call_module("fly_volume", fly.module_args(app=app, volume_id=in_iad["id"], region="ord"))
    assert moved.failed and "cannot move" in moved["msg"]


def test_an_unknown_volume_id_never_creates_a_volume(fly, app):
    seq = fly.last_seq()
    missing = call_module("fly_volume", fly.module_args(app=app, volume_id="vol_doesnotexist0000", name="data",
                                                        region="iad"))
    assert missing.failed and "does not exist" in missing["msg"]
    assert fly.writes_since(seq) == []


def test_same_name_in_one_region_picks_the_oldest_free_volume(fly, app):
    first, second = [fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad"}).json()
                     for dummy in range(2)]
    fly.api("POST", "/apps/%s/machines" % app,
            json={"region": "iad", "config": {"image": "nginx:1.27",
                                              "mounts": [{"volume": first["id"], "path": "/data"}]}})
    args = fly.module_args(app=app, name="data", region="iad")

    seq = fly.last_seq()
    found = call_module("fly_volume", args)
    assert not found.changed and found["fly_volume"]["id"] == second["id"]  # the free one, though younger
    assert fly.writes_since(seq) == []

    ambiguous = call_module("fly_volume", dict(args, state="absent", confirm_delete=True))
    assert ambiguous.failed and "volume_id" in ambiguous["msg"]
    assert fly.writes_since(seq) == []
