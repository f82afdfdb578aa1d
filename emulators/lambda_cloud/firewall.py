"""``/firewall-rules`` and ``/firewall-rulesets``. The account's inbound rules (``/firewall-rules``) are the
global ruleset's rules: both operations read and write the same list. A ruleset is in use while a live
instance was launched with it."""

from __future__ import annotations

import ipaddress
import re

from emulators.lambda_cloud import schemas
from emulators.lambda_cloud.catalog import REGIONS, region
from emulators.lambda_cloud.errors import does_not_exist, error, invalid
from emulators.lambda_cloud.state import ID, hex_id, iso, required_body, ruleset_ids

RULESET = r"/firewall-rulesets/" + ID.format("ruleset_id")
# "a public IPv4 address optionally followed by a slash (/) and an integer mask"
SOURCE_NETWORK = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
GLOBAL_RULESET_NAME = "Global"


def check_rule(where, rule):
    """One firewall rule the schema passed: what it cannot say, and only the documented fields kept."""
    protocol, ports = rule["protocol"], rule.get("port_range")
    if protocol == "icmp" and ports is not None:
        raise invalid("%s.port_range: icmp rules take no port range" % where)
    if protocol != "icmp" and ports is None:
        # Document: "Not allowed for the icmp protocol but required for the others."
        raise invalid("%s.port_range: a %s rule needs a port range [min, max]" % (where, protocol),
                      "List a single port twice, for example [22, 22].")
    if ports is not None and int(ports[0]) > int(ports[1]):
        raise invalid("%s.port_range: %d is above %d" % (where, ports[0], ports[1]), "Give the range as [min, max].")
    network = rule["source_network"]
    try:
        if not SOURCE_NETWORK.fullmatch(network):
            raise ValueError(network)
        ipaddress.IPv4Network(network, strict=False)
    except ValueError:
        raise invalid("%s.source_network: %r is not an IPv4 address or CIDR block" % (where, network),
                      "Use CIDR notation such as 203.0.113.0/24, a single address, or 0.0.0.0/0.") from None
    kept = {"protocol": protocol, "source_network": network, "description": rule["description"]}
    if ports is not None:
        kept["port_range"] = [int(ports[0]), int(ports[1])]
    return kept


def check_rules(where, rules):
    return [check_rule("%s[%d]" % (where, index), rule) for index, rule in enumerate(rules)]


# --- the account's rules: the global ruleset --------------------------------------------------------------
def global_rules(state):
    return state.store.get_meta("firewall_rules", [])


def render_global(state):
    return {"id": "global", "name": GLOBAL_RULESET_NAME, "rules": global_rules(state)}


def list_firewall_rules(state, request):
    return 200, {"data": global_rules(state)}


def set_firewall_rules(state, request):
    rules = check_rules("data", request.json()["data"])
    state.store.put_meta("firewall_rules", rules)
    return 200, {"data": rules}


def get_global_ruleset(state, request):
    return 200, {"data": render_global(state)}


def update_global_ruleset(state, request):
    body = required_body(request)
    if "rules" in body:
        state.store.put_meta("firewall_rules", check_rules("rules", body["rules"]))
    return 200, {"data": render_global(state)}


# --- rulesets of a region -----------------------------------------------------------------------------------
def render_ruleset(state, ruleset):
    users = [i["id"] for i in state.live() if ruleset["id"] in ruleset_ids(i)]
    return dict(ruleset, region=region(ruleset["region"]), instance_ids=users)


def ruleset_named(state, ruleset_id):
    found = state.store.get("ruleset", ruleset_id)
    if found is None:
        raise does_not_exist("Firewall ruleset does not exist or you do not have permission to access it.",
                             "Check your firewall ruleset ID and try again.")
    return found


def check_ruleset_name(name):
    if not name.strip():
        raise invalid("name: a firewall ruleset needs a name", "Give a name of 1 to 64 characters.")
    return name


def refuse_a_taken_name(state, name, other_than=None):
    if any(r["name"] == name and r["id"] != other_than for r in state.store.list("ruleset")):
        # The document types this conflict as the internal-error object.
        raise error(409, "global/internal-error", "A firewall ruleset named %s already exists." % name,
                    "Choose another name or update the existing ruleset.")


def list_rulesets(state, request):
    return 200, {"data": [render_ruleset(state, r) for r in state.store.list("ruleset")]}


def create_ruleset(state, request):
    body = request.json()
    name = check_ruleset_name(body["name"])
    if body["region"] not in REGIONS:
        raise invalid("region %s does not exist" % body["region"], "List the regions with GET /regions.")
    rules = check_rules("rules", body["rules"])
    refuse_a_taken_name(state, name)
    ruleset = {"id": hex_id(), "name": name, "region": body["region"], "rules": rules, "created": iso()}
    state.store.put("ruleset", ruleset["id"], ruleset)
    return 200, {"data": render_ruleset(state, ruleset)}


def get_ruleset(state, request, ruleset_id):
    return 200, {"data": render_ruleset(state, ruleset_named(state, ruleset_id))}


def update_ruleset(state, request, ruleset_id):
    body = required_body(request)
    ruleset = ruleset_named(state, ruleset_id)
    if "name" in body:
        ruleset["name"] = check_ruleset_name(body["name"])
        refuse_a_taken_name(state, ruleset["name"], other_than=ruleset_id)
    if "rules" in body:
        ruleset["rules"] = check_rules("rules", body["rules"])
    state.store.put("ruleset", ruleset_id, ruleset)
    return 200, {"data": render_ruleset(state, ruleset)}


def delete_ruleset(state, request, ruleset_id):
    ruleset = ruleset_named(state, ruleset_id)
    if render_ruleset(state, ruleset)["instance_ids"]:
        raise error(400, "firewall-rulesets/firewall-ruleset-in-use",
                    "Firewall ruleset is in use by one or more instances.",
                    "Terminate all instances that are using the ruleset before deleting it.")
    state.store.delete("ruleset", ruleset_id)
    return 200, {"data": {}}


ROUTES = [
    ("GET", r"/firewall-rules", list_firewall_rules, "firewall_rules", {}),
    ("PUT", r"/firewall-rules", set_firewall_rules, "set_firewall_rules", {"body": schemas.SET_FIREWALL_RULES}),
    ("GET", r"/firewall-rulesets", list_rulesets, "list_rulesets", {}),
    ("POST", r"/firewall-rulesets", create_ruleset, "create_ruleset", {"body": schemas.CREATE_RULESET}),
    # Before the {id} routes, which would take "global" as an id.
    ("GET", r"/firewall-rulesets/global", get_global_ruleset, "get_global_ruleset", {}),
    ("PATCH", r"/firewall-rulesets/global", update_global_ruleset, "update_global_ruleset",
     {"body": schemas.UPDATE_GLOBAL_RULESET}),
    ("GET", RULESET, get_ruleset, "get_ruleset", {}),
    ("PATCH", RULESET, update_ruleset, "update_ruleset", {"body": schemas.UPDATE_RULESET}),
    ("DELETE", RULESET, delete_ruleset, "delete_ruleset", {}),
]
