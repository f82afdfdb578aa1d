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


def kinds(fly, app):
    return sorted("shared_v4" if ip.get("shared") else "v4" if "." in ip["ip"]
                  else "private_v6" if ip["ip"].startswith("fdaa:") else "v6" for ip in listed(fly, app))


def test_the_kinds_an_app_keeps_in_one_call(fly, app):
    internal = fly.module_args(app=app, types=["private_v6"], exclusive=True)
    public = fly.module_args(app=app, types=["private_v6", "v6", "shared_v4"], exclusive=True)
    call_module("fly_ip", internal)

    # Made public: check mode predicts the two new kinds and writes nothing.
    seq = fly.last_seq()
    predicted = call_module("fly_ip", public, check=True, diff=True)
    assert predicted.changed and [a["type"] for a in predicted["fly_ip"]["assigned"]] == ["v6", "shared_v4"]
    assert predicted["diff"] == {"before": {"types": ["private_v6"]},
                                 "after": {"types": ["private_v6", "shared_v4", "v6"]}}
    assert fly.writes_since(seq) == []
    made = call_module("fly_ip", public)
    assert made.changed and made["fly_ip"]["released"] == [] and kinds(fly, app) == ["private_v6", "shared_v4", "v6"]
    seq = fly.last_seq()
    assert not call_module("fly_ip", public).changed
    assert fly.writes_since(seq) == []

    # Internal again: the public addresses are released, the private one kept, in one call.
    seq = fly.last_seq()
    back = call_module("fly_ip", internal, diff=True)
    assert back.changed and sorted(a["type"] for a in back["fly_ip"]["released"]) == ["shared_v4", "v6"]
    assert [w["method"] for w in fly.writes_since(seq)] == ["DELETE", "DELETE"]
    assert kinds(fly, app) == ["private_v6"] and not call_module("fly_ip", internal).changed


def test_kinds_without_exclusive_leave_the_others(fly, app):
    call_module("fly_ip", fly.module_args(app=app, type="v4"))
    made = call_module("fly_ip", fly.module_args(app=app, types=["v6", "private_v6"]))
    assert made.changed and kinds(fly, app) == ["private_v6", "v4", "v6"]
    released = call_module("fly_ip", fly.module_args(app=app, types=["v6", "v4"], state="absent"))
    assert sorted(a["type"] for a in released["fly_ip"]["released"]) == ["v4", "v6"]
    assert kinds(fly, app) == ["private_v6"]


@pytest.mark.parametrize("args, option", [
    ({"type": "v6", "types": ["v4"]}, "type"),
    ({"type": "v6", "exclusive": True}, "exclusive"),
    ({"types": ["v6"], "exclusive": True, "state": "absent"}, "exclusive"),
])
def test_conflicting_options_fail_before_any_request(fly, app, args, option):
    seq = fly.last_seq()
    result = call_module("fly_ip", fly.module_args(app=app, **args))
    assert result.failed and option in result["msg"]
    assert fly.writes_since(seq) == []
