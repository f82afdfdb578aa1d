"""Machine leases: the nonce every change needs, expiry, refresh; 201 on create."""

from __future__ import annotations

import json
import time

import pytest

from tests.emulators.fly.helpers import IMAGE, machine_path, make_machine, ok
from tests.support.openapi_contract import ContractChecker


@pytest.mark.fault("a second lease, an update and a release without the holder's nonce",
                   checks="409 each; the holder's nonce works")
def test_a_leased_machine_only_takes_changes_with_the_nonce(fly, app):
    machine = make_machine(fly, app)
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    lease = ok(fly.api("POST", base + "/lease", json={"ttl": 30, "description": "deploy"}), 201)
    assert lease["status"] == "success"
    nonce = lease["data"]["nonce"]
    assert ok(fly.api("GET", base + "/lease"))["data"]["nonce"] == nonce

    assert fly.api("POST", base + "/lease", json={"ttl": 30}).status_code == 409
    assert fly.api("POST", base, json={"config": {"image": IMAGE}}).status_code == 409
    ok(fly.api("POST", base, json={"config": {"image": IMAGE}}, headers={"fly-machine-lease-nonce": nonce}))

    assert fly.api("DELETE", base + "/lease", headers={"fly-machine-lease-nonce": "wrong"}).status_code == 409
    ok(fly.api("DELETE", base + "/lease", headers={"fly-machine-lease-nonce": nonce}))
    assert fly.api("GET", base + "/lease").status_code == 404


@pytest.mark.fault("a change to a machine whose 1 s lease is held", checks="409 until the lease expires")
def test_a_lease_expires_after_its_ttl(fly, app):
    machine = make_machine(fly, app, lease_ttl=1)
    assert machine["nonce"]
    base = "/apps/%s/machines/%s" % (app, machine["id"])
    assert fly.api("POST", base + "/cordon").status_code == 409
    time.sleep(2.1)
    ok(fly.api("POST", base + "/cordon"))


def test_the_holder_refreshes_a_lease_and_its_ttl_is_capped(fly, app):
    fly.settings(lease_ttl_max=60)
    machine = make_machine(fly, app)
    base = machine_path(app, machine) + "/lease"
    assert fly.api("GET", base).status_code == 404
    first = ok(fly.api("POST", base, json={"ttl": 30}), 201)["data"]
    again = ok(fly.api("POST", base, json={"ttl": 3600}, headers={"fly-machine-lease-nonce": first["nonce"]}),
               201)["data"]
    assert again["nonce"] == first["nonce"] and again["version"] == machine["instance_id"]
    assert again["expires_at"] <= time.time() + 61


def test_the_contract_check_holds_lease_creation_to_201():
    checker = ContractChecker("fly")
    if not checker.available:
        pytest.skip("the Fly OpenAPI document is not beside the repository")
    lease = {"status": "success",
             "data": {"nonce": "abc", "expires_at": 1, "owner": "o", "description": "", "version": "v"}}
    created = {"method": "POST", "path": "/v1/apps/x/machines/m/lease", "query": "", "status": 201,
               "content_type": "application/json", "body": json.dumps(lease)}
    assert checker.problems(created) == []
    assert checker.problems(dict(created, method="GET", status=200)) == []
    assert checker.problems(dict(created, status=200)), "a lease created with 200 must break the contract"
