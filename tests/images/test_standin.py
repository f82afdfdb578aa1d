"""The stand-in for the six Sophia services (a test fixture, images/standin/sophia_standin.py), run on the
host as a process on a free loopback port: no Docker. What the local stack's checks, Prometheus and the
redeploy tests rely on: health, readiness against its upstreams, the metrics format, data kept across a
restart, keys that cannot leave the data directory, secret values never shown, the version, one log line
per request and a quick exit on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulators.stack import free_port
from tests.images.standin_process import Standin, parse_metrics


@pytest.fixture
def standins(tmp_path):
    """Start stand-ins (Standin(...) arguments); all stopped at the end."""
    started = []

    def start(service="unified_api", data_dir=None, **options):
        process = Standin(data_dir or tmp_path / ("data-%d" % len(started)), service=service, **options).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


class FakeUpstream:
    """An HTTP upstream on a free loopback port answering every GET with ``status``; it records the paths."""

    def __init__(self, status=200):
        self.status = status
        self.paths = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                upstream.paths.append(self.path)
                body = b'{"status": "ok"}'
                self.send_response(upstream.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    servers = []

    def make(status=200):
        servers.append(FakeUpstream(status))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def closed_url(scheme="http"):
    """A loopback URL where nothing listens."""
    return "%s://127.0.0.1:%d" % (scheme, free_port())


# --- health and readiness --------------------------------------------------------------------------------

def test_health_answers_on_both_paths(standins):
    agent_ui = standins("agent_ui", health_path="/api/health")
    for path in ("/health", "/api/health"):
        status, body = agent_ui.json("GET", path)
        assert (status, body["status"], body["service"]) == (200, "ok", "agent_ui")
    assert agent_ui.request("HEAD", "/api/health")[0] == 200
    assert agent_ui.request("GET", "/nothing-here")[0] == 404


def test_health_status_can_be_made_to_fail(standins):
    """A broken version for rollback tests: scripts/images tag REF SERVICE SOPHIA_HEALTH_STATUS=503."""
    broken = standins("agno_bridge", env={"SOPHIA_HEALTH_STATUS": "503"})
    assert broken.request("GET", "/health")[0] == 503


def test_ready_fails_when_upstreams_do_not_answer(standins):
    api = standins("unified_api", env={"MCP_SERVER_URL": closed_url(), "DATABASE_URL": closed_url("postgresql") + "/db",
                                       "REDIS_URL": closed_url("redis") + "/0"})
    started = time.monotonic()
    status, body = api.json("GET", "/ready")
    print("unified_api /ready with unreachable upstreams answered in %.2fs" % (time.monotonic() - started))
    assert status == 503 and body["ready"] is False
    states = {name: item["state"] for name, item in body["upstreams"].items()}
    assert states == {"MCP_SERVER_URL": "failing", "VECTOR_STORE_URL": "missing", "DATABASE_URL": "failing",
                      "REDIS_URL": "failing"}
    assert body["upstreams"]["MCP_SERVER_URL"]["error"]


def test_ready_passes_when_every_upstream_answers(standins, upstream):
    bridge = upstream(200)
    agent_ui = standins("agent_ui", env={"AGNO_BRIDGE_URL": bridge.url + "/"})
    status, body = agent_ui.json("GET", "/ready")
    assert status == 200 and body["ready"] is True
    assert body["upstreams"] == {"AGNO_BRIDGE_URL": {"state": "ok", "target": bridge.url[len("http://"):],
                                                     "error": None}}
    assert bridge.paths == ["/health"]


def test_ready_fails_when_an_upstream_answers_an_error(standins, upstream):
    weaviate = upstream(500)
    mcp = standins("mcp_server", env={"WEAVIATE_URL": weaviate.url})
    status, body = mcp.json("GET", "/ready")
    assert status == 503
    assert body["upstreams"]["WEAVIATE_URL"]["state"] == "failing"
    assert "500" in body["upstreams"]["WEAVIATE_URL"]["error"]


def test_a_service_without_upstreams_is_ready(standins):
    weaviate = standins("weaviate", health_path="/v1/.well-known/ready")
    assert weaviate.json("GET", "/ready") == (200, {"ready": True, "service": "weaviate", "upstreams": {}})


# --- metrics ---------------------------------------------------------------------------------------------

def test_metrics_are_prometheus_text_with_a_latency_histogram(standins, tmp_path):
    api = standins("unified_api", health_path="/healthz")
    for path in ("/healthz", "/healthz", "/version"):
        api.request("GET", path)
    api.request("PUT", "/data/one", body=b"x")
    api.request("PUT", "/data/two", body=b"y")
    api.request("GET", "/ready")  # 503: no upstream configured
    status, headers, raw = api.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = raw.decode()
    families = parse_metrics(text)

    histogram = families["http_request_duration_seconds"]
    assert histogram["type"] == "histogram"
    series = {}
    for name, labels, value in histogram["samples"]:
        key = (labels["method"], labels["path"], labels["status"])
        series.setdefault(key, {"buckets": []})
        if name.endswith("_bucket"):
            series[key]["buckets"].append((labels["le"], value))
        else:
            series[key][name.rsplit("_", 1)[1]] = value
    # Path templates, not raw paths: keys never become label values.
    assert ("GET", "/healthz", "200") in series and ("PUT", "/data/{key}", "201") in series
    assert ("GET", "/ready", "503") in series
    assert not any("one" in path or "two" in path for dummy, path, dummy2 in series)
    assert series[("GET", "/healthz", "200")]["count"] == 2
    assert series[("PUT", "/data/{key}", "201")]["count"] == 2
    for key, item in series.items():
        bounds = [le for le, dummy in item["buckets"]]
        counts = [value for dummy, value in item["buckets"]]
        assert bounds[-1] == "+Inf" and counts[-1] == item["count"], key
        assert counts == sorted(counts), "buckets are cumulative: %s" % (key,)
        assert {"0.005", "0.01", "0.1", "0.2", "0.5", "1.0"} <= set(bounds), key
        assert item["sum"] >= 0

    ready = families["sophia_standin_ready"]
    assert ready["type"] == "gauge" and [value for dummy, dummy2, value in ready["samples"]] == [0.0]
    info = families["sophia_standin_info"]["samples"]
    assert info == [("sophia_standin_info", {"service": "unified_api", "image": api.env["SOPHIA_IMAGE"]}, 1.0)]
    assert families["process_start_time_seconds"]["samples"][0][2] > 0

    # Prometheus's own checker agrees (Debian's prometheus package, as tests/monitoring uses it).
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not found: install Debian's prometheus package")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ready_gauge_follows_the_upstreams(standins, upstream):
    bridge = upstream(200)
    agent_ui = standins("agent_ui", env={"AGNO_BRIDGE_URL": bridge.url})
    samples = parse_metrics(agent_ui.request("GET", "/metrics")[2].decode())["sophia_standin_ready"]["samples"]
    assert samples[0][2] == 1.0


def test_a_second_port_serves_the_metrics(standins):
    """Weaviate's metrics are scraped on 2112, the log shipper's on 9598: SOPHIA_METRICS_PORT."""
    metrics_port = free_port()
    weaviate = standins("weaviate", env={"SOPHIA_METRICS_PORT": str(metrics_port)})
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 200 and "sophia_standin_info" in response.read().decode()
    connection.close()
    assert weaviate.request("GET", "/metrics")[0] == 200


# --- data ------------------------------------------------------------------------------------------------

def test_data_survives_a_restart(standins, tmp_path):
    data_dir = tmp_path / "volume"
    first = standins("mcp_server", data_dir=data_dir)
    payload = os.urandom(2048)
    assert first.request("PUT", "/data/memory.db", body=payload)[0] == 201
    assert first.request("GET", "/data/memory.db")[2] == payload
    assert first.request("GET", "/data/absent")[0] == 404
    assert first.stop() == 0
    second = standins("mcp_server", data_dir=data_dir)
    status, dummy, body = second.request("GET", "/data/memory.db")
    assert (status, body) == (200, payload)
    # Overwrites replace the value whole; no temporary file stays behind.
    assert second.request("PUT", "/data/memory.db", body=b"v2")[0] == 201
    assert second.request("GET", "/data/memory.db")[2] == b"v2"
    assert sorted(os.listdir(data_dir)) == ["memory.db"]


@pytest.mark.parametrize("raw_key", ["..", "../outside", "..%2Foutside", "%2e%2e%2foutside", "%2E%2E", ".hidden",
                                     "a/b", "a%2Fb", "%00", "x%00y", "", "/etc/passwd", "%2Fetc%2Fpasswd",
                                     "a" * 200, "sp%20ace", "..\\outside"])
def test_keys_cannot_leave_the_data_directory(standins, tmp_path, raw_key):
    data_dir = tmp_path / "volume" / "data"
    api = standins("unified_api", data_dir=data_dir)
    status, dummy, body = api.request("PUT", "/data/" + raw_key, body=b"escaped")
    assert status == 400, (raw_key, status, body)
    assert api.request("GET", "/data/" + raw_key)[0] == 400
    written = [os.path.join(folder, name) for folder, dummy, names in os.walk(tmp_path) for name in names]
    assert not written, written


def test_oversized_bodies_are_refused(standins):
    api = standins("unified_api")
    status = api.request("PUT", "/data/big", body=b"x" * ((1 << 20) + 1))[0]
    assert status == 413
    assert api.request("GET", "/data/big")[0] == 404


# --- environment, secrets, version -----------------------------------------------------------------------

def test_env_shows_names_and_never_values(standins):
    canary = "canary-" + uuid.uuid4().hex
    db_password = "dbpw-" + uuid.uuid4().hex
    redis_password = "rdpw-" + uuid.uuid4().hex
    api = standins("unified_api", env={
        "JWT_SECRET": canary, "OPENAI_API_KEY": canary,
        "DATABASE_URL": "postgresql://sophia:%s@127.0.0.1:%d/sophia" % (db_password, free_port()),
        "REDIS_URL": "redis://default:%s@127.0.0.1:%d/0" % (redis_password, free_port()),
        "MCP_SERVER_URL": closed_url()})
    status, body = api.json("GET", "/env")
    assert status == 200
    assert {"JWT_SECRET", "OPENAI_API_KEY", "DATABASE_URL", "REDIS_URL", "SOPHIA_SERVICE"} <= set(body["names"])
    assert body["names"] == sorted(body["names"])
    answers = [api.request("GET", path, headers={"X-Request-Id": "canary-check"})
               for path in ("/env", "/health", "/ready", "/metrics", "/version", "/", "/data/x", "/gpu/jobs/abc")]
    answers.append(api.request("POST", "/gpu/jobs", body=b"{}"))
    everything = "".join(json.dumps(headers) + body.decode("utf-8", "replace") for dummy, headers, body in answers)
    everything += "\n".join(api.lines)
    for secret in (canary, db_password, redis_password):
        assert secret not in everything


def test_version_names_the_image(standins):
    api = standins("vector_store", image="registry.fly.io/sophia-vector-store:1.0.1")
    assert api.json("GET", "/version") == (200, {"image": "registry.fly.io/sophia-vector-store:1.0.1",
                                                 "service": "vector_store"})


# --- GPU jobs (the Unified API only; the real queue is tested with Redis in test_images_built.py) ----------

def test_gpu_jobs_are_the_unified_apis_alone(standins):
    bridge = standins("agno_bridge")
    assert bridge.request("POST", "/gpu/jobs", body=b"{}")[0] == 404
    assert bridge.request("GET", "/gpu/jobs/abc")[0] == 404


def test_gpu_jobs_need_redis(standins):
    api = standins("unified_api", env={"REDIS_URL": closed_url("redis") + "/0"})
    assert api.request("POST", "/gpu/jobs", body=b'{"model": "x"}')[0] == 503
    assert api.request("POST", "/gpu/jobs", body=b"not json")[0] == 400
    assert api.request("GET", "/gpu/jobs/..%2Fx")[0] == 400
    without = standins("unified_api")
    assert without.request("POST", "/gpu/jobs", body=b"{}")[0] == 503


# --- logs and signals ------------------------------------------------------------------------------------

def test_one_log_line_per_request_with_its_request_id(standins):
    api = standins("unified_api", health_path="/healthz")
    request_id = "req-" + uuid.uuid4().hex
    status, headers, dummy = api.request("GET", "/healthz", headers={"X-Request-Id": request_id})
    assert status == 200 and headers["X-Request-Id"] == request_id
    generated = api.request("GET", "/version")[1]["X-Request-Id"]
    lines = api.log_lines(wait_for=generated)
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert len(mine) == 1
    assert {key: mine[0][key] for key in ("method", "path", "status", "service")} == {
        "method": "GET", "path": "/healthz", "status": 200, "service": "unified_api"}
    assert mine[0]["duration_ms"] >= 0
    assert len(generated) == 32
    assert [line["path"] for line in lines if line.get("request_id") == generated] == ["/version"]


def test_request_ids_cannot_forge_log_lines(standins):
    api = standins("unified_api")
    status, headers, dummy = api.request("GET", "/health", headers={"X-Request-Id": 'a"b\\c} {"forged": 1'})
    assert status == 200
    lines = api.log_lines(wait_for=headers["X-Request-Id"])
    assert headers["X-Request-Id"] == "abcforged:1"
    assert not any("forged" in line for line in lines)


def test_sigterm_ends_the_process_cleanly(standins, upstream):
    api = standins("agent_ui", env={"AGNO_BRIDGE_URL": "http://10.255.255.1:9"})  # a probe left hanging
    threading.Thread(target=lambda: api.request("GET", "/ready"), daemon=True).start()
    time.sleep(0.2)
    started = time.monotonic()
    code = api.stop(deadline_seconds=10)
    print("stand-in exited %.3fs after SIGTERM" % (time.monotonic() - started))
    assert code == 0
