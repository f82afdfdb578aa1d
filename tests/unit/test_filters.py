"""The filter plugins the roles and playbooks use."""

from __future__ import annotations

import re

from ansible_collections.sophia.ops.plugins.filter.app_name import app_name
from ansible_collections.sophia.ops.plugins.filter.fleet import healthy_machines, lambda_hosts
from ansible_collections.sophia.ops.plugins.filter.lambda_tags import lambda_tag_problems, lambda_tags
from ansible_collections.sophia.ops.plugins.filter.release import fly_release


def test_healthy_machines_are_started_and_pass_every_check():
    machines = [
        {"id": "a", "state": "started", "checks": [{"status": "passing"}, {"status": "passing"}]},
        {"id": "b", "state": "started", "checks": [{"status": "passing"}, {"status": "critical"}]},
        {"id": "c", "state": "stopped", "checks": [{"status": "passing"}]},
        {"id": "d", "state": "started"},
        {"id": "e", "state": "starting", "checks": []},
    ]
    assert [m["id"] for m in healthy_machines(machines)] == ["a", "d"]
    assert healthy_machines(None) == []


def test_lambda_hosts_are_the_fleet_inventorys_and_never_the_jupyter_credentials():
    active = {
        "id": "0920582c7ff041399e34823a0be62549", "name": "sophia-gpu-1", "status": "active", "ip": "192.0.2.11",
        "private_ip": "10.19.60.24", "hostname": "192-0-2-11", "region": {"name": "us-east-1"},
        "instance_type": {"name": "gpu_1x_a100_sxm4"}, "jupyter_token": "53968f128c4a4489b688c2c0a181d083",
        "jupyter_url": "https://jupyter.example/?token=53968f128c4a4489b688c2c0a181d083",
        "tags": [{"key": "sophia-ops:pool", "value": "sophia-gpu"}, {"key": "environment", "value": "prod"}],
    }
    booting = {"id": "i-2", "name": "", "status": "booting", "tags": []}
    gone = [dict(active, id="i-%s" % status, name="gone-" + status, status=status)
            for status in ("terminating", "terminated", "preempted")]
    hosts = lambda_hosts([active, booting] + gone)
    # Gone instances are no hosts; one without a name is named by its ID.
    assert [host["name"] for host in hosts] == ["sophia-gpu-1", "i-2"]
    hostvars = hosts[0]["vars"]
    assert hostvars["ansible_host"] == "192.0.2.11" and hostvars["ansible_user"] == "ubuntu"
    assert (hostvars["lambda_pool"], hostvars["lambda_region"], hostvars["lambda_instance_type"]) == (
        "sophia-gpu", "us-east-1", "gpu_1x_a100_sxm4")
    assert hostvars["lambda_private_ip"] == "10.19.60.24" and hostvars["lambda_tags"]["environment"] == "prod"
    assert "53968f128c4a4489b688c2c0a181d083" not in repr(hosts)
    # Booting: no address yet, and no pool tag is no pool.
    assert "ansible_host" not in hosts[1]["vars"] and hosts[1]["vars"]["lambda_pool"] is None
    assert lambda_hosts(None) == []


def test_app_names_are_the_prefix_and_the_dashed_service():
    assert app_name("vector_store", "sophia-prod") == "sophia-prod-vector-store"
    assert app_name("gpu", "sophia-dev") == "sophia-dev-gpu"
    # No prefix in the inventory is the platform's own; an empty one is kept, as the inventory gave it.
    assert app_name("unified_api") == app_name("unified_api", None) == "sophia-unified-api"
    assert app_name("weaviate", "") == "-weaviate"


def _machine(image, previous=None):
    return {"config": {"image": image, "metadata": {"sophia_previous_image": previous} if previous else {}}}


def test_a_release_is_what_runs_and_what_the_machines_record_as_run_before():
    group = [_machine("api:2", previous="api:1"), _machine("api:2", previous="api:1")]
    assert fly_release(group) == {"images": ["api:2"], "image": "api:2", "previous": "api:1"}
    # Halfway through a rollout: two images, no single one; the first record found counts.
    mixed = [_machine("api:3"), _machine("api:2", previous="api:1")]
    assert fly_release(mixed) == {"images": ["api:3", "api:2"], "image": "", "previous": "api:1"}
    assert fly_release(None) == {"images": [], "image": "", "previous": ""}
    assert fly_release([{"config": {"image": "api:1", "metadata": None}}])["previous"] == ""


def test_a_new_image_records_the_one_it_replaces_and_a_redeploy_keeps_the_record():
    group = [_machine("api:2", previous="api:1")]
    assert fly_release(group, "api:3")["to_record"] == "api:2"
    # The same image again (or a rollback landing on it): the record stays.
    assert fly_release(group, "api:2")["to_record"] == "api:1"
    # A rollback to api:1 records api:2, so a second rollback returns to it.
    assert fly_release(group, "api:1")["to_record"] == "api:2"
    assert fly_release([], "api:1")["to_record"] == ""
    assert "to_record" not in fly_release(group)


def test_lambda_tags_are_keys_lambda_takes_and_string_values():
    assert lambda_tags({"Cost_Center": 42, "team": "ml", "env.name": None}) == {
        "cost-center": "42", "team": "ml", "env-name": "None"}
    assert lambda_tags(None) == {}


def test_lambda_tag_problems_name_each_tag_lambda_or_the_collection_refuses():
    assert lambda_tag_problems({"cost-center": "42", "a:b-c": "x" * 128, "k" * 55: ""}) == []
    problems = lambda_tag_problems({
        "x": "too short a key", "k" * 56: "too long a key", "9lives": "not a letter first",
        "sophia-ops:pool": "the collection's own", "sophia-ops:other": "its prefix too", "long": "v" * 129})
    assert len(problems) == 6
    assert [p.split(":")[0] for p in problems if "collection's own" in p] == ["tags.sophia-ops"] * 2
    assert any("tags.long: value is 129 characters long" in p for p in problems)
    assert lambda_tag_problems({}) == []


def test_lambda_tag_problems_refuse_exactly_what_the_role_refused_in_jinja():
    keys = ["ab", "a", "a" * 55, "a" * 56, "a:b", "a-", "1a", "-a", "sophia-ops:x", "sophia-opsx", "Ab", "a b", ""]
    for key in keys:
        for value in ("v", "v" * 128, "v" * 129):
            old_rule = (re.match(r"^[a-z][a-z0-9:-]{1,54}$", key) is not None and not key.startswith("sophia-ops:")
                        and len(value) <= 128)
            assert (lambda_tag_problems({key: value}) == []) == old_rule, (key, len(value))
