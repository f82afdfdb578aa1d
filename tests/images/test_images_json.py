"""The image refs scripts/images tags: every image the local inventory deploys must exist locally (no
registry is reached), with the settings its role gives the service (port, health path, volume path), and the
monitoring refs must run what roles/monitoring configures."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.support.ansible_cli import REPO_ROOT

SERVICES_YML = REPO_ROOT / "inventories" / "local" / "group_vars" / "all" / "services.yml"
STANDIN_JSON = REPO_ROOT / "images" / "standin" / "images.json"
MONITORING_JSON = REPO_ROOT / "images" / "monitoring" / "images.json"


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def entries(path):
    with open(path) as handle:
        return {ref: entry for ref, entry in json.load(handle).items() if not ref.startswith("_")}


def role_defaults(role):
    return load(REPO_ROOT / "roles" / role / "defaults" / "main.yml")


def inventory_images():
    """{variable: ref} of every *_image the local inventory sets for the services."""
    return {key: value for key, value in load(SERVICES_YML).items() if key.endswith("_image")}


def test_the_inventory_names_the_six_services_images():
    assert sorted(inventory_images()) == sorted("%s_image" % name for name in (
        "weaviate", "mcp_server", "vector_store", "unified_api", "agno_bridge", "agent_ui"))


@pytest.mark.parametrize("variable", sorted(inventory_images()))
def test_every_inventory_image_is_tagged_as_a_standin(variable):
    ref = inventory_images()[variable]
    tagged = entries(STANDIN_JSON)
    assert ref in tagged, "%s (%s) is missing from images/standin/images.json" % (ref, variable)
    assert tagged[ref]["service"] == variable[: -len("_image")]


@pytest.mark.parametrize("ref", sorted(entries(STANDIN_JSON)))
def test_a_standins_settings_are_its_roles(ref):
    entry = entries(STANDIN_JSON)[ref]
    service = entry["service"]
    defaults = role_defaults(service)
    inventory = load(SERVICES_YML)
    assert ref in (defaults["%s_image" % service], inventory.get("%s_image" % service))
    assert entry["port"] == inventory.get("%s_port" % service, defaults["%s_port" % service])
    assert entry["health_path"] == defaults["%s_health_path" % service]
    volume = defaults.get("%s_volume" % service) or {}
    if isinstance(volume, str):  # a Jinja expression: its literal 'path'
        found = re.search(r"'path':\s*'([^']+)'", volume)
        volume = {"path": found.group(1)} if found else {}
    if volume.get("path"):
        assert entry["data_dir"] == volume["path"]


def test_metrics_ports_are_where_monitoring_scrapes():
    monitoring = role_defaults("monitoring")
    tagged = {entry["service"]: entry for entry in entries(STANDIN_JSON).values()}
    for service, port in monitoring["monitoring_metrics_ports"].items():
        assert tagged[service].get("metrics_port") == port, service
    assert tagged["log_shipper"]["metrics_port"] == monitoring["monitoring_log_shipper_metrics_port"]


def test_the_log_shippers_image_is_tagged():
    ref = role_defaults("log_shipper")["log_shipper_image"]
    assert entries(STANDIN_JSON)[ref]["service"] == "log_shipper"


def test_monitoring_refs_run_prometheus_and_alertmanager_as_the_role_configures_them():
    defaults = role_defaults("monitoring")
    tagged = entries(MONITORING_JSON)
    prometheus = tagged[defaults["monitoring_image"]]
    alertmanager = tagged[defaults["monitoring_alertmanager_image"]]
    assert prometheus["entrypoint"] == ["/usr/bin/prometheus"]
    assert "--config.file=%s/prometheus.yml" % defaults["monitoring_prometheus_config_dir"] in prometheus["cmd"]
    assert "--storage.tsdb.path=/prometheus" in prometheus["cmd"]
    assert re.search(r"'path': '/prometheus'", defaults["monitoring_volume"])
    assert "--web.listen-address=:%d" % defaults["monitoring_port"] in prometheus["cmd"]
    assert alertmanager["entrypoint"] == ["/usr/bin/prometheus-alertmanager"]
    assert "--config.file=%s/alertmanager.yml" % defaults["monitoring_alertmanager_config_dir"] in alertmanager["cmd"]
    assert "--web.listen-address=:%d" % defaults["monitoring_alertmanager_port"] in alertmanager["cmd"]
