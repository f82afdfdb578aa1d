"""The observability layer's configuration, rendered by the roles themselves and checked with the tools
that read it: promtool (configuration, rules and the rules' unit tests) and amtool (Alertmanager), and the
log shipper's environment against what Fly's log shipper reads.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages. Without
them these tests fail: a missing check is not a passing one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_cli import REPO_ROOT, ansible_env

HERE = Path(__file__).resolve().parent
LOCAL_INVENTORY = REPO_ROOT / "inventories" / "local" / "hosts.yml"
GPU_INVENTORY = HERE / "gpu_workers.yml"
SERVICES = ["weaviate", "mcp_server", "vector_store", "unified_api", "agno_bridge", "agent_ui"]
RECEIVERS = ["none", "webhook", "slack", "pagerduty", "email"]


def tool(name, package):
    path = shutil.which(name)
    if not path:
        pytest.fail("%s not found: install Debian's %s package" % (name, package))
    return path


@pytest.fixture(scope="module")
def promtool():
    return tool("promtool", "prometheus")


@pytest.fixture(scope="module")
def amtool():
    return tool("amtool", "prometheus-alertmanager")


def run(cmd, **kwargs):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, check=False, **kwargs)
    return proc.returncode, proc.stdout + proc.stderr


def render(render_dir, inventories=(LOCAL_INVENTORY,), **extra_vars):
    """Run tests/monitoring/render.yml; returns (rc, output)."""
    cmd = [Path(sys.executable).parent / "ansible-playbook", HERE / "render.yml"]
    for inventory in inventories:
        cmd += ["-i", inventory]
    cmd += ["-e", json.dumps(dict(extra_vars, render_dir=str(render_dir)))]
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    proc = subprocess.run([str(c) for c in cmd], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def local_vault_values():
    """The local vault's secret values, to make sure none of them lands in a rendered file."""
    rc, out = run([Path(sys.executable).parent / "ansible-vault", "view",
                   "--vault-id", "local@scripts/vault-password-client",
                   "vaults/local.yml"], cwd=REPO_ROOT, env=ansible_env())
    assert rc == 0, out
    return set(yaml.safe_load(out)["vault_sophia_secrets"].values())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The local environment's configuration with two GPU nodes in the fleet, as the machines get it
    (receiver webhook, from inventories/local/group_vars/all/observability.yml)."""
    root = tmp_path_factory.mktemp("monitoring")
    # Fly's managed-Prometheus federation is off in local (nothing serves it there): on, as every Fly environment has it.
    rc, out = render(root, inventories=(LOCAL_INVENTORY, GPU_INVENTORY), receivers=["webhook"], monitoring_fly_metrics=True)
    assert rc == 0, out[-4000:]
    directory = root / "webhook"
    # The secret files Fly writes from app secrets; promtool and amtool check that they exist.
    (directory / "secrets").mkdir()
    for name in ("fly-metrics-token", "receiver"):
        (directory / "secrets" / name).write_text("stand-in\n")
    return directory


def test_promtool_accepts_the_generated_configuration_and_rules(rendered, promtool):
    rc, out = run([promtool, "check", "config", rendered / "prometheus.yml"])
    assert rc == 0, out
    # check config reads the rule files the configuration names: the rules were checked too.
    assert "SUCCESS: 7 rules found" in out, out
    rc, out = run([promtool, "check", "rules", rendered / "rules" / "sophia.rules.yml"])
    assert rc == 0, out


def test_the_rules_unit_tests_pass(rendered, promtool, tmp_path):
    # promtool finds the rule file beside the test file.
    shutil.copy(rendered / "rules" / "sophia.rules.yml", tmp_path)
    shutil.copy(HERE / "sophia.rules.test.yml", tmp_path)
    rc, out = run([promtool, "test", "rules", tmp_path / "sophia.rules.test.yml"])
    assert rc == 0, out
    assert "SUCCESS" in out


def test_the_unit_tests_catch_a_wrong_threshold(rendered, promtool, tmp_path):
    """The rules' tests are not vacuous: with the latency threshold at 300 ms, 250 ms no longer fires."""
    rules = (rendered / "rules" / "sophia.rules.yml").read_text()
    assert rules.count("> 0.2\n") == 1
    (tmp_path / "sophia.rules.yml").write_text(rules.replace("> 0.2\n", "> 0.3\n"))
    shutil.copy(HERE / "sophia.rules.test.yml", tmp_path)
    rc, out = run([promtool, "test", "rules", tmp_path / "sophia.rules.test.yml"])
    assert rc != 0
    assert "SophiaHighLatencyP95" in out


def test_scrape_configuration_comes_from_the_inventory(rendered):
    config = yaml.safe_load((rendered / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ports = yaml.safe_load((REPO_ROOT / "inventories/local/group_vars/all/services.yml").read_text())
    for service in SERVICES:
        app = "sophia-local-" + service.replace("_", "-")
        sd = jobs[service]["dns_sd_configs"][0]
        # Every machine of the service over the private network (local's Docker DNS answers A records, Fly's
        # AAAA); Weaviate serves metrics on 2112.
        assert sd["names"] == [app + ".internal"] and sd["type"] == "A"
        assert sd["port"] == (2112 if service == "weaviate" else ports[service + "_port"])
        labels = {r["target_label"]: r["replacement"] for r in jobs[service]["relabel_configs"]}
        assert labels["app"] == app and labels["service"] == service and labels["tier"] == "service"
    # The GPU nodes of the fleet, sorted, IPv6 in brackets; the one terminated since the listing left out.
    gpu = jobs["gpu-nodes"]["static_configs"]
    assert [g["targets"] for g in gpu] == [["192.0.2.11:9100"], ["[2001:db8::12]:9100"]]
    assert [g["labels"]["node"] for g in gpu] == ["sophia-gpu-1", "sophia-gpu-2"]
    # Fly's platform metrics of this environment's apps, with the token from a file.
    fly = jobs["fly-platform"]
    assert fly["metrics_path"] == "/prometheus/personal/federate"
    assert fly["params"]["match[]"] == ['{__name__=~"fly_.*", app=~"sophia-local-.*"}']
    assert fly["authorization"]["credentials_file"].endswith("/secrets/fly-metrics-token")
    assert "credentials" not in fly["authorization"]
    assert jobs["log-shipper"]["dns_sd_configs"][0]["names"] == ["sophia-local-log-shipper.internal"]
    alerting = config["alerting"]["alertmanagers"][0]["dns_sd_configs"][0]
    assert alerting["names"] == ["alertmanager.process.sophia-local-monitoring.internal"]


def test_no_secret_value_is_rendered(rendered):
    secrets = local_vault_values()
    for path in rendered.rglob("*.yml"):
        text = path.read_text()
        leaked = [value for value in secrets if str(value) in text]
        assert not leaked, "%s holds vault values" % path.name


def test_without_gpu_nodes_there_is_no_gpu_job(tmp_path):
    rc, out = render(tmp_path, receivers=["none"])
    assert rc == 0, out[-4000:]
    config = yaml.safe_load((tmp_path / "none" / "prometheus.yml").read_text())
    assert "gpu-nodes" not in {job["job_name"] for job in config["scrape_configs"]}


def test_every_receiver_gives_a_valid_alertmanager_configuration(tmp_path, amtool):
    rc, out = render(tmp_path, receivers=RECEIVERS, monitoring_alert_email_to="oncall@sophia.localhost",
                     monitoring_alert_email_from="alertmanager@sophia.localhost",
                     monitoring_alert_email_smarthost="smtp.sophia.localhost:587",
                     monitoring_alert_email_username="alertmanager")
    assert rc == 0, out[-4000:]
    for receiver in RECEIVERS:
        directory = tmp_path / receiver
        (directory / "secrets").mkdir()
        (directory / "secrets" / "receiver").write_text("stand-in\n")
        rc, out = run([amtool, "check-config", directory / "alertmanager.yml"])
        assert rc == 0, (receiver, out)
        config = yaml.safe_load((directory / "alertmanager.yml").read_text())
        assert config["route"]["receiver"] == "sophia-" + receiver
        text = (directory / "alertmanager.yml").read_text()
        # The credential is a file Fly writes from the vault's secret, for every receiver that has one.
        assert ("secrets/receiver" in text) == (receiver != "none"), receiver


def test_a_receiver_without_its_settings_fails_before_anything(tmp_path):
    rc, out = render(tmp_path, receivers=["email"])
    assert rc != 0
    assert "monitoring_alert_email_to" in out


# What Fly's log shipper reads for each sink (its README): the shipper turns a sink on when these are set.
SINKS = {
    "loki": {"LOKI_URL": "https://logs.example.test/loki/api/v1/push", "LOKI_USERNAME": "12345"},
    "datadog": {"DATADOG_SITE": "datadoghq.eu"},
    "http": {"HTTP_URL": "https://logs.example.test/ingest"},
    "aws_s3": {"AWS_BUCKET": "sophia-logs", "AWS_REGION": "us-east-1"},
    "axiom": {"AXIOM_DATASET": "sophia"},
    "better_stack": {},
}
SINK_SECRETS = {
    "loki": ["LOKI_PASSWORD"], "datadog": ["DATADOG_API_KEY"], "http": ["HTTP_TOKEN"],
    "aws_s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], "axiom": ["AXIOM_TOKEN"],
    "better_stack": ["BETTER_STACK_SOURCE_TOKEN"],
}


def test_log_shipper_environment_for_every_sink(tmp_path):
    rc, out = render(tmp_path, sinks=[{"sink": sink, "env": env} for sink, env in SINKS.items()])
    assert rc == 0, out[-4000:]
    for sink, env in SINKS.items():
        shipped = json.loads((tmp_path / sink / "log-shipper.json").read_text())
        # The NATS source: the organisation, every app's logs, one queue for all the machines.
        assert shipped["env"] == dict({"ORG": "personal", "SUBJECT": "logs.>", "QUEUE": "sophia-local-log-shipper"},
                                      **env), sink
        # The token and the sink's credentials are secrets (from the vault), never plain environment.
        assert shipped["secret_names"] == ["ACCESS_TOKEN"] + SINK_SECRETS[sink]
        assert not set(shipped["env"]) & set(shipped["secret_names"])


def test_log_shipper_local_configuration_is_complete(tmp_path):
    """What inventories/local sets: the Loki sink, with every secret it needs in the local vault."""
    loki = {"LOKI_URL": "http://logs.sophia.test:3100", "LOKI_USERNAME": "sophia-local"}
    rc, out = render(tmp_path, sinks=[{"sink": "loki", "env": loki}])
    assert rc == 0, out[-4000:]
    shipped = json.loads((tmp_path / "loki" / "log-shipper.json").read_text())
    assert shipped["secrets_in_vault"] == shipped["secret_names"] == ["ACCESS_TOKEN", "LOKI_PASSWORD"]
    local = yaml.safe_load((REPO_ROOT / "inventories/local/group_vars/all/observability.yml").read_text())
    assert local["log_shipper_sink"] == "loki"
    assert shipped["env"]["LOKI_URL"] == local["log_shipper_sink_env"]["LOKI_URL"]


@pytest.mark.parametrize("sink, env, message", [
    ("papertrail", {}, "log_shipper_sink papertrail is none of"),
    ("loki", {"LOKI_USERNAME": "12345"}, "log_shipper_sink_env needs LOKI_URL"),
    ("loki", {"LOKI_URL": "https://l.test", "LOKI_USERNAME": "1", "LOKI_PASSWORD": "oops"},
     "LOKI_PASSWORD are secrets"),
    ("http", {"HTTP_URL": "https://l.test", "HTTP_URI": "typo"}, "the sink does not read HTTP_URI"),
])
def test_log_shipper_refuses_bad_sink_settings(tmp_path, sink, env, message):
    rc, out = render(tmp_path, sinks=[{"sink": sink, "env": env}])
    assert rc != 0
    assert message in out, out[-3000:]
    assert "oops" not in out
