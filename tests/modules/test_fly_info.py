"""The read-only sophia.ops.fly_*_info modules against the emulator."""

from __future__ import annotations

from tests.support.modules import call_module


def machine(fly, app, region, group):
    body = {"region": region, "config": {"image": "nginx:1.27", "metadata": {"fly_process_group": group}}}
    return fly.api("POST", "/apps/%s/machines" % app, json=body).json()


def test_app_info(fly, app):
    one = call_module("fly_app_info", fly.module_args(name=app))
    assert not one.changed and [a["name"] for a in one["apps"]] == [app]
    assert call_module("fly_app_info", fly.module_args(name="no-such-app"))["apps"] == []
    listed = call_module("fly_app_info", fly.module_args(org_slug="personal"))
    assert [a["name"] for a in listed["apps"]] == [app]


def test_machine_info_filters(fly, app):
    web = machine(fly, app, "iad", "app")
    worker = machine(fly, app, "ord", "worker")
    seq = fly.last_seq()

    everything = call_module("fly_machine_info", fly.module_args(app=app))
    by_group = call_module("fly_machine_info", fly.module_args(app=app, group="worker"))
    by_region = call_module("fly_machine_info", fly.module_args(app=app, region="iad"))
    by_id = call_module("fly_machine_info", fly.module_args(app=app, machine_id=web["id"]))
    by_name = call_module("fly_machine_info", fly.module_args(app=app, name=worker["name"]))

    assert sorted(m["id"] for m in everything["machines"]) == sorted([web["id"], worker["id"]])
    assert [m["id"] for m in by_group["machines"]] == [worker["id"]]
    assert [m["id"] for m in by_region["machines"]] == [web["id"]]
    assert [m["id"] for m in by_id["machines"]] == [web["id"]]
    assert [m["id"] for m in by_name["machines"]] == [worker["id"]]
    assert not any(r.changed for r in (everything, by_group, by_region, by_id, by_name))
    assert fly.writes_since(seq) == []


def test_volume_info_filters(fly, app):
    for region in ("iad", "ord"):
        fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": region})
    fly.api("POST", "/apps/%s/volumes" % app, json={"name": "logs", "region": "iad"})

    assert len(call_module("fly_volume_info", fly.module_args(app=app))["volumes"]) == 3
    named = call_module("fly_volume_info", fly.module_args(app=app, name="data", region="ord"))["volumes"]
    assert [(v["name"], v["region"]) for v in named] == [("data", "ord")]
    by_id = call_module("fly_volume_info", fly.module_args(app=app, volume_id=named[0]["id"]))["volumes"]
    assert [v["id"] for v in by_id] == [named[0]["id"]]


def test_secret_info_never_shows_values(fly, app):
    fly.api("POST", "/apps/%s/secrets" % app, json={"values": {"OPENAI_API_KEY": "sk-secret-value-123456"}})
    result = call_module("fly_secret_info", fly.module_args(app=app))
    assert [s["name"] for s in result["secrets"]] == ["OPENAI_API_KEY"]
    assert "sk-secret-value-123456" not in str(result)
