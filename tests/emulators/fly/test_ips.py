"""IP assignments."""

from __future__ import annotations

import pytest

from tests.emulators.fly.helpers import ok


@pytest.mark.fault("an IP of unknown type v5", checks="400; the assigned IPs unchanged")
def test_ip_assignments(fly, app):
    base = "/apps/%s/ip_assignments" % app
    shared = ok(fly.api("POST", base, json={"type": "shared_v4"}))
    v6 = ok(fly.api("POST", base, json={"type": "v6", "region": "iad"}))
    assert shared["shared"] is True and ":" in v6["ip"]
    assert fly.api("POST", base, json={"type": "v5"}).status_code == 400
    assert sorted(ip["ip"] for ip in ok(fly.api("GET", base))["ips"]) == sorted([shared["ip"], v6["ip"]])
    ok(fly.api("DELETE", base + "/" + v6["ip"]), 204)
    assert [ip["ip"] for ip in ok(fly.api("GET", base))["ips"]] == [shared["ip"]]
