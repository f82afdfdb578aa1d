"""The images, built and run: `scripts/images build` (nothing rebuilt when current), then containers of a
stack of this test's own on one network: PostgreSQL and Redis with their credentials, the stand-ins as the
inventory's image refs (the Unified API ready against all four upstreams, a GPU job queued on the real Redis,
data kept on a volume across a new container), and Prometheus and Alertmanager as the monitoring refs run
them. Everything the stack made is removed at the end (tests/support/docker.py)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psycopg2
import pytest
import redis

from tests.support.ansible_cli import REPO_ROOT

pytestmark = pytest.mark.docker

SCRIPT = REPO_ROOT / "scripts" / "images"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def built_images():
    """scripts/images build, once for the module (minutes from nothing, about a second when current)."""
    started = time.monotonic()
    done = subprocess.run([str(SCRIPT), "build"], capture_output=True, text=True, check=False, timeout=1800)
    print("scripts/images build: %.1fs\n%s" % (time.monotonic() - started, done.stdout))
    assert done.returncode == 0, done.stdout + done.stderr
    listing = subprocess.run([str(SCRIPT), "list"], capture_output=True, text=True, check=False, timeout=120)
    assert listing.returncode == 0 and "to build" not in listing.stdout and "to tag" not in listing.stdout, \
        listing.stdout
    return listing.stdout


def tar_of(files):
    """A tar archive (bytes) of {path: text}, for put_archive at /."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Stack:
    """Containers of one test stack on its own network, each port published on 127.0.0.1."""

    def __init__(self, engine):
        self.engine = engine
        self.network = engine.stack + "-net"
        engine.ensure_network(self.network)

    def run(self, name, image, env=None, aliases=(), ports=(), mounts=None, files=None, start=True):
        spec = {
            "Image": image,
            "Env": ["%s=%s" % item for item in (env or {}).items()],
            "Labels": self.engine.labels(),
            "ExposedPorts": {"%d/tcp" % port: {} for port in ports},
            "HostConfig": {
                "NetworkMode": self.network,
                "PortBindings": {"%d/tcp" % port: [{"HostIp": "127.0.0.1", "HostPort": ""}] for port in ports},
                "Mounts": [{"Type": "volume", "Source": source, "Target": target}
                           for source, target in (mounts or {}).items()],
            },
            "NetworkingConfig": {"EndpointsConfig": {self.network: {"Aliases": list(aliases)}}},
        }
        container = self.engine.create_container("%s-%s" % (self.engine.stack, name), spec)
        if files:
            self.engine.put_archive(container, "/", tar_of(files))
        if start:
            self.engine.start(container)
        return container

    def volume(self, name):
        full = "%s-%s" % (self.engine.stack, name)
        self.engine.create_volume(full)
        return full

    def host_port(self, container, port):
        ports = self.engine.inspect(container)["NetworkSettings"]["Ports"]
        return int(ports["%d/tcp" % port][0]["HostPort"])

    def logs(self, container):
        return "".join(chunk.decode("utf-8", "replace") for dummy, chunk in self.engine.logs(container))


def http(method, url, body=None, headers=None, timeout=10):
    """(status, body bytes), errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what, probe, deadline_seconds=60, interval=0.25):
    """Poll ``probe`` (truthy = done; exceptions = not yet) within a bounded time; its last value."""
    deadline = time.monotonic() + deadline_seconds
    last = None
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                print("%s after %.1fs" % (what, time.monotonic() - started))
                return last
        except Exception as error:  # noqa: BLE001 (not up yet)
            last = error
        time.sleep(interval)
    raise AssertionError("%s: not within %ss (last: %r)" % (what, deadline_seconds, last))


def test_the_stack_runs_from_the_built_images(built_images, docker_stack):
    stack = Stack(docker_stack)
    db_password = "pg-" + uuid.uuid4().hex
    redis_password = "rd-" + uuid.uuid4().hex

    postgres = stack.run("postgres", "sophia-local/postgres:latest", ports=[5432], aliases=["postgres.sophia.test"],
                         env={"POSTGRES_USER": "sophia", "POSTGRES_PASSWORD": db_password, "POSTGRES_DB": "sophia"},
                         mounts={stack.volume("pgdata"): "/var/lib/postgresql/data"})
    cache = stack.run("redis", "sophia-local/redis:latest", ports=[6379], aliases=["redis.sophia.test"],
                      env={"REDIS_PASSWORD": redis_password}, mounts={stack.volume("redisdata"): "/data"})
    for service in ("mcp-server", "vector-store"):
        stack.run(service, "registry.fly.io/sophia-%s:1.0.0" % service, aliases=[service + ".test"])
    api_volume = stack.volume("api-data")
    api_env = {
        "MCP_SERVER_URL": "http://mcp-server.test:8081", "VECTOR_STORE_URL": "http://vector-store.test:8085",
        "DATABASE_URL": "postgresql://sophia:%s@postgres.sophia.test:5432/sophia" % db_password,
        "REDIS_URL": "redis://default:%s@redis.sophia.test:6379/0" % redis_password,
    }
    api = stack.run("api", "registry.fly.io/sophia-unified-api:1.0.0", env=api_env, ports=[8003],
                    aliases=["api.test"], mounts={api_volume: "/data"})

    # PostgreSQL: the password is required over the network, and it opens the database.
    pg_port = stack.host_port(postgres, 5432)

    def connect(password):
        return psycopg2.connect(host="127.0.0.1", port=pg_port, user="sophia", password=password, dbname="sophia",
                                connect_timeout=3)

    connection = wait_for("postgres answers", lambda: connect(db_password), deadline_seconds=90)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        assert cursor.fetchone() == ("sophia", "sophia")
    connection.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect("wrong")

    # Redis: nothing without AUTH, the password opens it, append-only persistence is on.
    redis_port = stack.host_port(cache, 6379)
    wait_for("redis answers", lambda: redis.Redis(port=redis_port, password=redis_password, socket_timeout=3).ping())
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=redis_port, socket_timeout=3).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=redis_port, password="wrong", socket_timeout=3).ping()
    client = redis.Redis(port=redis_port, password=redis_password, socket_timeout=3)
    assert client.config_get("appendonly") == {"appendonly": "yes"}

    # The Unified API stand-in: its own health path, ready against its four upstreams (real drivers).
    api_url = "http://127.0.0.1:%d" % stack.host_port(api, 8003)
    wait_for("the unified API answers", lambda: http("GET", api_url + "/healthz")[0] == 200)
    ready = wait_for("the unified API is ready", lambda: http("GET", api_url + "/ready")[0] == 200 and
                     json.loads(http("GET", api_url + "/ready")[1]))
    assert {name: item["state"] for name, item in ready["upstreams"].items()} == {
        "MCP_SERVER_URL": "ok", "VECTOR_STORE_URL": "ok", "DATABASE_URL": "ok", "REDIS_URL": "ok"}
    assert json.loads(http("GET", api_url + "/version")[1])["image"] == "registry.fly.io/sophia-unified-api:1.0.0"
    env_names = json.loads(http("GET", api_url + "/env")[1])["names"]
    assert "DATABASE_URL" in env_names and db_password not in json.dumps(env_names)

    # A GPU job goes on the queue the workers read; its result is read back from the key they write.
    status, body = http("POST", api_url + "/gpu/jobs", body=b'{"prompt": "hello"}',
                        headers={"Content-Type": "application/json"})
    assert status == 202
    job_id = json.loads(body)["id"]
    queued = [json.loads(item) for item in client.lrange("sophia:gpu:jobs", 0, -1)]
    assert queued == [{"id": job_id, "payload": {"prompt": "hello"}}]
    assert http("GET", api_url + "/gpu/jobs/" + job_id) == (202, (json.dumps(
        {"id": job_id, "status": "pending"}, sort_keys=True) + "\n").encode())
    result = {"id": job_id, "status": "done", "worker": "test", "result": {"ok": True}, "finished_at": 1}
    client.set("sophia:gpu:results:" + job_id, json.dumps(result), ex=3600)
    status, body = http("GET", api_url + "/gpu/jobs/" + job_id)
    assert (status, json.loads(body)) == (200, result)

    # Data on the volume outlives the container: a new one (a replaced machine) reads it.
    assert http("PUT", api_url + "/data/kept", body=b"on the volume")[0] == 201
    request_id = "req-" + uuid.uuid4().hex
    assert http("GET", api_url + "/data/kept", headers={"X-Request-Id": request_id}) == (200, b"on the volume")
    logged = wait_for("the request's log line", lambda: [json.loads(line) for line in stack.logs(api).splitlines()
                                                         if request_id in line])
    assert logged[0]["path"] == "/data/kept" and logged[0]["status"] == 200
    docker_stack.remove(api)
    api2 = stack.run("api2", "registry.fly.io/sophia-unified-api:1.0.0", env=api_env, ports=[8003],
                     mounts={api_volume: "/data"})
    api2_url = "http://127.0.0.1:%d" % stack.host_port(api2, 8003)
    assert wait_for("the replaced unified API reads the volume",
                    lambda: http("GET", api2_url + "/data/kept")) == (200, b"on the volume")
    started = time.monotonic()
    docker_stack.stop(api2, timeout=10)
    print("stand-in container stopped %.2fs after docker stop" % (time.monotonic() - started))
    assert docker_stack.inspect(api2)["State"]["ExitCode"] == 0


def test_weaviate_and_the_log_shipper_serve_metrics_on_their_second_port(built_images, docker_stack):
    stack = Stack(docker_stack)
    weaviate = stack.run("weaviate", "semitechnologies/weaviate:1.32.0", ports=[8080, 2112])
    shipper = stack.run("shipper", "flyio/log-shipper:latest", ports=[8686, 9598])
    # Weaviate's are the stand-in's; the log shipper's are its own (what it received and shipped).
    for container, port, health, metrics, family in (
            (weaviate, 8080, "/v1/.well-known/ready", 2112, b"sophia_standin_info"),
            (shipper, 8686, "/health", 9598, b"log_shipper_shipped_total")):
        base = "http://127.0.0.1:%d" % stack.host_port(container, port)
        wait_for("%s answers" % health, lambda: http("GET", base + health)[0] == 200)
        status, body = http("GET", "http://127.0.0.1:%d/metrics" % stack.host_port(container, metrics))
        assert status == 200 and family in body, body[:300]


def test_a_new_version_is_tagged_for_redeploys(built_images, docker_stack):
    ref = "sophia-local/test-redeploy-%s:1.0.1" % uuid.uuid4().hex[:8]
    done = subprocess.run([str(SCRIPT), "tag", ref, "unified_api", "SOPHIA_HEALTH_STATUS=503"],
                          capture_output=True, text=True, check=False, timeout=600)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        stack = Stack(docker_stack)
        container = stack.run("v101", ref, ports=[8003])
        base = "http://127.0.0.1:%d" % stack.host_port(container, 8003)
        version = wait_for("the new version answers", lambda: json.loads(http("GET", base + "/version")[1]))
        assert version == {"image": ref, "service": "unified_api"}
        assert http("GET", base + "/healthz")[0] == 503
        again = subprocess.run([str(SCRIPT), "tag", ref, "unified_api", "SOPHIA_HEALTH_STATUS=503"],
                               capture_output=True, text=True, check=False, timeout=600)
        assert again.returncode == 0 and "tagging" not in again.stdout  # current: not built again
        unknown = subprocess.run([str(SCRIPT), "tag", ref, "no_such_service"], capture_output=True, text=True,
                                 check=False, timeout=60)
        assert unknown.returncode != 0 and "no service no_such_service" in unknown.stderr
    finally:
        docker_stack.remove("%s-v101" % docker_stack.stack)
        subprocess.run(["docker", "image", "rm", "-f", ref], capture_output=True, check=False, timeout=120)


def test_prometheus_and_alertmanager_run_as_the_monitoring_role_deploys_them(built_images, docker_stack):
    stack = Stack(docker_stack)
    stack.run("target", "registry.fly.io/sophia-mcp-server:1.0.0", aliases=["mcp.test"])
    prometheus_config = "\n".join([
        "global: {scrape_interval: 1s, evaluation_interval: 1s}",
        "rule_files: [/etc/prometheus/rules/*.yml]",
        "scrape_configs:",
        "  - job_name: mcp",
        "    static_configs: [{targets: ['mcp.test:8081']}]",
        ""])
    prometheus = stack.run("prometheus", "prom/prometheus:v2.53.2", ports=[9090],
                           mounts={stack.volume("tsdb"): "/prometheus"},
                           files={"/etc/prometheus/prometheus.yml": prometheus_config,
                                  "/etc/prometheus/rules/sophia.rules.yml": "groups: []\n"})
    alertmanager = stack.run("alertmanager", "prom/alertmanager:v0.27.0", ports=[9093],
                             files={"/etc/alertmanager/alertmanager.yml":
                                    "route: {receiver: sophia-none}\nreceivers: [{name: sophia-none}]\n"})
    am_url = "http://127.0.0.1:%d" % stack.host_port(alertmanager, 9093)
    wait_for("alertmanager is healthy", lambda: http("GET", am_url + "/-/healthy")[0] == 200)
    prom_url = "http://127.0.0.1:%d" % stack.host_port(prometheus, 9090)
    wait_for("prometheus is healthy", lambda: http("GET", prom_url + "/-/healthy")[0] == 200)

    def target_up():
        targets = json.loads(http("GET", prom_url + "/api/v1/targets")[1])["data"]["activeTargets"]
        return [target for target in targets if target["health"] == "up"]

    up = wait_for("prometheus scrapes the stand-in", target_up, deadline_seconds=60)
    assert up[0]["labels"]["job"] == "mcp"
    query = urllib.parse.urlencode({"query": "sophia_standin_info"})
    result = wait_for("the stand-in's series is stored", lambda: json.loads(
        http("GET", prom_url + "/api/v1/query?" + query)[1])["data"]["result"])
    assert result[0]["metric"]["service"] == "mcp_server"
