"""What site.yml left running: each service's containers as planned, answering through Fly's proxy, scraped by
Prometheus, and the GPU node over SSH. Read-only: these tests change nothing."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import testinfra
from conftest import PROJECT, SERVICES, app_of, container_of, http, port, until

# The services the local inventory makes public (TLS-only on Fly; plain HTTP on the proxy's loopback port).
PUBLIC = ["unified_api", "agent_ui"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_with_its_planned_env_secrets_and_volume(fly, engine, service):
    machines = fly.machines(service)
    started = [m for m in machines if m["state"] == "started"]
    minimum = started[0]["config"]["services"][0].get("min_machines_running", 1)
    assert len(started) >= max(minimum, 1), [(m["id"], m["state"]) for m in machines]
    for machine in started:
        record = engine.inspect(container_of(machine))
        assert record and record["State"]["Running"], machine["id"]
        host = testinfra.get_host("docker://" + container_of(machine))
        names = set(host.check_output("env | cut -d= -f1").split())
        # The config's environment and the app's secrets arrive by name (the values are not read here).
        assert set(machine["config"].get("env") or {}) <= names
        status, secrets = fly.api("GET", "/apps/%s/secrets" % app_of(service))
        assert {s["name"] for s in secrets.get("secrets", secrets)} <= names
        # The volume is mounted where the config says, and is a Docker volume of the stack.
        for mount in machine["config"].get("mounts") or []:
            assert host.mount_point(mount["path"]).exists, mount
            assert any(m["Destination"] == mount["path"] and m["Type"] == "volume" for m in record["Mounts"])


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_readiness_answer_through_the_proxy(fly, service):
    base = fly.public_url(service) if service in PUBLIC else fly.flycast_url(service)
    status, body = http("GET", base + "/health")
    assert status == 200, body
    # Ready means every upstream the service names answers (databases included): bounded, as checks settle.
    until("%s ready" % service, lambda: http("GET", base + "/ready")[0] == 200, timeout=60)


def test_prometheus_has_every_target_up(fly, engine):
    prometheus = [m for m in fly.started("monitoring")
                  if (m["config"].get("metadata") or {}).get("fly_process_group", "app") == "app"]
    assert prometheus, "no Prometheus machine"
    # The host reaches a container's address on the stack's networks (its bridges are the host's).
    networks = engine.inspect(container_of(prometheus[0]))["NetworkSettings"]["Networks"]
    address = next(iter(networks.values()))["IPAddress"]

    def targets():
        status, answer = http("GET", "http://%s:9090/api/v1/targets" % address)
        if status != 200:
            return None
        active = answer["data"]["activeTargets"]
        down = [(t["labels"].get("job"), t["scrapeUrl"], t["lastError"]) for t in active if t["health"] != "up"]
        jobs = {t["labels"].get("job") for t in active}
        print("targets:", len(active), "down:", down)
        return jobs if active and not down else None

    jobs = until("every Prometheus target up", targets, timeout=120, interval=5)
    assert set(SERVICES) | {"alertmanager", "log-shipper", "gpu-nodes", "gpu-metrics"} <= jobs, jobs


def test_the_gpu_node_answers_ssh_refuses_passwords_and_runs_its_worker(lambda_cloud):
    nodes = [i for i in lambda_cloud.instances() if i["status"] == "active"]
    assert nodes, "no active GPU node"
    for node in nodes:
        # Password authentication is not offered at all.
        probe = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
                                "-o", "ConnectTimeout=10", "ubuntu@" + node["ip"], "true"],
                               capture_output=True, text=True, timeout=30, check=False)
        assert probe.returncode != 0 and "Permission denied" in probe.stderr, probe.stderr
        # With the pool's key (beside ansible.cfg, as roles/lambda_fleet keeps it) the worker runs.
        worker = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                 "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
                                 "-i", str(PROJECT / ".cache" / "ssh" / "local" / "sophia-local-gpu"),
                                 "ubuntu@" + node["ip"], "systemctl is-active sophia-gpu-worker"],
                                capture_output=True, text=True, timeout=30, check=False)
        assert worker.stdout.strip() == "active", (worker.stdout, worker.stderr)


def test_a_request_line_reaches_the_log_sink_through_the_log_shipper(fly):
    """Fly's log path in small: the machine's stdout on the organisation's NATS log stream, the log shipper
    (roles/log_shipper) subscribed to it, the Loki stand-in it pushes to. A request tagged with an id of its
    own must come out at the far end."""
    request_id = "log-trace-" + uuid.uuid4().hex
    status, body = http("GET", fly.public_url("unified_api") + "/health", headers={"X-Request-Id": request_id})
    assert status == 200, body
    sink = "http://127.0.0.1:%d/lines?contains=%s" % (port("logsink"), request_id)

    def shipped():
        status, lines = http("GET", sink)
        return lines if status == 200 and lines else None

    lines = until("the request's log line in the sink", shipped, timeout=60, interval=2)
    entry = json.loads(lines[-1]["line"])
    assert entry["request_id"] == request_id and entry["path"] == "/health", entry
    assert entry["service"] == "unified_api", entry
