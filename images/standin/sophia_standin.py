"""TEST FIXTURE: a stand-in for the six Sophia services. It is NOT the product.

The local Docker stack needs something behind each image the inventory deploys (Weaviate, the MCP
server, the vector store, the Unified API, the Agno bridge, the Agent UI) that behaves like a service
from the outside: it answers its health check, says whether its upstreams answer, exposes Prometheus
metrics, keeps data on its volume, shows which secrets it received (names only) and, as the Unified
API, queues GPU jobs on Redis. None of the real services' logic is here.

Configured by the environment (baked into each image tag by scripts/images, see images.json):

    SOPHIA_SERVICE      service name (unified_api, mcp_server, vector_store, agno_bridge, agent_ui, weaviate, ...)
    PORT                port to listen on (default 8080)
    SOPHIA_HEALTH_PATH  the service's own health path, served besides /health
    SOPHIA_DATA_DIR     where PUT /data/<key> writes (the mounted volume; default /data)
    SOPHIA_IMAGE        the image reference it runs as (/version, sophia_standin_info)
    SOPHIA_METRICS_PORT optional second port serving the same endpoints (Weaviate's metrics are on 2112)
    SOPHIA_BIND         address to listen on (default 0.0.0.0)
    SOPHIA_UPSTREAM_TIMEOUT  seconds each readiness probe may take (default 2)
    SOPHIA_HEALTH_STATUS     status the health paths answer (default 200; e.g. 503 makes a broken version
                             for rollback tests: scripts/images tag REF SERVICE SOPHIA_HEALTH_STATUS=503)
    SOPHIA_LATENCY_MS        time added to every answer but /metrics (default 0; for load tests)

Endpoints: <health path> and /health, /ready, /metrics, PUT/GET /data/<key>, /env, /version and, for
unified_api, POST /gpu/jobs and GET /gpu/jobs/<id>. One JSON log line per request on stdout.

The standard library only, plus Debian's python3-redis and python3-psycopg2, imported when first used:
without them the program still runs (the unit tests run it on the host) and reports those upstreams failing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The upstreams each service's readiness depends on: environment variables holding their URLs.
UPSTREAMS = {
    "unified_api": ["MCP_SERVER_URL", "VECTOR_STORE_URL", "DATABASE_URL", "REDIS_URL"],
    "mcp_server": ["WEAVIATE_URL"],
    "vector_store": ["WEAVIATE_URL"],
    "agno_bridge": ["UNIFIED_API_URL"],
    "agent_ui": ["AGNO_BRIDGE_URL"],
}
# Latency buckets (seconds): fine around the plan's 200 ms P95, coarse above a second.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUEST_ID_RE = re.compile(r"[^A-Za-z0-9._:-]")
MAX_BODY = 1 << 20
GPU_QUEUE = "sophia:gpu:jobs"
GPU_RESULT = "sophia:gpu:results:%s"
READY_CACHE_SECONDS = 5.0


class Config:
    def __init__(self, environ):
        self.service = environ.get("SOPHIA_SERVICE", "standin")
        self.port = int(environ.get("PORT", "8080"))
        self.metrics_port = int(environ.get("SOPHIA_METRICS_PORT") or 0)
        self.bind = environ.get("SOPHIA_BIND", "0.0.0.0")
        health = environ.get("SOPHIA_HEALTH_PATH", "/health") or "/health"
        self.health_path = health if health.startswith("/") else "/" + health
        self.data_dir = environ.get("SOPHIA_DATA_DIR", "/data")
        self.image = environ.get("SOPHIA_IMAGE", "sophia-local/standin:latest")
        self.timeout = float(environ.get("SOPHIA_UPSTREAM_TIMEOUT", "2"))
        self.health_status = int(environ.get("SOPHIA_HEALTH_STATUS") or 200)
        self.latency = max(0.0, float(environ.get("SOPHIA_LATENCY_MS") or 0) / 1000.0)
        self.upstreams = UPSTREAMS.get(self.service, [])
        self.env_names = sorted(environ)
        self.environ = dict(environ)


# --- metrics -------------------------------------------------------------------------------------

def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self):
        self.lock = threading.Lock()
        self.series = {}  # (method, path, status) -> [bucket counts..., sum, count]
        self.started = time.time()

    def observe(self, method, path, status, seconds):
        key = (method, path, str(status))
        with self.lock:
            row = self.series.get(key)
            if row is None:
                row = self.series[key] = [0] * len(BUCKETS) + [0.0, 0]
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[index] += 1
            row[-2] += seconds
            row[-1] += 1

    def render(self, config, ready):
        lines = [
            "# HELP http_request_duration_seconds Time to answer an HTTP request, by method, path template and status.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        with self.lock:
            snapshot = sorted((key, list(row)) for key, row in self.series.items())
        for (method, path, status), row in snapshot:
            labels = 'method="%s",path="%s",status="%s"' % (_label(method), _label(path), _label(status))
            for index, bound in enumerate(BUCKETS):
                lines.append('http_request_duration_seconds_bucket{%s,le="%s"} %d' % (labels, repr(bound), row[index]))
            lines.append('http_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (labels, row[-1]))
            lines.append("http_request_duration_seconds_sum{%s} %.6f" % (labels, row[-2]))
            lines.append("http_request_duration_seconds_count{%s} %d" % (labels, row[-1]))
        lines += [
            "# HELP sophia_standin_ready 1 when every upstream answered at the last readiness check.",
            "# TYPE sophia_standin_ready gauge",
            "sophia_standin_ready %d" % (1 if ready else 0),
            "# HELP sophia_standin_info The service this stand-in plays and the image it runs as (a test fixture).",
            "# TYPE sophia_standin_info gauge",
            'sophia_standin_info{service="%s",image="%s"} 1' % (_label(config.service), _label(config.image)),
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            "process_start_time_seconds %.3f" % self.started,
        ]
        return "\n".join(lines) + "\n"


# --- upstreams -----------------------------------------------------------------------------------

def _target(url):
    """host:port of a URL, never its credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        default = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379}
        return "%s:%s" % (parts.hostname or "?", parts.port or default.get(parts.scheme, "?"))
    except ValueError:
        return "?"


def _redact(text, url):
    """An error message without the URL's password (drivers may echo the URL)."""
    text = str(text).strip().splitlines()[0] if str(text).strip() else type(text).__name__
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***").replace(urllib.parse.quote(password, safe=""), "***")
    return text.replace(url, _target(url))[:300]


def _probe_http(url, timeout):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url.rstrip("/") + "/health", timeout=timeout) as response:
        response.read(4096)
        if response.status != 200:
            raise RuntimeError("HTTP %s" % response.status)


def _probe_postgres(url, timeout):
    import psycopg2  # noqa: WPS433 (lazy: absent on the host, present in the image)

    connection = psycopg2.connect(url, connect_timeout=max(1, int(round(timeout))),
                                  options="-c statement_timeout=%d" % int(timeout * 1000))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


_redis_clients = {}
_redis_lock = threading.Lock()


def redis_client(url, timeout):
    """One pooled client per URL (redis-py's client is thread-safe)."""
    import redis  # noqa: WPS433 (lazy: absent on the host, present in the image)

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30)
        return client


def _probe_redis(url, timeout):
    if not redis_client(url, timeout).ping():
        raise RuntimeError("PING failed")


def probe(url, timeout):
    """(state, detail) of one upstream: ("ok", target) or ("failing", reason)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower() if url else ""
    checks = {"http": _probe_http, "https": _probe_http, "postgresql": _probe_postgres, "postgres": _probe_postgres,
              "redis": _probe_redis, "rediss": _probe_redis}
    if scheme not in checks:
        return "failing", "unsupported URL scheme %r" % scheme
    try:
        checks[scheme](url, timeout)
        return "ok", ""
    except ImportError as error:
        return "failing", "client library missing (%s)" % error.name
    except urllib.error.HTTPError as error:
        return "failing", "HTTP %s" % error.code
    except Exception as error:  # noqa: BLE001 (any failure of an upstream is "not ready", with its reason)
        return "failing", "%s: %s" % (type(error).__name__, _redact(error, url))


class Readiness:
    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.last = None  # (time, ready, report)

    def check(self):
        """(ready, {NAME: {state, target, error}}): every upstream probed in parallel, each bounded."""
        report, probes, results = {}, {}, {}
        for name in self.config.upstreams:
            url = self.config.environ.get(name, "")
            if not url:
                report[name] = {"state": "missing", "target": None, "error": "%s is not set" % name}
                continue
            # Daemon threads, not a pool: a probe stuck past its timeout never delays the process's exit.
            thread = threading.Thread(target=self._probe_into, args=(results, name, url), daemon=True)
            thread.start()
            probes[name] = (url, thread)
        deadline = time.monotonic() + self.config.timeout + 1
        for name, (url, thread) in probes.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            state, detail = results.get(name) or ("failing", "no answer within %gs" % self.config.timeout)
            report[name] = {"state": state, "target": _target(url), "error": detail or None}
        ready = all(item["state"] == "ok" for item in report.values())
        with self.lock:
            self.last = (time.monotonic(), ready, report)
        return ready, report

    def _probe_into(self, results, name, url):
        results[name] = probe(url, self.config.timeout)

    def recent(self):
        """The last result when it is fresh, else a new check (for /metrics)."""
        with self.lock:
            last = self.last
        if last and time.monotonic() - last[0] < READY_CACHE_SECONDS:
            return last[1]
        return self.check()[0]


# --- data ----------------------------------------------------------------------------------------

def write_durably(directory, key, body):
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % key, dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, os.path.join(directory, key))
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    # The rename itself must reach the disk too.
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


# --- HTTP ----------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as load tools and proxies expect
    server_version = "sophia-standin/1"
    config = None
    metrics = None
    readiness = None

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        # The one line per request is written by _finish; the base class's access log is not wanted.
        pass

    def log_error(self, format, *args):  # noqa: A002
        sys.stderr.write("standin: %s\n" % (format % args))
        sys.stderr.flush()

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_PUT(self):
        self._handle("PUT")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    # --- dispatch -------------------------------------------------------------------------------
    def _handle(self, method):
        started = time.perf_counter()
        raw_id = self.headers.get("X-Request-Id") or ""
        self.request_id = REQUEST_ID_RE.sub("", raw_id)[:128] or uuid.uuid4().hex
        path = urllib.parse.urlsplit(self.path).path
        template, status = "other", 500
        try:
            template, status, body, content_type = self._route(method, path)
        except Exception as error:  # noqa: BLE001 (a fixture answers 500 and says why on stderr)
            self.log_error("%s %s failed: %s: %s", method, path, type(error).__name__, error)
            body, content_type = self._json({"error": "internal error"}), "application/json"
        # Counted before the answer goes out: a client that has its answer finds it in /metrics.
        seconds = time.perf_counter() - started
        self.metrics.observe(method, template, status, seconds)
        self._send(status, body, content_type, head=(method == "HEAD"))
        line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "service": self.config.service,
                "request_id": self.request_id, "method": method, "path": path, "status": status,
                "duration_ms": round(seconds * 1000, 3)}
        sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
        sys.stdout.flush()

    def _route(self, method, path):
        config = self.config
        if config.latency and path != "/metrics":
            time.sleep(config.latency)
        if path in ("/health", config.health_path) and method in ("GET", "HEAD"):
            template = "/health" if path == "/health" else config.health_path
            status = config.health_status
            body = {"status": "ok" if status == 200 else "failing", "service": config.service}
            return template, status, self._json(body), "application/json"
        if path == "/ready" and method in ("GET", "HEAD"):
            ready, report = self.readiness.check()
            body = {"ready": ready, "service": config.service, "upstreams": report}
            return "/ready", 200 if ready else 503, self._json(body), "application/json"
        if path == "/metrics" and method in ("GET", "HEAD"):
            text = self.metrics.render(config, self.readiness.recent())
            return "/metrics", 200, text.encode(), "text/plain; version=0.0.4; charset=utf-8"
        if path == "/env" and method in ("GET", "HEAD"):
            return "/env", 200, self._json({"names": config.env_names}), "application/json"
        if path == "/version" and method in ("GET", "HEAD"):
            return "/version", 200, self._json({"image": config.image, "service": config.service}), "application/json"
        if path.startswith("/data/"):
            return ("/data/{key}",) + self._data(method, path[len("/data/"):])
        if config.service == "unified_api" and path == "/gpu/jobs" and method == "POST":
            return ("/gpu/jobs",) + self._submit_job()
        if config.service == "unified_api" and path.startswith("/gpu/jobs/") and method in ("GET", "HEAD"):
            return ("/gpu/jobs/{id}",) + self._job_result(path[len("/gpu/jobs/"):])
        if path == "/" and method in ("GET", "HEAD"):
            body = {"service": config.service, "image": config.image,
                    "fixture": "sophia stand-in (test fixture, not the product)"}
            return "/", 200, self._json(body), "application/json"
        return "other", 404, self._json({"error": "not found"}), "application/json"

    # --- endpoints ------------------------------------------------------------------------------
    def _data(self, method, raw_key):
        key = urllib.parse.unquote(raw_key)
        if not KEY_RE.match(key):
            return 400, self._json({"error": "invalid key"}), "application/json"
        target = os.path.join(self.config.data_dir, key)
        if method == "PUT":
            body = self._body()
            if body is None:
                return 413, self._json({"error": "body over %d bytes" % MAX_BODY}), "application/json"
            write_durably(self.config.data_dir, key, body)
            return 201, self._json({"key": key, "bytes": len(body)}), "application/json"
        if method in ("GET", "HEAD"):
            try:
                with open(target, "rb") as stream:
                    return 200, stream.read(), "application/octet-stream"
            except FileNotFoundError:
                return 404, self._json({"error": "no such key"}), "application/json"
        return 405, self._json({"error": "method not allowed"}), "application/json"

    def _submit_job(self):
        body = self._body()
        if body is None:
            return 413, self._json({"error": "body over %d bytes" % MAX_BODY}), "application/json"
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return 400, self._json({"error": "the body is not JSON"}), "application/json"
        client = self._redis()
        if client is None:
            return 503, self._json({"error": "REDIS_URL is not usable"}), "application/json"
        job_id = uuid.uuid4().hex
        try:
            client.rpush(GPU_QUEUE, json.dumps({"id": job_id, "payload": payload}))
        except Exception as error:  # noqa: BLE001
            return 503, self._json({"error": "redis: %s" % type(error).__name__}), "application/json"
        return 202, self._json({"id": job_id, "status": "queued"}), "application/json"

    def _job_result(self, job_id):
        if not JOB_ID_RE.match(job_id):
            return 400, self._json({"error": "invalid job id"}), "application/json"
        client = self._redis()
        if client is None:
            return 503, self._json({"error": "REDIS_URL is not usable"}), "application/json"
        try:
            stored = client.get(GPU_RESULT % job_id)
        except Exception as error:  # noqa: BLE001
            return 503, self._json({"error": "redis: %s" % type(error).__name__}), "application/json"
        if stored is None:
            return 202, self._json({"id": job_id, "status": "pending"}), "application/json"
        try:
            result = json.loads(stored)
        except ValueError:
            return 502, self._json({"id": job_id, "error": "the stored result is not JSON"}), "application/json"
        return 200, self._json(result), "application/json"

    # --- helpers --------------------------------------------------------------------------------
    def _redis(self):
        url = self.config.environ.get("REDIS_URL", "")
        if not url:
            return None
        try:
            return redis_client(url, self.config.timeout)
        except ImportError:
            return None

    def _body(self):
        """The request body (b"" when none), or None when it is too large."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _json(value):
        return (json.dumps(value, sort_keys=True) + "\n").encode()

    def _send(self, status, body, content_type, head=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", self.request_id)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True  # in-flight requests never hold up an exit
    allow_reuse_address = True
    request_queue_size = 128


def make_server(config, port, metrics, readiness):
    handler = type("BoundHandler", (Handler,), {"config": config, "metrics": metrics, "readiness": readiness})
    family = socket.AF_INET6 if ":" in config.bind else socket.AF_INET
    server_class = type("BoundServer", (Server,), {"address_family": family})
    return server_class((config.bind, port), handler)


def main():
    config = Config(os.environ)
    metrics, readiness = Metrics(), Readiness(config)
    try:
        os.makedirs(config.data_dir, exist_ok=True)
    except OSError as error:  # reported, not fatal: /data answers 500 until the volume is there
        sys.stderr.write("standin: data dir %s: %s\n" % (config.data_dir, error))
    servers = [make_server(config, config.port, metrics, readiness)]
    if config.metrics_port and config.metrics_port != config.port:
        servers.append(make_server(config, config.metrics_port, metrics, readiness))

    def stop(signum, frame):
        raise SystemExit(0)

    # As PID 1 in a container a signal without a handler is ignored: SIGTERM must end the process at once.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for extra in servers[1:]:
        threading.Thread(target=extra.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sys.stdout.write(json.dumps({"event": "listening", "service": config.service, "image": config.image,
                                 "port": config.port, "metrics_port": config.metrics_port or None,
                                 "fixture": "sophia stand-in (test fixture, not the product)"}) + "\n")
    sys.stdout.flush()
    try:
        servers[0].serve_forever(poll_interval=0.2)
    finally:
        for server in servers:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
