"""Requests that break an operation's request schema (written from the OpenAPI document) are
refused with 400 and Fly's error body before anything is read or written; operations the
emulator leaves out answer as any unknown path does."""

from __future__ import annotations

import json
import re

import pytest

from tests.emulators.fly.helpers import IMAGE, make_machine, make_volume, ok, refused, wait
from tests.support.openapi_contract import left_out_operations

APP_PATH = "/apps/emu-test-app"
MACHINE_PATH = APP_PATH + "/machines/{machine}"
VOLUME_PATH = APP_PATH + "/volumes/{volume}"

# (what is sent: method, path, JSON body or None, query or None)
BAD_REQUESTS = {
    "an app create that is a JSON array": ("POST", "/apps", [{"app_name": "x", "org_slug": "personal"}], None),
    "an app name that is a number": ("POST", "/apps", {"app_name": 5, "org_slug": "personal"}, None),
    "mounts as one object": ("POST", APP_PATH + "/machines",
                             {"config": {"image": IMAGE, "mounts": {"volume": "{volume}", "path": "/data"}}}, None),
    "a region that is an object": ("POST", APP_PATH + "/machines",
                                   {"region": {"code": "iad"}, "config": {"image": IMAGE}}, None),
    "a config that is a list": ("POST", APP_PATH + "/machines", {"config": [IMAGE]}, None),
    "a guest's cpus as text": ("POST", APP_PATH + "/machines",
                               {"config": {"image": IMAGE, "guest": {"cpus": "two"}}}, None),
    "an env value that is a number": ("POST", APP_PATH + "/machines",
                                      {"config": {"image": IMAGE, "env": {"PORT": 8080}}}, None),
    "a service port as text, deep in the config": (
        "POST", APP_PATH + "/machines",
        {"config": {"image": IMAGE, "services": [{"internal_port": 8080, "ports": [{"port": "443"}]}]}}, None),
    "a restart policy that does not exist": ("POST", APP_PATH + "/machines",
                                             {"config": {"image": IMAGE, "restart": {"policy": "sometimes"}}}, None),
    "a lease_ttl as text": ("POST", APP_PATH + "/machines", {"lease_ttl": "30", "config": {"image": IMAGE}}, None),
    "an update whose config is a string": ("POST", MACHINE_PATH, {"config": IMAGE}, None),
    "a stop with an unknown signal": ("POST", MACHINE_PATH + "/stop", {"signal": "SIGBOGUS"}, None),
    "a lease ttl as text": ("POST", MACHINE_PATH + "/lease", {"ttl": "30"}, None),
    "a metadata value that is a number": ("POST", MACHINE_PATH + "/metadata/role", {"value": 3}, None),
    "a metadata value left out": ("POST", MACHINE_PATH + "/metadata/role", {}, None),
    "a metadata update whose values are numbers": ("PUT", MACHINE_PATH + "/metadata", {"metadata": {"a": 1}}, None),
    "a volume size as text": ("POST", APP_PATH + "/volumes", {"name": "cache", "size_gb": "3"}, None),
    "a volume name that is a list": ("POST", APP_PATH + "/volumes", {"name": ["cache"]}, None),
    "a volume without a name": ("POST", APP_PATH + "/volumes", {"region": "iad"}, None),
    "a snapshot retention as text": ("PUT", VOLUME_PATH, {"snapshot_retention": "7"}, None),
    "an extension by a fraction of a GB": ("PUT", VOLUME_PATH + "/extend", {"size_gb": 5.5}, None),
    "a secret value that is a number": ("POST", APP_PATH + "/secrets", {"values": {"TOKEN": 1}}, None),
    "secret values as a list": ("POST", APP_PATH + "/secrets", {"values": ["TOKEN"]}, None),
    "a per-name secret value of null": ("POST", APP_PATH + "/secrets/TOKEN", {"value": None}, None),
    "an IP type that is a list": ("POST", APP_PATH + "/ip_assignments", {"type": ["v4"]}, None),
    "a certificate hostname that is an object": ("POST", APP_PATH + "/certificates/acme",
                                                 {"hostname": {"name": "www.example.com"}}, None),
    "a custom certificate without its key": ("POST", APP_PATH + "/certificates/custom",
                                             {"hostname": "www.example.com", "fullchain": "x"}, None),
    "a placement without an org": ("POST", "/platform/placements", {"region": "iad", "count": 1}, None),
    "include_deleted that is not a boolean": ("GET", APP_PATH + "/machines", None, {"include_deleted": "maybe"}),
    "a wait timeout that is a fraction": ("GET", MACHINE_PATH + "/wait", None, {"timeout": "1.5"}),
    "a wait for a state that does not exist": ("GET", MACHINE_PATH + "/wait", None, {"state": "started,exploded"}),
    "an events limit that is not a number": ("GET", MACHINE_PATH + "/events", None, {"limit": "ten"}),
    "a destroy whose force is not a boolean": ("DELETE", MACHINE_PATH, None, {"force": "yes"}),
    "an app list without its org": ("GET", "/apps", None, {}),
    "an org machine list page size that is not a number": ("GET", "/orgs/personal/machines", None, {"limit": "all"}),
}


@pytest.fixture
def world(fly, app):
    """A started machine with a volume, a secret, an IP and a certificate; answers the ids and a
    function that reads everything the bad requests could have changed."""
    volume = make_volume(fly, app)
    machine = make_machine(fly, app, config={"image": IMAGE, "mounts": [{"volume": volume["id"], "path": "/data"}],
                                             "metadata": {"role": "web"}})
    ok(wait(fly, app, machine))
    ok(fly.api("POST", "/apps/%s/secrets" % app, json={"values": {"TOKEN": "t-1"}}))
    ok(fly.api("POST", "/apps/%s/ip_assignments" % app, json={"type": "v6"}))
    ok(fly.api("POST", "/apps/%s/certificates/acme" % app, json={"hostname": "www.example.com"}), 201)

    def everything():
        reads = ["/apps?org_slug=personal", "/apps/%s/machines?include_deleted=true" % app,
                 "/apps/%s/volumes" % app, "/apps/%s/secrets" % app, "/apps/%s/ip_assignments" % app,
                 "/apps/%s/machines/%s/versions" % (app, machine["id"]),
                 "/apps/%s/machines/%s/lease" % (app, machine["id"]),
                 "/apps/%s/volumes/%s/snapshots" % (app, volume["id"])]
        # Certificates change status on the clock: their hostnames are what a write would change.
        hostnames = [c["hostname"] for c in ok(fly.api("GET", "/apps/%s/certificates" % app))["certificates"]]
        return [fly.api("GET", path).text for path in reads] + hostnames

    return {"machine": machine["id"], "volume": volume["id"]}, everything


def filled(value, ids):
    return json.loads(json.dumps(value).replace("{machine}", ids["machine"]).replace("{volume}", ids["volume"]))


@pytest.mark.fault("requests that break the document's request schema: arrays for objects, wrong types at any "
                   "depth, required fields left out, query values not of their type",
                   checks="400 with Fly's {\"error\": ...} naming the field; nothing read back has changed")
@pytest.mark.parametrize("tried", sorted(BAD_REQUESTS))
def test_a_request_against_the_schema_is_refused_before_any_write(fly, world, tried):
    ids, everything = world
    method, path, body, params = BAD_REQUESTS[tried]
    before = everything()
    kwargs = {"params": params} if params is not None else {}
    if body is not None:
        kwargs["json"] = filled(body, ids)
    message = refused(fly.api(method, filled(path, ids), **kwargs))
    assert message.startswith("query") or "body" in message, message
    assert everything() == before


FLY_ROUTES_WITH_BODIES = [
    ("POST", "/apps"), ("POST", APP_PATH + "/machines"), ("POST", MACHINE_PATH), ("POST", MACHINE_PATH + "/stop"),
    ("POST", MACHINE_PATH + "/lease"), ("PUT", MACHINE_PATH + "/metadata"), ("PATCH", MACHINE_PATH + "/metadata"),
    ("POST", MACHINE_PATH + "/metadata/role"), ("POST", APP_PATH + "/volumes"), ("PUT", VOLUME_PATH),
    ("PUT", VOLUME_PATH + "/extend"), ("POST", APP_PATH + "/secrets"), ("POST", APP_PATH + "/secrets/TOKEN"),
    ("POST", APP_PATH + "/ip_assignments"), ("POST", APP_PATH + "/certificates/acme"),
    ("POST", APP_PATH + "/certificates/custom"), ("POST", "/platform/placements"),
]


@pytest.mark.fault("a body that is a JSON array, on every Fly operation that takes a body",
                   checks="400 in Fly's error shape, never a 5xx")
def test_no_operation_with_a_body_takes_an_array(fly, world):
    ids, everything = world
    before = everything()
    for method, path in FLY_ROUTES_WITH_BODIES:
        answer = fly.api(method, filled(path, ids), data=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (method, path, answer.text)
        assert isinstance(answer.json()["error"], str)
    assert everything() == before


@pytest.mark.fault("every operation the emulator leaves out (docs/emulator-spec-deviations.md)",
                   checks="404 with Fly's error body naming the path, as for any unknown path; never a 5xx")
def test_operations_left_out_answer_as_unknown_paths(fly, app):
    left_out = left_out_operations("fly")
    assert len(left_out) >= 20 and all(left_out.values())
    for key in left_out:
        method, template = key.split(" ", 1)
        path = "/v1" + re.sub(r"\{\}", "x", template)
        answer = fly.api(method, path[len("/v1"):], json={} if method in ("POST", "PUT", "PATCH") else None)
        assert (answer.status_code, answer.json()) == (404, {"error": "no such path: %s" % path}), key


@pytest.mark.fault("a machine create whose body is arrays nested 100 000 deep", checks="400, not a 5xx")
def test_a_body_nested_too_deep_to_parse_is_a_bad_request(fly, app):
    deep = b"[" * 100000 + b"]" * 100000
    answer = fly.api("POST", "/apps/%s/machines" % app, data=deep, headers={"Content-Type": "application/json"})
    assert "not valid JSON" in refused(answer)
    assert ok(fly.api("GET", "/apps/%s/machines" % app)) == []
