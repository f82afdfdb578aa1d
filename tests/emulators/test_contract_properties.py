"""Property-based contract test: requests generated from the official OpenAPI documents.

For every operation of ``../shared/specs/fly/openapi3.json`` and
``../shared/specs/lambda/openapi-1.10.0.json``:

- ``test_operation_is_implemented_or_left_out``: the emulator answers it, or
  docs/emulator-spec-deviations.md lists it as left out, with a reason. A listing is a line
  naming the operation as `` `METHOD /path` `` under a heading that says "left out", inside the
  provider's top-level ``#`` section (see ``left_out_operations``).
- ``test_answers_keep_the_contract``: hypothesis generates requests for each operation that is
  not left out, valid ones (from the document's request schema, and realistic seeds) and
  malformed ones (a value of the wrong type at any depth, an array for an object, a field left
  out, random JSON, bytes that are not JSON, no body, unknown ids, no or a wrong token). Path
  parameters mix the ids of resources the example's own set-up created with random strings, so
  both found and not-found paths are taken. Each example runs against a freshly reset emulator.
  Every answer must keep the contract: never a 5xx; a status the operation declares or a
  deviation in tests/support/openapi_contract.py covers; a body valid against the declared schema.

Examples per operation: ``SOPHIA_CONTRACT_EXAMPLES`` (default 20), derandomized so CI repeats the
same requests. A failure names the operation and the smallest request hypothesis found.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.openapi_contract import (ContractChecker, contract_opted_out, left_out_operations, missing_spec,
                                            operation_key, spec_path)
from tests.support.openapi_requests import (ABSENT, HEADER_TEXT, JSON_VALUES, NOT_JSON, PATH_TEXT, Real, deep_merge,
                                            load_operations, missing_field, query_text, resolve, schema_values,
                                            server_prefix, wrong_typed)

EXAMPLES = int(os.environ.get("SOPHIA_CONTRACT_EXAMPLES") or 20)
EMULATOR_FIXTURES = {"fly": "fly_emulator", "lambda_cloud": "lambda_emulator"}
# The set-up's requests and the generated one: long enough for a wait with timeout=1.
HTTP_TIMEOUT = 30

# --- the documents, read at collection ---------------------------------------------------------


def read_document(provider):
    path = spec_path(provider)
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


DOCUMENTS = {provider: read_document(provider) for provider in EMULATOR_FIXTURES}
OPERATIONS = {provider: load_operations(document) if document else [] for provider, document in DOCUMENTS.items()}


def operation_params(skip_left_out):
    params = []
    for provider, document in DOCUMENTS.items():
        if document is None:  # fails (or skips, when opted out) with where the document is expected
            params.append(pytest.param(provider, None, id="%s-document-missing" % provider))
            continue
        left_out = left_out_operations(provider)
        for operation in OPERATIONS[provider]:
            if skip_left_out and operation_key(operation.method, operation.path) in left_out:
                continue
            params.append(pytest.param(provider, operation, id="%s %s" % (provider, operation.key)))
    return params


def require_document(provider):
    problem = missing_spec(provider)
    if problem:
        if contract_opted_out():
            pytest.skip(problem)
        pytest.fail(problem)


# --- realistic values: what a client of the collection sends ------------------------------------

SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhVWz0RUrdHVcgcQ1wVPe0EeK3+fKc9Ua5dPMn0jzLc contract"
FIREWALL_RULE = {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "ssh"}
MACHINE_CONFIG = {"image": "nginx:1.27", "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}}

# Per operation ("METHOD /path" as in the document): bodies a real client would send.
BODY_SEEDS = {
    "fly": {
        "POST /apps": [{"app_name": "contract-new", "org_slug": "personal"},
                       {"name": "contract-new", "org_slug": "personal", "network": "contract-net"},
                       {"app_name": Real("app"), "org_slug": "personal"}],
        "POST /apps/{app_name}/machines": [
            {"region": "iad", "config": MACHINE_CONFIG},
            {"config": {"image": "nginx:1.27", "mounts": [{"volume": Real("free_volume"), "path": "/data"}]}},
            {"name": "worker", "region": "ams", "skip_launch": True, "lease_ttl": 30,
             "config": {"image": "registry.fly.io/contract:v2", "env": {"MODE": "worker"}, "metadata": {"role": "worker"},
                        "guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096},
                        "services": [{"protocol": "tcp", "internal_port": 8080,
                                      "ports": [{"port": 443, "handlers": ["tls", "http"]}]}],
                        "checks": {"http": {"type": "http", "port": 8080, "path": "/health", "interval": "10s",
                                            "timeout": "2s"}}}}],
        "POST /apps/{app_name}/machines/{machine_id}": [
            {"config": {"image": "nginx:1.28", "mounts": [{"volume": Real("volume"), "path": "/data"}]}},
            {"current_version": Real("machine_version"), "skip_launch": True, "config": MACHINE_CONFIG}],
        "POST /apps/{app_name}/machines/{machine_id}/stop": [{"signal": "SIGTERM", "timeout": "5s"}, {}],
        "POST /apps/{app_name}/machines/{machine_id}/lease": [{"ttl": 30, "description": "contract"}, {"ttl": 5}],
        "POST /apps/{app_name}/machines/{machine_id}/metadata/{key}": [{"value": "blue"}],
        "PUT /apps/{app_name}/machines/{machine_id}/metadata": [{"metadata": {"role": "api", "tier": "1"}}],
        "PATCH /apps/{app_name}/machines/{machine_id}/metadata": [{"metadata": {"tier": "2"}}],
        "POST /apps/{app_name}/machines/{machine_id}/signal": [{"signal": "SIGHUP"}],
        "POST /apps/{app_name}/volumes": [
            {"name": "cache", "region": "iad", "size_gb": 3},
            {"name": "restored", "region": "iad", "snapshot_id": Real("snapshot")},
            {"name": "big", "region": "ams", "size_gb": 500, "snapshot_retention": 10, "encrypted": False,
             "auto_backup_enabled": False}],
        "PUT /apps/{app_name}/volumes/{volume_id}": [{"snapshot_retention": 7, "auto_backup_enabled": False}],
        "PUT /apps/{app_name}/volumes/{volume_id}/extend": [{"size_gb": 10}, {"size_gb": 500}],
        "POST /apps/{app_name}/secrets": [{"values": {"NEW_SECRET": "value", "DATABASE_URL": None}}],
        "POST /apps/{app_name}/secrets/{secret_name}": [{"value": "s3cret"}],
        "POST /apps/{app_name}/ip_assignments": [
            {"type": "v4"}, {"type": "shared_v4"},
            {"type": "private_v6", "network": "contract-net", "region": "iad", "service_name": "web"}],
        "POST /apps/{app_name}/certificates/acme": [{"hostname": "api.contract.example"},
                                                    {"hostname": Real("hostname")}],
        "POST /platform/placements": [{"org_slug": "personal", "region": "iad", "count": 1}],
    },
    "lambda_cloud": {
        "POST /api/v1/instance-operations/launch": [
            {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": [Real("ssh_key_name")]},
            {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": [Real("ssh_key_name")],
             "name": "contract-two", "hostname": "node-2", "file_system_names": [Real("filesystem_name")],
             "file_system_mounts": [{"file_system_id": Real("filesystem"), "mount_point": "/data/shared"}],
             "firewall_rulesets": [{"id": Real("spare_ruleset")}], "tags": [{"key": "team", "value": "ml"}],
             "image": {"family": "lambda-stack-24-04"}, "user_data": "#cloud-config\n"}],
        "POST /api/v1/instance-operations/restart": [{"instance_ids": [Real("instance")]}],
        "POST /api/v1/instance-operations/terminate": [{"instance_ids": [Real("instance")]}],
        "POST /api/v1/instances/{id}": [{"name": "renamed"}],
        "POST /api/v1/ssh-keys": [{"name": "another-key", "public_key": SSH_PUBLIC_KEY}, {"name": "generated"},
                                  {"name": Real("ssh_key_name"), "public_key": SSH_PUBLIC_KEY}],
        "POST /api/v1/filesystems": [{"name": "second-fs", "region": "us-west-1"}],
        "PUT /api/v1/firewall-rules": [
            {"data": [FIREWALL_RULE, {"protocol": "icmp", "source_network": "10.0.0.0/8", "description": "ping"}]}],
        "POST /api/v1/firewall-rulesets": [{"name": "new-rules", "region": "us-east-1", "rules": [FIREWALL_RULE]},
                                           {"name": "contract-rules", "region": "us-east-1", "rules": []}],
        "PATCH /api/v1/firewall-rulesets/{id}": [{"name": "renamed-rules"}, {"rules": [FIREWALL_RULE]}],
        "PATCH /api/v1/firewall-rulesets/global": [{"rules": [FIREWALL_RULE]}],
    },
}

# Query parameter values a client would send, by parameter name.
QUERY_SEEDS = {
    "fly": {"org_slug": ["personal"], "region": ["iad", "ams"], "include_deleted": ["true", "false"],
            "summary": ["true"], "state": ["started", "stopped", "started,stopped"], "force": ["true"],
            "limit": ["1", "5"], "filter": ["www"], "instance_id": [Real("machine_version")],
            "version": [Real("machine_version")], "from_event_id": [Real("event")], "show_secrets": ["true"],
            "signal": ["SIGTERM"]},
    "lambda_cloud": {"cluster_id": [Real("instance")]},
}

# Path parameters: the set-up's resources that may stand in them.
FLY_PATH_IDS = {"app_name": ["app"], "machine_id": ["machine", "idle_machine"], "volume_id": ["volume", "free_volume"],
                "hostname": ["hostname"], "ip": ["ip"], "secret_name": ["secret"], "key": ["metadata_key"],
                "org_slug": ["org"]}
LAMBDA_PATH_IDS = {"/api/v1/instances/": ["instance"], "/api/v1/ssh-keys/": ["ssh_key"],
                   "/api/v1/filesystems/": ["filesystem"], "/api/v1/firewall-rulesets/": ["ruleset", "spare_ruleset"]}


def real_ids(provider, operation, name):
    if provider == "fly":
        return FLY_PATH_IDS.get(name, [])
    for prefix, names in LAMBDA_PATH_IDS.items():
        if operation.path.startswith(prefix):
            return names
    return []


# --- one generated request ----------------------------------------------------------------------


@dataclass
class Case:
    """One request, before the set-up's ids are filled in."""

    path_params: dict
    query: list
    headers: dict
    body: object
    auth: str = "valid"
    lease: bool = False  # Fly: the machine is leased by someone before the request


def closed(schema):
    """The schema with objects closed to their documented fields: "valid" bodies then use the
    document's fields only (the malformed ones add anything)."""
    if isinstance(schema, list):
        return [closed(inner) for inner in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: closed(inner) for name, inner in value.items()}
        elif key in ("items", "allOf", "anyOf", "oneOf", "additionalProperties", "prefixItems", "not"):
            out[key] = closed(value)
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out and not any(
            key in out for key in ("allOf", "anyOf", "oneOf")):
        out["additionalProperties"] = False
    return out


def id_strategy(provider, names):
    """An id that exists (the set-up made it) or one that does not."""
    random_ids = st.one_of(PATH_TEXT, st.text("0123456789abcdef", min_size=32, max_size=32),
                           st.text("0123456789abcdef", min_size=14, max_size=14))
    if not names:
        return random_ids
    # Three in four are ids that exist, so operations get past their path to the body.
    real = st.sampled_from([Real(name) for name in names])
    return st.integers(0, 3).flatmap(lambda n: real if n < 3 else random_ids)


def query_value_strategy(provider, operation, parameter):
    name = parameter["name"]
    if provider == "fly" and operation.path.endswith("/wait") and name == "timeout":
        # Waits are bounded here: a second at most, or a value that is not a number of seconds.
        return st.one_of(st.sampled_from(["0", "1"]), st.sampled_from(["abc", "1.5", "-1", "", "1e3"]))
    seeds = QUERY_SEEDS.get(provider, {}).get(name, [])
    generated = schema_values(parameter["schema"]).map(query_text)
    options = ([st.sampled_from(seeds)] if seeds else []) + [generated, st.text(max_size=12)]
    return st.one_of(*options)


def body_strategy(provider, operation):
    seeds = BODY_SEEDS.get(provider, {}).get(operation.key, [])
    schema = operation.body_schema
    if schema is None:
        valid = realistic = st.just(ABSENT)
        structured = st.just({})
    else:
        from_document = schema_values(closed(schema))
        if seeds:
            seed = st.sampled_from(seeds)
            realistic = st.one_of(seed, st.builds(deep_merge, from_document, seed))
            valid = st.one_of(realistic, from_document)
        else:
            valid = realistic = from_document
        structured = valid
    # Wrong types mostly inside realistic bodies: those get past the first checks to the handler.
    kinds = [valid] * 4 + [wrong_typed(realistic if schema is not None else structured)] * 2 + [
        wrong_typed(structured), missing_field(structured), st.lists(structured, max_size=2), JSON_VALUES, NOT_JSON,
        st.just(ABSENT)]
    # Shrinks towards the first kinds: a valid body.
    return st.integers(0, len(kinds) - 1).flatmap(lambda kind: kinds[kind])


@st.composite
def cases(draw, provider, operation, strategies):
    """One Case; ``strategies`` holds the operation's value strategies, built once (building
    one from a large schema takes seconds)."""
    path_params = {name: draw(strategy, label=name) for name, strategy in strategies["path"].items()}
    query = []
    for parameter in operation.params("query"):
        forced = provider == "fly" and operation.path.endswith("/wait") and parameter["name"] == "timeout"
        # Required parameters are mostly there (sometimes not: that is a malformed request too).
        present = draw(st.integers(0, 4)) < (4 if parameter["required"] else 2)
        if forced or present:
            query.append((parameter["name"], draw(strategies["query"][parameter["name"]])))
    headers = {}
    for parameter in operation.params("header"):
        if draw(st.booleans()) or parameter["required"]:
            headers[parameter["name"]] = draw(strategies["header"][parameter["name"]])
    body = draw(strategies["body"])
    auth = draw(st.integers(0, 19).map(lambda n: "missing" if n == 18 else "wrong" if n == 19 else "valid"))
    lease = provider == "fly" and "machine_id" in path_params and draw(
        st.integers(0, 3).map(lambda n: n == 3 or (n >= 2 and operation.path.endswith("/lease"))))
    return Case(path_params, query, headers, body, auth, lease)


STRATEGIES = {}


def header_ids(provider, name):
    """The set-up's values a header may carry (the Fly lease nonce)."""
    return [Real("nonce")] if provider == "fly" and "nonce" in name else []


def case_strategy(provider, operation):
    key = (provider, operation.key)
    if key not in STRATEGIES:
        strategies = {
            "path": {p["name"]: id_strategy(provider, real_ids(provider, operation, p["name"]))
                     for p in operation.params("path")},
            "query": {p["name"]: query_value_strategy(provider, operation, p) for p in operation.params("query")},
            "header": {p["name"]: st.one_of(st.sampled_from(header_ids(provider, p["name"])), HEADER_TEXT)
                       if header_ids(provider, p["name"]) else HEADER_TEXT for p in operation.params("header")},
            "body": body_strategy(provider, operation),
        }
        STRATEGIES[key] = cases(provider, operation, strategies)
    return STRATEGIES[key]


# --- talking to the emulator ---------------------------------------------------------------------


class Client:
    """Requests on fresh connections, so that no example depends on a connection an earlier
    one left (the server closes one after a request it cannot parse)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.problems = []

    def control(self, method, path, body=None):
        response = requests.request(method, self.emulator.base_url + "/_emulator/" + path, json=body,
                                    headers={"Connection": "close"}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()

    def send(self, method, path, body=ABSENT, headers=None, auth="valid", raw=None):
        all_headers = {"Connection": "close"}
        if auth == "valid":
            all_headers["Authorization"] = "Bearer " + self.emulator.token
        elif auth == "wrong":
            all_headers["Authorization"] = "Bearer not-the-token"
        data = None
        if raw is not None:
            data = raw
        elif body is not ABSENT:
            data = json.dumps(body).encode()
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return requests.request(method, self.emulator.base_url + path, data=data, headers=all_headers,
                                timeout=HTTP_TIMEOUT, allow_redirects=False)

    def setup(self, method, path, body=ABSENT):
        """A set-up request: its answer's JSON, or None when it was refused (the id stays unknown)."""
        response = self.send(method, path, body)
        if response.status_code >= 500:
            self.problems.append("set-up %s %s answered %s: %s" % (method, path, response.status_code,
                                                                   response.text[:300]))
        if response.status_code >= 300:
            return None
        try:
            return response.json() if response.content else {}
        except ValueError:
            return None


def real_names(value):
    if isinstance(value, Real):
        return {value.name}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return set().union(*(real_names(inner) for inner in items)) if items else set()


# Resource families an operation's answers are about (by path), so that listings and
# references in answers are not empty: their schemas are checked only when something is there.
FAMILIES = {
    "fly": [("/machines", {"machine", "idle_machine"}), ("/volumes", {"volume", "free_volume", "snapshot"}),
            ("/certificates", {"hostname"}), ("/ip_assignments", {"ip"}), ("/secrets", {"secret"}),
            ("/apps", {"app"})],
    "lambda_cloud": [("/instances", {"instance"}), ("/instance-operations", {"instance"}), ("/ssh-keys", {"ssh_key"}), ("/file", {"filesystem"}),
                     ("/firewall-rulesets", {"ruleset", "spare_ruleset", "instance"})],
}


def needs(provider, operation):
    """The set-up's resources the operation's generated requests may name or its answers show."""
    names = set()
    for parameter in operation.params("path"):
        names.update(real_ids(provider, operation, parameter["name"]))
    names |= real_names(BODY_SEEDS.get(provider, {}).get(operation.key, []))
    for parameter in operation.params("query"):
        names |= real_names(QUERY_SEEDS.get(provider, {}).get(parameter["name"], []))
    for fragment, family in FAMILIES[provider]:
        if fragment in operation.path:
            names |= family
    return names


def fly_world(client, case, wanted):
    """What the operation needs of: an app with two volumes (one attached to the machine), a
    snapshot, a running and an idle machine (the running one leased when the case asks), an IP,
    a certificate and a secret."""
    ids = {"org": "personal", "app": "contract-app", "metadata_key": "role"}

    def need(*names):
        return any(name in wanted for name in names)

    machine_names = ("machine", "machine_version", "event", "nonce", "metadata_key")
    if not need("app", "volume", "free_volume", "snapshot", "idle_machine", "ip", "hostname", "secret",
                *machine_names):
        return ids
    app = "/v1/apps/contract-app"
    client.setup("POST", "/v1/apps", {"app_name": "contract-app", "org_slug": "personal"})
    if need("volume", "free_volume", "snapshot", *machine_names):
        volume = client.setup("POST", app + "/volumes", {"name": "data", "region": "iad", "size_gb": 1}) or {}
        free = client.setup("POST", app + "/volumes", {"name": "spare", "region": "iad", "size_gb": 1}) or {}
        ids["volume"], ids["free_volume"] = volume.get("id"), free.get("id")
    if need("snapshot") and ids.get("volume"):
        client.setup("POST", "%s/volumes/%s/snapshots" % (app, ids["volume"]))
        snapshots = client.setup("GET", "%s/volumes/%s/snapshots" % (app, ids["volume"]))
        if isinstance(snapshots, list) and snapshots and isinstance(snapshots[0], dict):
            ids["snapshot"] = snapshots[0].get("id")
    if need(*machine_names):
        config = dict(MACHINE_CONFIG, metadata={"role": "web"})
        if ids.get("volume"):
            config["mounts"] = [{"volume": ids["volume"], "path": "/data"}]
        machine = client.setup("POST", app + "/machines", {"name": "web", "region": "iad", "config": config}) or {}
        ids["machine"], ids["machine_version"] = machine.get("id"), machine.get("instance_id")
    if need("idle_machine"):
        idle = client.setup("POST", app + "/machines", {"name": "idle", "region": "iad", "skip_launch": True,
                                                        "config": MACHINE_CONFIG}) or {}
        ids["idle_machine"] = idle.get("id")
    if need("event") and ids.get("machine"):
        events = client.setup("GET", "%s/machines/%s/events" % (app, ids["machine"]))
        if isinstance(events, list) and events and isinstance(events[0], dict):
            ids["event"] = events[0].get("id")
    if need("ip"):
        ids["ip"] = (client.setup("POST", app + "/ip_assignments", {"type": "v6"}) or {}).get("ip")
    if need("hostname"):
        cert = client.setup("POST", app + "/certificates/acme", {"hostname": "www.contract.example"}) or {}
        ids["hostname"] = cert.get("hostname")
    if need("secret") and client.setup("POST", app + "/secrets",
                                       {"values": {"DATABASE_URL": "postgres://contract"}}) is not None:
        ids["secret"] = "DATABASE_URL"
    if case.lease and ids.get("machine"):
        lease = client.setup("POST", "%s/machines/%s/lease" % (app, ids["machine"]), {"ttl": 60}) or {}
        ids["nonce"] = lease["data"].get("nonce") if isinstance(lease.get("data"), dict) else None
    return ids


def lambda_world(client, case, wanted):
    """What the operation needs of: an SSH key, a file system, a ruleset and a spare one, and an
    instance using the key, the file system and the first ruleset."""
    ids = {}
    api = "/api/v1"
    if not wanted:
        return ids

    def data(method, path, body):
        answer = client.setup(method, path, body)
        return answer.get("data") if isinstance(answer, dict) and isinstance(answer.get("data"), dict) else {}

    key = data("POST", api + "/ssh-keys", {"name": "contract-key", "public_key": SSH_PUBLIC_KEY})
    ids["ssh_key"], ids["ssh_key_name"] = key.get("id"), key.get("name")
    filesystem = data("POST", api + "/filesystems", {"name": "contract-fs", "region": "us-east-1"})
    ids["filesystem"], ids["filesystem_name"] = filesystem.get("id"), filesystem.get("name")
    for name, label in (("contract-rules", "ruleset"), ("contract-spare", "spare_ruleset")):
        ids[label] = data("POST", api + "/firewall-rulesets",
                          {"name": name, "region": "us-east-1", "rules": [FIREWALL_RULE]}).get("id")
    if "instance" in wanted or "ruleset" in wanted:
        launch = {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["contract-key"],
                  "name": "contract", "file_system_names": ["contract-fs"]}
        if ids["ruleset"]:
            launch["firewall_rulesets"] = [{"id": ids["ruleset"]}]
        launched = data("POST", api + "/instance-operations/launch", launch)
        ids["instance"] = (launched.get("instance_ids") or [None])[0]
    return ids


WORLDS = {"fly": fly_world, "lambda_cloud": lambda_world}
NEEDS = {}


# Fast, deterministic clocks (machines and instances reach their state at once); no throttling.
SETTINGS = {"fly": {"rate_limits": False, "transition_seconds": 0},
            "lambda_cloud": {"rate_limits": False, "boot_seconds": 0}}


def fresh_world(client, provider, operation, case):
    client.control("POST", "reset")
    client.control("POST", "settings", SETTINGS[provider])
    key = (provider, operation.key)
    if key not in NEEDS:
        NEEDS[key] = needs(provider, operation)
    return WORLDS[provider](client, case, NEEDS[key])


def target(provider, operation, path_params, ids):
    path = operation.path
    for name, value in path_params.items():
        path = path.replace("{%s}" % name, quote(str(resolve(value, ids)), safe=""))
    return server_prefix(DOCUMENTS[provider]) + path


def send_case(client, provider, operation, case, ids):
    path = target(provider, operation, case.path_params, ids)
    query = urlencode([(name, resolve(value, ids)) for name, value in case.query])
    headers = {name: str(resolve(value, ids)) for name, value in case.headers.items()}
    body = resolve(case.body, ids)
    raw = body if isinstance(body, bytes) else None
    response = client.send(operation.method, path + ("?" + query if query else ""),
                           body=ABSENT if raw is not None else body, headers=headers, auth=case.auth, raw=raw)
    return path, query, headers, body, response


def declared_status(document_operation, status):
    responses = document_operation.get("responses", {})
    return str(status) in responses or "%dXX" % (status // 100) in responses or "default" in responses


def document_operation(provider, operation):
    return DOCUMENTS[provider]["paths"][operation.path][operation.method.lower()]


CHECKERS = {}


def checker(provider):
    if provider not in CHECKERS:
        CHECKERS[provider] = ContractChecker(provider)
    return CHECKERS[provider]


def shown(value, limit=600):
    if value is ABSENT:
        return "(none)"
    text = repr(value) if isinstance(value, bytes) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "... (%d more)" % (len(text) - limit)


@pytest.fixture
def tried(record_property):
    """Counts the requests a test sent; recorded as the ``requests_tried`` property."""
    counter = {"requests": 0, "statuses": {}}
    yield counter
    record_property("requests_tried", counter["requests"])
    print("%d requests tried, answers by status: %s" % (counter["requests"], counter["statuses"]))


# --- the tests ---------------------------------------------------------------------------------------


def answered(response, path):
    """False when the emulator has no route for the request: 405, or a 404 about the path itself
    rather than about a resource in it."""
    if response.status_code == 405:
        return False
    if response.status_code != 404:
        return True
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return True
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str):
        return True
    # The path as the emulator names it may leave out the API prefix (/v1, /api/v1).
    unprefixed = re.sub(r"^/(api/)?v1(?=/)", "", path)
    return not (path in message or unprefixed in message or message.strip(". ").lower() in (
        "not found", "the requested resource was not found"))


@pytest.mark.parametrize("provider, operation", operation_params(skip_left_out=False))
def test_operation_is_implemented_or_left_out(request, provider, operation):
    require_document(provider)
    left_out = left_out_operations(provider)
    key = operation_key(operation.method, operation.path)
    if key in left_out:
        assert left_out[key], ("%s %s is listed as left out in docs/emulator-spec-deviations.md without a reason"
                               % (provider, operation.key))
        return
    client = Client(request.getfixturevalue(EMULATOR_FIXTURES[provider]))
    ids = fresh_world(client, provider, operation, Case({}, [], {}, ABSENT))
    path_params = {p["name"]: Real(real_ids(provider, operation, p["name"])[0]) if real_ids(
        provider, operation, p["name"]) else "contract-probe" for p in operation.params("path")}
    seeds = BODY_SEEDS.get(provider, {}).get(operation.key)
    query = [(p["name"], (QUERY_SEEDS.get(provider, {}).get(p["name"]) or ["x"])[0])
             for p in operation.params("query") if p["required"]]
    if provider == "fly" and operation.path.endswith("/wait"):
        query.append(("timeout", "0"))
    body = seeds[0] if seeds else ({} if operation.body_schema is not None else ABSENT)
    path, dummy, dummy, dummy, response = send_case(client, provider, operation, Case(path_params, query, {}, body), ids)
    section = "Fly" if provider == "fly" else "Lambda Cloud"
    assert answered(response, path), (
        "%s %s (%s) is neither answered by the emulator (%s %s) nor listed as left out in "
        "docs/emulator-spec-deviations.md: list it there, with its reason, as a line `%s` under a heading "
        "saying \"left out\" in the %s section"
        % (provider, operation.key, operation.operation_id, response.status_code, response.text[:200],
           operation.key, section))


@pytest.mark.parametrize("provider", list(EMULATOR_FIXTURES))
def test_left_out_operations_are_in_the_document(provider):
    require_document(provider)
    known = {operation_key(op.method, op.path) for op in OPERATIONS[provider]}
    unknown = sorted(set(left_out_operations(provider)) - known)
    assert unknown == [], "docs/emulator-spec-deviations.md lists operations the %s document does not have: %s" % (
        provider, unknown)


@pytest.mark.fault("requests generated from the OpenAPI document: valid, wrong types at any depth, arrays for "
                   "objects, missing fields, random JSON, non-JSON bytes, unknown ids, no or a wrong token",
                   checks="never a 5xx; status declared for the operation or a listed deviation; answer body "
                          "valid against the document's schema")
@pytest.mark.parametrize("provider, operation", operation_params(skip_left_out=True))
# Each example resets the emulator and builds its own resources, so the function-scoped
# fixtures (request, the counter) hold nothing an example could leak to the next.
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
          phases=[Phase.explicit, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.large_base_example])
@given(data=st.data())
def test_answers_keep_the_contract(request, tried, provider, operation, data):
    require_document(provider)
    client = Client(request.getfixturevalue(EMULATOR_FIXTURES[provider]))
    case = data.draw(case_strategy(provider, operation), label="request")
    ids = fresh_world(client, provider, operation, case)
    started = time.monotonic()
    path, query, headers, body, response = send_case(client, provider, operation, case, ids)
    tried["requests"] += 1
    tried["statuses"][response.status_code] = tried["statuses"].get(response.status_code, 0) + 1
    entry = {"method": operation.method, "path": path, "query": query, "status": response.status_code,
             "content_type": response.headers.get("Content-Type"), "body": response.text}
    what = "%s %s (%s)" % (provider, operation.key, operation.operation_id)
    sent = "\n  request: %s %s%s%s\n  body: %s\n  answer: %s %s (%.2fs)%s" % (
        operation.method, path, "?" + query if query else "", "".join("\n  %s: %s" % item for item in headers.items()),
        shown(body), response.status_code, shown(response.text), time.monotonic() - started,
        "".join("\n  " + problem for problem in client.problems))
    # Separate asserts, separate kinds of failure: hypothesis shrinks and reports each on its own.
    assert not client.problems, "%s: a set-up request for it answered a server error:%s" % (what, sent)
    assert response.status_code < 500, "%s answered a server error:%s" % (what, sent)
    covered = any(applies(entry) for dummy, applies, dummy in checker(provider).deviations)
    assert covered or declared_status(document_operation(provider, operation), response.status_code), (
        "%s answered a status the document does not declare for it:%s" % (what, sent))
    problems = checker(provider).problems(entry)
    assert problems == [], "%s answered against the document: %s%s" % (what, "; ".join(problems)[:1500], sent)


def test_left_out_listing_format():
    """The format the emulator helpers write the left-out operations in (see the module docstring)."""
    text = "\n".join([
        "# Where the Fly emulator follows the docs", "## Deviations", "- `GET /apps`: not a listing",
        "## Operations left out", "| `GET /v1/apps/{app}/secretkeys`, `DELETE /apps/{a}/secretkeys/{n}` | KMS keys |",
        "- `POST /tokens/kms`: tokens are not emulated", "### Notes", "- `PUT /apps/{app_name}/machines/{id}/memory`: x",
        "## Other", "- `POST /platform/placements`: not a listing either",
        "# Where the Lambda Cloud emulator goes beyond", "## Left out", "- `GET /api/v1/tickets`: support tickets"])
    assert left_out_operations("fly", text) == {
        "GET /apps/{}/secretkeys": "KMS keys", "DELETE /apps/{}/secretkeys/{}": "KMS keys",
        "POST /tokens/kms": "tokens are not emulated", "PUT /apps/{}/machines/{}/memory": "x"}
    assert left_out_operations("lambda_cloud", text) == {"GET /tickets": "support tickets"}
    assert operation_key("get", "/api/v1/instances/{id}") == operation_key("GET", "/instances/{instance_id}/")
