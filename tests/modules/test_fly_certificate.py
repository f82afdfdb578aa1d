"""sophia.ops.fly_certificate through the ansible CLI against the emulator."""

from __future__ import annotations

from tests.support.modules import call_module

HOST = "api.sophia-intel.example"


def test_lifecycle(fly, app):
    args = fly.module_args(app=app, hostname=HOST)

    seq = fly.last_seq()
    assert call_module("fly_certificate", args, check=True).changed
    assert fly.writes_since(seq) == []

    requested = call_module("fly_certificate", args, diff=True)
    assert requested.changed and requested["diff"]["after"] == {"hostname": HOST}
    assert requested["fly_certificate"]["dns_requirements"]["cname"] == app + ".fly.dev"

    waited = call_module("fly_certificate", dict(args, wait=True, wait_timeout=30))
    assert not waited.changed
    assert waited["fly_certificate"]["status"] == "active"

    seq = fly.last_seq()
    assert not call_module("fly_certificate", args).changed
    assert fly.writes_since(seq) == []

    seq = fly.last_seq()
    predicted = call_module("fly_certificate", dict(args, state="absent"), check=True, diff=True)
    assert predicted.changed and predicted["diff"]["before"]["hostname"] == HOST
    assert fly.writes_since(seq) == []

    assert call_module("fly_certificate", dict(args, state="absent")).changed
    assert fly.api("GET", "/apps/%s/certificates/%s" % (app, HOST)).status_code == 404
    assert not call_module("fly_certificate", dict(args, state="absent")).changed


def test_waiting_gives_up_at_the_timeout(fly, app):
    fly.settings(transition_seconds=30)  # DNS that never gets right within the wait
    failed = call_module("fly_certificate", fly.module_args(app=app, hostname=HOST, wait=True, wait_timeout=2))
    assert failed.failed and "pending_validation" in failed["msg"]
    # The request went out before the wait gave up: the failure says so, and shows the DNS to set.
    assert failed.changed and failed["fly_certificate"]["dns_requirements"]["cname"] == app + ".fly.dev"
