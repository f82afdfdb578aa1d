"""The Lambda Cloud emulator's firewall: the account's inbound rules, the global ruleset
(the same rules, seen as a ruleset) and regional rulesets, which instances take at launch."""

from __future__ import annotations

import pytest

from tests.emulators.lambda_cloud.helpers import PING_RULE, SSH_RULE, add_key, failed, launch, launched, ok, wait_gone

RULES = [SSH_RULE, PING_RULE]


@pytest.fixture
def key(lambda_api):
    return add_key(lambda_api)


def create(lam, name="gpu", region="us-east-1", rules=None):
    return ok(lam.api("POST", "/firewall-rulesets", json={"name": name, "region": region,
                                                          "rules": RULES if rules is None else rules}))


def test_firewall_rules_replace_the_whole_list(lambda_api):
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": RULES})) == RULES
    assert ok(lambda_api.api("GET", "/firewall-rules")) == RULES
    failed(lambda_api.api("PUT", "/firewall-rules", json={"data": [dict(SSH_RULE, port_range=[0, 99999])]}),
           400, "global/invalid-parameters")
    assert ok(lambda_api.api("GET", "/firewall-rules")) == RULES
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": RULES[:1]})) == RULES[:1]
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": []})) == []


def test_rules_keep_only_documented_fields(lambda_api):
    sent = [dict(SSH_RULE, comment="not documented", port_range=[22.0, 22])]
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": sent})) == [SSH_RULE]


@pytest.mark.fault("firewall rules with a bad CIDR (999.0.0.0/0, /33, IPv6, a netmask, words), bad port ranges, "
                   "an unknown protocol, a long description, fields of the wrong type",
                   checks="400 global/invalid-parameters naming the field; the rules in place unchanged")
@pytest.mark.parametrize("changes, field", [
    ({"source_network": "999.0.0.0/0"}, "source_network"),
    ({"source_network": "10.0.0.0/33"}, "source_network"),
    ({"source_network": "1.2.3"}, "source_network"),
    ({"source_network": "::/0"}, "source_network"),
    ({"source_network": "10.0.0.0/255.0.0.0"}, "source_network"),
    ({"source_network": "anywhere"}, "source_network"),
    ({"source_network": ["0.0.0.0/0"]}, "source_network"),
    ({"port_range": [0, 22]}, "port_range"),
    ({"port_range": [22, 65536]}, "port_range"),
    ({"port_range": [30, 20]}, "port_range"),
    ({"port_range": [22]}, "port_range"),
    ({"port_range": "22"}, "port_range"),
    ({"port_range": [22.5, 23]}, "port_range"),
    ({"port_range": None}, "port_range"),
    ({"protocol": "sctp"}, "protocol"),
    ({"protocol": "all", "port_range": None}, "port_range"),
    ({"description": "d" * 129}, "description"),
    ({"description": None}, "description"),
])
def test_bad_rules_are_refused(lambda_api, changes, field):
    ok(lambda_api.api("PUT", "/firewall-rules", json={"data": RULES}))
    rule = {k: v for k, v in dict(SSH_RULE, **changes).items() if v is not None}  # None: the field left out
    error = failed(lambda_api.api("PUT", "/firewall-rules", json={"data": [PING_RULE, rule]}),
                   400, "global/invalid-parameters")
    assert field in error["message"]
    assert ok(lambda_api.api("GET", "/firewall-rules")) == RULES


@pytest.mark.parametrize("rule", [
    dict(SSH_RULE, source_network="203.0.113.7"),
    dict(SSH_RULE, source_network="10.1.2.3/8"),
    dict(SSH_RULE, protocol="all", port_range=[1, 65535]),
    dict(SSH_RULE, protocol="udp", port_range=[53, 53], description=""),
])
def test_good_rules_are_kept_as_given(lambda_api, rule):
    assert ok(lambda_api.api("PUT", "/firewall-rules", json={"data": [rule]})) == [rule]


def test_icmp_rules_take_no_port_range(lambda_api):
    failed(lambda_api.api("PUT", "/firewall-rules", json={"data": [dict(PING_RULE, port_range=[1, 1])]}),
           400, "global/invalid-parameters")


def test_the_global_ruleset_is_the_account_rules(lambda_api):
    assert ok(lambda_api.api("GET", "/firewall-rulesets/global")) == {"id": "global", "name": "Global", "rules": []}
    ok(lambda_api.api("PUT", "/firewall-rules", json={"data": RULES}))
    assert ok(lambda_api.api("GET", "/firewall-rulesets/global"))["rules"] == RULES
    patched = ok(lambda_api.api("PATCH", "/firewall-rulesets/global", json={"rules": [SSH_RULE]}))
    assert patched == {"id": "global", "name": "Global", "rules": [SSH_RULE]}
    assert ok(lambda_api.api("GET", "/firewall-rules")) == [SSH_RULE]
    # "If not provided, the rules will not be updated"; only the rules can be changed.
    assert ok(lambda_api.api("PATCH", "/firewall-rulesets/global", json={}))["rules"] == [SSH_RULE]
    assert ok(lambda_api.api("PATCH", "/firewall-rulesets/global", json={"name": "mine"}))["name"] == "Global"
    # The global ruleset is not one of the regional rulesets, and cannot be deleted.
    assert ok(lambda_api.api("GET", "/firewall-rulesets")) == []
    failed(lambda_api.api("DELETE", "/firewall-rulesets/global"), 404, "global/object-does-not-exist")


@pytest.mark.fault("global ruleset updates with no body, rules not a list, a bad CIDR in a rule",
                   checks="400 global/invalid-parameters; the global rules unchanged")
@pytest.mark.parametrize("body", [None, {"rules": {}}, {"rules": [dict(SSH_RULE, source_network="999.0.0.0/0")]},
                                  {"rules": [SSH_RULE, "icmp"]}, [SSH_RULE]])
def test_global_ruleset_refusals(lambda_api, body):
    ok(lambda_api.api("PUT", "/firewall-rules", json={"data": RULES}))
    kwargs = {} if body is None else {"json": body}
    failed(lambda_api.api("PATCH", "/firewall-rulesets/global", **kwargs), 400, "global/invalid-parameters")
    assert ok(lambda_api.api("GET", "/firewall-rulesets/global"))["rules"] == RULES


def test_rulesets_are_created_read_and_listed(lambda_api):
    ruleset = create(lambda_api)
    assert ruleset["name"] == "gpu" and ruleset["region"] == {"name": "us-east-1", "description": "Virginia, USA"}
    assert ruleset["rules"] == RULES and ruleset["instance_ids"] == []
    assert ok(lambda_api.api("GET", "/firewall-rulesets/" + ruleset["id"])) == ruleset
    assert ok(lambda_api.api("GET", "/firewall-rulesets")) == [ruleset]
    failed(lambda_api.api("POST", "/firewall-rulesets", json={"name": "gpu", "region": "us-east-1", "rules": []}),
           409, "global/internal-error")


@pytest.mark.fault("rulesets with a name that is a list, empty or too long, an unknown region, rules not a list, "
                   "a bad CIDR",
                   checks="400 global/invalid-parameters; no ruleset stored")
@pytest.mark.parametrize("body", [
    {"name": ["gpu"], "region": "us-east-1", "rules": RULES},
    {"name": "", "region": "us-east-1", "rules": RULES},
    {"name": "n" * 65, "region": "us-east-1", "rules": RULES},
    {"name": "gpu", "region": "mars-1", "rules": RULES},
    {"name": "gpu", "region": {"name": "us-east-1"}, "rules": RULES},
    {"name": "gpu", "region": "us-east-1", "rules": SSH_RULE},
    {"name": "gpu", "region": "us-east-1"},
    {"name": "gpu", "region": "us-east-1", "rules": [dict(SSH_RULE, source_network="999.0.0.0/0")]},
])
def test_ruleset_refusals(lambda_api, body):
    failed(lambda_api.api("POST", "/firewall-rulesets", json=body), 400, "global/invalid-parameters")
    assert ok(lambda_api.api("GET", "/firewall-rulesets")) == []


def test_rulesets_are_updated_in_part(lambda_api):
    ruleset = create(lambda_api)
    path = "/firewall-rulesets/" + ruleset["id"]
    renamed = ok(lambda_api.api("PATCH", path, json={"name": "gpu-inbound"}))
    assert renamed["name"] == "gpu-inbound" and renamed["rules"] == RULES
    ruled = ok(lambda_api.api("PATCH", path, json={"rules": [SSH_RULE]}))
    assert ruled["name"] == "gpu-inbound" and ruled["rules"] == [SSH_RULE]
    both = ok(lambda_api.api("PATCH", path, json={"name": "gpu", "rules": []}))
    assert (both["name"], both["rules"]) == ("gpu", [])
    assert ok(lambda_api.api("PATCH", path, json={})) == both
    assert ok(lambda_api.api("GET", path)) == both
    assert both["created"] == ruleset["created"] and both["region"] == ruleset["region"]


@pytest.mark.fault("ruleset updates with no body, a name that is a list or taken, bad rules, an unknown or "
                   "non-hex id",
                   checks="the documented status and code (400 invalid-parameters, 409 internal-error, 404 "
                          "object-does-not-exist with its suggestion); the ruleset unchanged")
def test_ruleset_update_refusals(lambda_api):
    ruleset = create(lambda_api)
    create(lambda_api, name="taken")
    path = "/firewall-rulesets/" + ruleset["id"]
    failed(lambda_api.api("PATCH", path), 400, "global/invalid-parameters")
    failed(lambda_api.api("PATCH", path, json={"name": ["x"]}), 400, "global/invalid-parameters")
    failed(lambda_api.api("PATCH", path, json={"name": ""}), 400, "global/invalid-parameters")
    failed(lambda_api.api("PATCH", path, json={"rules": [dict(SSH_RULE, port_range=[30, 20])]}),
           400, "global/invalid-parameters")
    failed(lambda_api.api("PATCH", path, json={"name": "taken"}), 409, "global/internal-error")
    for missing in ("0" * 32, "not-hex"):
        error = failed(lambda_api.api("PATCH", "/firewall-rulesets/" + missing, json={"name": "x"}),
                       404, "global/object-does-not-exist")
        assert error["suggestion"] == "Check your firewall ruleset ID and try again."
        failed(lambda_api.api("GET", "/firewall-rulesets/" + missing), 404, "global/object-does-not-exist")
        failed(lambda_api.api("DELETE", "/firewall-rulesets/" + missing), 404, "global/object-does-not-exist")
    assert ok(lambda_api.api("GET", path)) == ruleset


def test_a_ruleset_given_at_launch_is_stored_as_sent_and_in_use(lambda_api, key):
    ruleset = create(lambda_api)
    spare = create(lambda_api, name="spare")
    # The document's request shape, which lambda_instance sends.
    instance_id = launched(lambda_api, firewall_rulesets=[{"id": ruleset["id"]}, {"id": ruleset["id"]}])
    assert ok(lambda_api.api("GET", "/instances/" + instance_id))["firewall_rulesets"] == [{"id": ruleset["id"]}]
    assert [i["firewall_rulesets"] for i in ok(lambda_api.api("GET", "/instances"))] == [[{"id": ruleset["id"]}]]
    assert ok(lambda_api.api("GET", "/firewall-rulesets/" + ruleset["id"]))["instance_ids"] == [instance_id]
    assert ok(lambda_api.api("GET", "/firewall-rulesets/" + spare["id"]))["instance_ids"] == []

    error = failed(lambda_api.api("DELETE", "/firewall-rulesets/" + ruleset["id"]),
                   400, "firewall-rulesets/firewall-ruleset-in-use")
    assert error["suggestion"]
    assert ok(lambda_api.api("DELETE", "/firewall-rulesets/" + spare["id"])) == {}

    ok(lambda_api.api("POST", "/instance-operations/terminate", json={"instance_ids": [instance_id]}))
    wait_gone(lambda_api, instance_id)
    assert ok(lambda_api.api("GET", "/firewall-rulesets/" + ruleset["id"]))["instance_ids"] == []
    assert ok(lambda_api.api("DELETE", "/firewall-rulesets/" + ruleset["id"])) == {}
    assert ok(lambda_api.api("GET", "/firewall-rulesets")) == []


@pytest.mark.fault("launches with a ruleset that does not exist, of another region, double-wrapped or as a bare id",
                   checks="404 object-does-not-exist with a suggestion or 400 invalid-parameters; no instance")
@pytest.mark.parametrize("entries, status, code", [
    (lambda r: [{"id": "0" * 32}], 404, "global/object-does-not-exist"),
    (lambda r: [{"id": r["west"]}], 400, "global/invalid-parameters"),
    (lambda r: [{"id": {"id": r["east"]}}], 400, "global/invalid-parameters"),
    (lambda r: [r["east"]], 400, "global/invalid-parameters"),
    (lambda r: {"id": r["east"]}, 400, "global/invalid-parameters"),
])
def test_launch_ruleset_refusals(lambda_api, key, entries, status, code):
    ids = {"east": create(lambda_api)["id"], "west": create(lambda_api, name="west", region="us-west-1")["id"]}
    failed(launch(lambda_api, firewall_rulesets=entries(ids)), status, code)
    assert ok(lambda_api.api("GET", "/instances")) == []
