"""sophia.ops.fly_ip through the ansible CLI against the emulator."""

from __future__ import annotations

import pytest

from tests.support.modules import call_module


def listed(fly, app):
    return fly.api("GET", "/apps/%s/ip_assignments" % app).json()["ips"]


def test_lifecycle(fly, app):
    args = fly.module_args(app=app, type="shared_v4")

    seq = fly.last_seq()
    assert call_module("fly_ip", args, check=True).changed
    assert fly.writes_since(seq) == []

    created = call_module("fly_ip", args, diff=True)
    assert created.changed
    [address] = created["fly_ip"]["addresses"]
    assert address["type"] == "shared_v4" and address["shared"] is True

    seq = fly.last_seq()
    assert not call_module("fly_ip", args).changed
    assert fly.writes_since(seq) == []

    seq = fly.last_seq()
    predicted = call_module("fly_ip", dict(args, state="absent"), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"] == {"addresses": [address["ip"]]}
    assert fly.writes_since(seq) == []

    assert call_module("fly_ip", dict(args, state="absent")).changed
    assert listed(fly, app) == []
    seq = fly.last_seq()
    assert not call_module("fly_ip", dict(args, state="absent")).changed
    assert fly.writes_since(seq) == []


@pytest.mark.parametrize("kind", ["v4", "v6", "private_v6"])
def test_each_type_is_told_apart(fly, app, kind):
    call_module("fly_ip", fly.module_args(app=app, type="shared_v4"))
    made = call_module("fly_ip", fly.module_args(app=app, type=kind, region="iad"))
    assert made.changed and made["fly_ip"]["addresses"][0]["type"] == kind
    assert not call_module("fly_ip", fly.module_args(app=app, type=kind, region="iad")).changed
    assert len(listed(fly, app)) == 2


def test_release_one_exact_address(fly, app):
    first = call_module("fly_ip", fly.module_args(app=app, type="v6", region="iad"))["fly_ip"]["addresses"][0]
    call_module("fly_ip", fly.module_args(app=app, type="v6", region="ord"))
    assert call_module("fly_ip", fly.module_args(app=app, address=first["ip"], state="absent")).changed
    assert [ip["region"] for ip in listed(fly, app)] == ["ord"]

    seq = fly.last_seq()
    unknown = call_module("fly_ip", fly.module_args(app=app, type="v6", address=first["ip"]))
    assert unknown.failed and "not an address" in unknown["msg"]
    assert fly.writes_since(seq) == []
