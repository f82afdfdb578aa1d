"""Every write of the Fly modules is safe to retry after a lost answer.

The emulator commits the write and answers 408 instead, as a gateway does when
the answer is lost on the way back. The task must still succeed, say changed,
leave exactly one of what it made (a second volume, or a second, billed, IP
address, is the bug this guards against), and a second run must find nothing
to do.
"""

from __future__ import annotations

import pytest

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import secret_digest
from tests.support.modules import call_module

NEW_APP = "lost-answer-app"
HOST = "lost.sophia-intel.example"
API_KEY = "lost-answer-api-key-value"


def volumes(fly, app):
    return fly.api("GET", "/apps/%s/volumes" % app).json()


def ips(fly, app):
    return fly.api("GET", "/apps/%s/ip_assignments" % app).json()["ips"]


def digests(fly, app):
    return dict((s["name"], s["digest"]) for s in fly.api("GET", "/apps/%s/secrets" % app).json()["secrets"])


def make_volume(fly, app, size_gb=1):
    return fly.api("POST", "/apps/%s/volumes" % app, json={"name": "data", "region": "iad", "size_gb": size_gb})


# Each case: the module, its arguments, what exists before, the write whose answer is lost
# (method, path regex) and what must exist after.
CASES = {
    "app create": dict(
        module="fly_app", args={"name": NEW_APP},
        fault=("POST", r"^/v1/apps$"),
        check=lambda fly, app: fly.api("GET", "/apps/" + NEW_APP).status_code == 200),
    "app delete": dict(
        module="fly_app", args={"name": NEW_APP, "state": "absent"},
        setup=lambda fly, app: fly.api("POST", "/apps", json={"app_name": NEW_APP, "org_slug": "personal"}),
        fault=("DELETE", r"^/v1/apps/%s$" % NEW_APP),
        check=lambda fly, app: fly.api("GET", "/apps/" + NEW_APP).status_code == 404),
    "secret set": dict(
        module="fly_secret", args={"secrets": {"API_KEY": API_KEY}},
        fault=("POST", r"/secrets$"),
        check=lambda fly, app: digests(fly, app) == {"API_KEY": secret_digest(API_KEY)}),
    "secret unset": dict(
        module="fly_secret", args={"names": ["OLD_KEY"], "state": "absent"},
        setup=lambda fly, app: fly.api("POST", "/apps/%s/secrets" % app,
                                       json={"values": {"OLD_KEY": "old-value", "API_KEY": API_KEY}}),
        fault=("POST", r"/secrets$"),
        check=lambda fly, app: digests(fly, app) == {"API_KEY": secret_digest(API_KEY)}),
    "volume create": dict(
        module="fly_volume", args={"name": "data", "region": "iad", "size_gb": 2},
        fault=("POST", r"/volumes$"),
        check=lambda fly, app: [(v["name"], v["size_gb"]) for v in volumes(fly, app)] == [("data", 2)]),
    "volume extend": dict(
        module="fly_volume", args={"name": "data", "region": "iad", "size_gb": 3},
        setup=lambda fly, app: make_volume(fly, app, size_gb=1),
        fault=("PUT", r"/volumes/[^/]+/extend$"),
        check=lambda fly, app: [v["size_gb"] for v in volumes(fly, app)] == [3]),
    "volume settings": dict(
        module="fly_volume", args={"name": "data", "region": "iad", "snapshot_retention": 14},
        setup=make_volume,
        fault=("PUT", r"/volumes/[^/]+$"),
        check=lambda fly, app: [v["snapshot_retention"] for v in volumes(fly, app)] == [14]),
    "volume delete": dict(
        module="fly_volume", args={"name": "data", "region": "iad", "state": "absent", "confirm_delete": True},
        setup=make_volume,
        fault=("DELETE", r"/volumes/[^/]+$"),
        check=lambda fly, app: volumes(fly, app) == []),
    "ip assign": dict(
        module="fly_ip", args={"type": "v6", "region": "iad"},
        fault=("POST", r"/ip_assignments$"),
        check=lambda fly, app: [ip["region"] for ip in ips(fly, app)] == ["iad"]),
    "ip kinds at once": dict(
        module="fly_ip", args={"types": ["private_v6", "v6"], "exclusive": True},
        setup=lambda fly, app: fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "shared_v4"}),
        fault=("POST", r"/ip_assignments$"),
        check=lambda fly, app: sorted(ip["ip"].startswith("fdaa:") for ip in ips(fly, app)) == [False, True]
        and not any(ip.get("shared") for ip in ips(fly, app))),
    "ip release": dict(
        module="fly_ip", args={"type": "v6", "state": "absent"},
        setup=lambda fly, app: fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "v6"}),
        fault=("DELETE", r"/ip_assignments/"),
        check=lambda fly, app: ips(fly, app) == []),
    "certificate request": dict(
        module="fly_certificate", args={"hostname": HOST},
        fault=("POST", r"/certificates/acme$"),
        check=lambda fly, app: [c["hostname"] for c in
                                fly.api("GET", "/apps/%s/certificates" % app).json()["certificates"]] == [HOST]),
    "certificate delete": dict(
        module="fly_certificate", args={"hostname": HOST, "state": "absent"},
        setup=lambda fly, app: fly.api("POST", "/apps/%s/certificates/acme" % app, json={"hostname": HOST}),
        fault=("DELETE", r"/certificates/"),
        check=lambda fly, app: fly.api("GET", "/apps/%s/certificates/%s" % (app, HOST)).status_code == 404),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.fault("answer lost (committed, then 408) on each write of the app, secret, volume, IP, cert modules",
                   checks="task succeeds with changed; exactly one of what it made; a rerun changes and writes nothing")
def test_a_lost_answer_is_found_not_repeated(fly, app, case):
    spec = CASES[case]
    if "setup" in spec:
        made = spec["setup"](fly, app)
        assert made.ok, made.text
    args = dict(spec["args"]) if spec["module"] == "fly_app" else dict(spec["args"], app=app)
    method, path_regex = spec["fault"]
    fly.add_fault(lose_response=True, count=1, method=method, path_regex=path_regex)

    seq = fly.last_seq()
    result = call_module(spec["module"], fly.module_args(**args))
    assert not result.failed, result.get("msg")
    assert result.changed
    lost = [e for e in fly.requests_since(seq) if e["status"] == 408]
    assert [e["method"] for e in lost] == [method], "the fault did not hit the write"
    assert spec["check"](fly, app)

    seq = fly.last_seq()
    again = call_module(spec["module"], fly.module_args(**args))
    assert not again.failed and not again.changed
    assert fly.writes_since(seq) == []
    assert spec["check"](fly, app)


@pytest.mark.fault("volume extend answer lost, then 500 on every read of the volume",
                   checks="task fails with changed=true, naming the volume and the API status; the extend landed")
def test_changed_is_true_when_the_task_fails_after_a_write(fly, app):
    """The extend went through, but its answer was lost and looking for it failed too: the task
    fails, and still says that something may have changed (it did)."""
    volume = make_volume(fly, app, size_gb=1).json()
    fly.add_fault(lose_response=True, count=1, method="PUT", path_regex=r"/extend$")
    # Only the lookups of the one volume fail: the listing before the write still answers.
    fly.add_fault(status=500, count=50, method="GET", path_regex=r"/volumes/[^/]+$")

    failed = call_module("fly_volume", fly.module_args(app=app, name="data", region="iad", size_gb=3,
                                                       max_retries=2))
    assert failed.failed and failed.changed
    # The error names the request that failed (the read-back of the volume) and its status.
    assert "GET /apps/%s/volumes/%s: HTTP 500" % (app, volume["id"]) in failed["msg"]
    assert failed["api_error"]["status"] == 500

    fly.clear_faults()
    assert [v["size_gb"] for v in volumes(fly, app)] == [3]
