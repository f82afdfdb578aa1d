"""The observability layer as site.yml leaves it (the session's one converge from empty, tests/support/platform.py):
phase 1 created the monitoring and log shipper apps, phase 3 put Prometheus, Alertmanager and the log shipper on
machines with their configuration as machine files, and phase 4 verified them healthy. That the same run in check
mode predicts the layer's apps, and that a second run changes nothing, is held for the whole platform by
tests/platform/test_site.py."""

from __future__ import annotations

import base64

import yaml

from tests.platform.conftest import SERVICES

OBSERVABILITY = {"monitoring", "log_shipper"}


def group_of(machine):
    return machine["config"]["metadata"]["fly_process_group"]


def files_of(machine):
    return {f["guest_path"]: f for f in machine["config"].get("files") or []}


def secret_names(platform, app):
    answer = platform.fly.api("GET", "/apps/%s/secrets" % app).json()
    return {s["name"] for s in answer.get("secrets", answer)}


def test_the_observability_layer_runs_verified_with_its_configuration(converged_site, converged_platform):
    platform = converged_platform
    # Phase 4 found Prometheus, Alertmanager and the log shipper healthy.
    verified = [h for h, n, r in converged_site.results("At least the autoscale minimum is started and passing its checks")
                if h in OBSERVABILITY and not r.get("skipped")]
    assert sorted(verified) == ["log_shipper", "monitoring", "monitoring"], verified

    # Prometheus (group app, with its volume) and Alertmanager (group alertmanager), one machine each.
    machines = {group_of(m): m for m in platform.fly.machines_now("sophia-local-monitoring")}
    assert set(machines) == {"app", "alertmanager"}
    prometheus, alertmanager = machines["app"], machines["alertmanager"]
    assert prometheus["config"]["image"].startswith("prom/prometheus:")
    assert alertmanager["config"]["image"].startswith("prom/alertmanager:")
    assert prometheus["config"]["mounts"][0]["path"] == "/prometheus"
    assert not alertmanager["config"].get("mounts")
    for machine in (prometheus, alertmanager):
        assert machine["config"]["services"][0]["autostop"] == "off"

    # The configuration, as files: rendered text (base64) and the secrets by name only.
    files = files_of(prometheus)
    # Local federates nothing from Fly's managed Prometheus (monitoring_fly_metrics: false): no token file.
    assert set(files) == {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules/sophia.rules.yml"}
    config = yaml.safe_load(base64.b64decode(files["/etc/prometheus/prometheus.yml"]["raw_value"]))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in SERVICES:
        assert jobs[service]["dns_sd_configs"][0]["names"] == [platform.app(service) + ".internal"]
    rules = yaml.safe_load(base64.b64decode(files["/etc/prometheus/rules/sophia.rules.yml"]["raw_value"]))
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"SophiaServiceDown", "SophiaHighErrorRate", "SophiaHighLatencyP95", "SophiaMachineRestarting",
            "SophiaVolumeNearlyFull", "SophiaGpuNodeUnreachable"} <= alerts
    assert "fly-platform" not in jobs
    am_files = files_of(alertmanager)
    am_config = yaml.safe_load(base64.b64decode(am_files["/etc/alertmanager/alertmanager.yml"]["raw_value"]))
    assert am_config["route"]["receiver"] == "sophia-webhook"
    assert am_files["/etc/alertmanager/secrets/receiver"]["secret_name"] == "ALERTMANAGER_WEBHOOK_TOKEN"
    assert secret_names(platform, "sophia-local-monitoring") == {"ALERTMANAGER_WEBHOOK_TOKEN"}

    # The log shipper: the NATS source and the sink in its environment, the token and password as secrets.
    shipper = platform.fly.machines_now("sophia-local-log-shipper")
    assert len(shipper) == 1
    env = shipper[0]["config"]["env"]
    assert env["ORG"] == "personal" and env["SUBJECT"] == "logs.>" and env["LOKI_URL"]
    assert "ACCESS_TOKEN" not in env and "LOKI_PASSWORD" not in env
    assert secret_names(platform, "sophia-local-log-shipper") == {"ACCESS_TOKEN", "LOKI_PASSWORD"}
