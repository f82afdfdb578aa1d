"""sophia.ops.fly_app through the ansible CLI against the emulator."""

from __future__ import annotations

from tests.support.modules import call_module

NAME = "fly-app-module-test"


def test_lifecycle(fly):
    args = fly.module_args(name=NAME, org_slug="sophia-intel")

    seq = fly.last_seq()
    predicted = call_module("fly_app", args, check=True)
    assert predicted.changed and fly.writes_since(seq) == []
    assert fly.api("GET", "/apps/" + NAME).status_code == 404

    created = call_module("fly_app", args, diff=True)
    assert created.changed
    assert created["fly_app"]["name"] == NAME
    assert created["diff"] == {"before": {}, "after": {"name": NAME, "org_slug": "sophia-intel", "network": None}}

    seq = fly.last_seq()
    again = call_module("fly_app", args)
    assert not again.changed and fly.writes_since(seq) == []

    elsewhere = call_module("fly_app", dict(args, org_slug="personal"))
    assert elsewhere.failed and "sophia-intel" in elsewhere["msg"]

    seq = fly.last_seq()
    predicted = call_module("fly_app", dict(args, state="absent"), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"] == {}
    assert fly.writes_since(seq) == []

    removed = call_module("fly_app", dict(args, state="absent"))
    assert removed.changed
    assert fly.api("GET", "/apps/" + NAME).status_code == 404

    seq = fly.last_seq()
    assert not call_module("fly_app", dict(args, state="absent")).changed
    assert fly.writes_since(seq) == []


def test_an_app_with_machines_is_only_deleted_with_force(fly):
    call_module("fly_app", fly.module_args(name=NAME))
    fly.api("POST", "/apps/%s/machines" % NAME, json={"config": {"image": "nginx:1.27"}})

    refused = call_module("fly_app", fly.module_args(name=NAME, state="absent"))
    assert refused.failed and refused["api_error"]["status"] == 412
    assert call_module("fly_app", fly.module_args(name=NAME, state="absent", force=True)).changed


def test_api_errors_carry_the_request_id(fly):
    fly.add_fault(status=500, count=20, method="GET", path_regex="/apps/" + NAME)
    failed = call_module("fly_app", fly.module_args(name=NAME, max_retries=1))
    assert failed.failed
    assert failed["api_error"]["status"] == 500
    request_ids = [e["request_id"] for e in fly.requests_since(0) if e["status"] == 500]
    assert failed["api_error"]["request_id"] == request_ids[-1]
