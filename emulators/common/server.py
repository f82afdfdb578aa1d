"""HTTP plumbing shared by the project's API emulators.

An emulator is a ``Service``: a set of routes plus its own state. This module
gives every service the same outer behaviour: authentication, a request id on
every answer, the request log, fault injection, rate limiting, one lock around
state, and the generic part of the ``/_emulator/`` control surface.

Both surfaces are route tables: ``add_route`` for the API under ``prefix``,
``add_control_route`` for ``/_emulator/`` (health, reset, requests, faults,
settings and saved states here; each emulator adds its own).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


class HTTPError(Exception):
    """Raised by a handler to answer with an error status and body.

    ``body`` is either the whole answer (a dict) or, as a string, the message the service
    wraps in its provider's documented error body (``Service.error_body``)."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class Request:
    def __init__(self, method, path, query, headers, body, params):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.params = params

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name):
        return str(self.arg(name, "")).lower() in ("1", "true", "yes")

    def json(self):
        """The body as a JSON object ({} when empty); anything else is the client's error."""
        if not self.body:
            return {}
        try:
            body = json.loads(self.body)
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
            raise HTTPError(400, "the request body is not valid JSON: %s" % exc) from None
        if not isinstance(body, dict):
            raise HTTPError(400, "the request body must be a JSON object, not %s" % type(body).__name__)
        return body


def schema_problem(validator, instance, where):
    """The most relevant reason ``instance`` breaks the schema, as one line, or None."""
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    location = "".join("[%r]" % part if isinstance(part, int) else ".%s" % part for part in error.absolute_path)
    return "%s%s: %s" % (where, location, error.message)


class Route:
    """``locked=False`` handlers take the service lock themselves (long polls, health).

    ``body`` and ``query`` are JSON schemas (written from the operation's request schema in
    the provider's document) checked before the handler runs. Query values are strings."""

    def __init__(self, method, pattern, handler, action, locked=True, body=None, query=None):
        self.method = method
        self.regex = re.compile("^" + pattern + "$")
        self.handler = handler
        self.action = action
        self.locked = locked
        self.body = Draft202012Validator(body) if body is not None else None
        self.query = Draft202012Validator(query) if query is not None else None

    def request_problem(self, request):
        """Why the request breaks the operation's schemas, or None."""
        if self.query is not None:
            # A repeated parameter is checked by its last value; handlers that take several read them all.
            query = {name: values[-1] for name, values in request.query.items()}
            problem = schema_problem(self.query, query, "query")
            if problem:
                return problem
        if self.body is not None:
            return schema_problem(self.body, request.json(), "body")
        return None


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self):
        """Spend one token; answer the seconds to wait when there is none."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Fault:
    def __init__(self, spec):
        self.id = uuid.uuid4().hex[:12]
        self.status = spec.get("status")
        self.count = int(spec.get("count", 1))
        self.method = spec.get("method")
        self.path_regex = re.compile(spec["path_regex"]) if spec.get("path_regex") else None
        self.lose_response = bool(spec.get("lose_response"))
        self.latency_ms = int(spec.get("latency_ms") or 0)
        self.retry_after = spec.get("retry_after")

    def matches(self, method, path):
        return (self.count > 0 and (self.method is None or self.method.upper() == method)
                and (self.path_regex is None or self.path_regex.search(path)))

    def as_dict(self):
        return {"id": self.id, "status": self.status, "count": self.count, "method": self.method,
                "path_regex": self.path_regex.pattern if self.path_regex else None,
                "lose_response": self.lose_response, "latency_ms": self.latency_ms}


class Service:
    """Base of one emulated API; subclasses add routes, state and error shapes."""

    prefix = "/v1"
    default_settings = {"rate_limits": True}

    def __init__(self, store, token, capture_path=None):
        self.store = store
        self.token = token
        # Tests set this to check every answer against the OpenAPI document.
        self.capture_path = capture_path
        self.lock = threading.RLock()
        self.routes = []
        self.control_routes = []
        self.faults = []
        self.buckets = {}
        # One dict for the service's life, changed in place: state objects may hold it.
        self.settings = dict(self.default_settings, **store.get_meta("settings", {}))
        self._control_routes()

    # --- to be specialised ---------------------------------------------------
    def error_body(self, status, message):
        return {"error": message}

    def invalid_request(self, message):
        """The provider's answer to a request that breaks the operation's schema."""
        return HTTPError(400, message)

    def rate_limit(self, route, request):
        """(bucket key, rate a second, burst) for this request, or None when unlimited."""
        raise NotImplementedError

    def rate_limited_answer(self, retry_after):
        return HTTPError(429, self.error_body(429, "rate limit exceeded"),
                         {"Retry-After": str(max(1, int(retry_after + 0.999)))})

    def authorized(self, header):
        return header in ("Bearer " + self.token, "FlyV1 " + self.token)

    def reset_state(self):
        self.store.reset()

    def apply_settings(self):
        """Called after the settings changed."""

    def restorable(self):
        """Whether a saved state is the whole truth: not when a backend runs real containers beside the records."""
        return True

    def replace_settings(self, settings):
        self.settings.clear()
        self.settings.update(settings)

    def start_with(self, overrides):
        """Settings from the command line: they replace the defaults, so a reset keeps them,
        and win over settings saved by an earlier run on the same data directory."""
        self.default_settings = dict(self.default_settings, **overrides)
        self.settings.update(overrides)
        self.apply_settings()

    # --- routing ------------------------------------------------------------------
    def add_route(self, method, pattern, handler, action, locked=True, body=None, query=None):
        self.routes.append(Route(method, pattern, handler, action, locked, body, query))

    def add_control_route(self, method, pattern, handler, locked=True):
        """``pattern`` is the path after /_emulator (``/faults``); ``handler(request, **groups)``."""
        self.control_routes.append(Route(method, pattern, handler, "control", locked))

    @staticmethod
    def match_route(routes, method, path):
        """(route, its path groups) for ``method`` on ``path`` in ``routes``, HEAD taken as GET; else
        (None, the methods the path takes: empty for an unknown path)."""
        wanted = "GET" if method == "HEAD" else method
        allowed = []
        for route in routes:
            match = route.regex.match(path)
            if match:
                if route.method == wanted:
                    return route, match.groupdict()
                allowed.append(route.method)
        return None, allowed

    def find_route(self, method, path):
        """The API route for ``method`` on ``path`` (HEAD is GET without the body): 404 for an
        unknown path, 405 with ``Allow`` for a method the path does not take."""
        route, found = self.match_route(self.routes, method, path)
        if route:
            return route, found
        if found:
            allowed = found + (["HEAD"] if "GET" in found else [])
            message = "method %s is not allowed on %s; allowed: %s" % (method, self.prefix + path, ", ".join(allowed))
            raise HTTPError(405, message, {"Allow": ", ".join(allowed)})
        # The whole path, as the client sent it (a client compares it with what it asked for).
        raise HTTPError(404, "no such path: %s" % (self.prefix + path))

    def take_fault(self, method, path):
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None

    def check_rate(self, route, request):
        if not self.settings.get("rate_limits", True):
            return
        key, rate, burst = self.rate_limit(route, request)
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = TokenBucket(rate, burst)
            wait = bucket.take()
        if wait:
            raise self.rate_limited_answer(wait)

    def handle(self, request):
        """Answer one API request: (status, body, headers)."""
        # Like the real gateways: no token, no answer about what exists.
        if not self.authorized(request.headers.get("Authorization", "")):
            raise HTTPError(401, self.error_body(401, "unauthorized"))
        route, params = self.find_route(request.method, request.path[len(self.prefix):])
        request.params = params
        fault = self.take_fault(request.method, request.path)
        if fault and fault.latency_ms:
            time.sleep(fault.latency_ms / 1000.0)
        if fault and fault.status:
            headers = {"Retry-After": str(fault.retry_after or 1)} if fault.status == 429 else {}
            raise HTTPError(fault.status, self.error_body(fault.status, "injected fault"), headers)
        self.check_rate(route, request)
        problem = route.request_problem(request)
        if problem:
            raise self.invalid_request(problem)
        if route.locked:
            with self.lock:
                status, body = route.handler(request, **params)
        else:
            status, body = route.handler(request, **params)
        if fault and fault.lose_response:
            raise HTTPError(408, self.error_body(408, "deadline_exceeded: the answer was lost"))
        return status, body, {}

    def log_request(self, entry):
        # The SQLite connection is shared by the server's threads: every use holds the lock.
        with self.lock:
            self.store.log_request(entry)

    def capture(self, method, path, query, status, content_type, data):
        """Keep a whole answer for contract tests. Answers never carry secret values."""
        if not self.capture_path:
            return
        entry = {"method": method, "path": path, "query": query, "status": status,
                 "content_type": content_type, "body": data.decode("utf-8", "replace")}
        with self.lock, open(self.capture_path, "a", encoding="utf-8") as capture:
            capture.write(json.dumps(entry) + "\n")

    # --- control surface -------------------------------------------------
    def _control_routes(self):
        add = self.add_control_route
        add("GET", r"/health", self.control_health, locked=False)
        add("POST", r"/reset", self.control_reset)
        # Empty path parts are names too, as they always were.
        add("POST", r"/states/(?P<name>[^/]*)/(?P<action>save|restore)", self.saved_state)
        add("GET", r"/states/(?P<name>[^/]*)", self.export_state)
        add("PUT", r"/states/(?P<name>[^/]*)", self.import_state)
        add("GET", r"/requests", self.control_requests)
        add("POST", r"/faults", self.add_fault)
        add("DELETE", r"/faults", self.clear_faults)
        add("GET", r"/faults", self.list_faults)
        add("GET", r"/settings", self.control_settings)
        add("POST", r"/settings", self.control_settings)

    def handle_control(self, request):
        """Answer one control request: (status, body). No 405 here: a method a control path does
        not take is as unknown as the path (and HEAD is not GET)."""
        path = "/" + request.path[len("/_emulator/"):].strip("/")
        route, params = self.match_route(self.control_routes, request.method, path) if request.method != "HEAD" \
            else (None, None)
        if route is None:
            raise HTTPError(404, {"error": "unknown control endpoint"})
        request.params = params
        if not route.locked:
            return route.handler(request, **params)
        with self.lock:
            return route.handler(request, **params)

    def control_health(self, request):
        return 200, {"status": "ok"}

    def control_reset(self, request):
        self.faults = []
        self.buckets = {}
        self.replace_settings(self.default_settings)
        self.store.put_meta("settings", {})
        self.reset_state()
        self.apply_settings()
        return 200, {"status": "ok"}

    def saved_state(self, request, name, action):
        """``states/{name}/save`` keeps every record; ``states/{name}/restore`` puts them back (settings with
        them), clears the faults and limits as a reset does, and keeps the request log going."""
        if not self.restorable():
            raise HTTPError(409, "a saved state holds records only; this backend runs containers")
        if action == "save":
            self.store.save(name)
            return 200, {"saved": name}
        if not self.store.restore(name):
            raise HTTPError(404, "no state saved as %s" % name)
        self.faults = []
        self.buckets = {}
        self.replace_settings(dict(self.default_settings, **self.store.get_meta("settings", {})))
        self.apply_settings()
        return 200, {"restored": name}

    def export_state(self, request, name):
        """``GET states/{name}``: what ``states/{name}/save`` kept, for another emulator's ``PUT states/{name}``."""
        state = self.store.export_saved(name)
        if state is None:
            raise HTTPError(404, "no state saved as %s" % name)
        return 200, state

    def import_state(self, request, name):
        """``PUT states/{name}``: keep another emulator's saved state here under ``name`` (restore puts it back)."""
        if not self.restorable():
            raise HTTPError(409, "a saved state holds records only; this backend runs containers")
        state = request.json()
        if not isinstance(state, dict) or not isinstance(state.get("documents"), list) \
                or not isinstance(state.get("meta"), list):
            raise HTTPError(400, "a saved state is {documents: [...], meta: [...]}, as GET states/{name} gives it")
        try:
            self.store.import_saved(name, state)
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        return 200, {"imported": name, "documents": len(state["documents"])}

    def control_requests(self, request):
        try:
            since = int(request.arg("since") or 0)
            limit = request.arg("limit") or None
            limit = int(limit) if limit is not None else None
        except ValueError:
            raise HTTPError(400, "since and limit are whole numbers") from None
        return 200, {"requests": self.store.requests_since(since, limit), "last_seq": self.store.last_seq()}

    def add_fault(self, request):
        fault = Fault(request.json())
        self.faults.append(fault)
        return 200, fault.as_dict()

    def clear_faults(self, request):
        self.faults = []
        return 200, {"faults": []}

    def list_faults(self, request):
        return 200, {"faults": [f.as_dict() for f in self.faults if f.count > 0]}

    def control_settings(self, request):
        if request.method == "POST":
            self.settings.update(request.json())
            self.store.put_meta("settings", self.settings)
            self.apply_settings()
        return 200, dict(self.settings)  # a copy: encoded after the lock is let go


def encode(payload):
    """(bytes, content type) of an answer: JSON, plain text, or nothing."""
    if isinstance(payload, (bytes, str)):
        return (payload.encode() if isinstance(payload, str) else payload), "text/plain; charset=utf-8"
    if payload is None:
        return b"", None
    return json.dumps(payload).encode(), "application/json"


def make_handler(service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sophia-ops-emulator"
        # Headers and body leave as two small writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms a request on a keep-alive session).
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # the request log replaces the access log

        def _serve(self):
            started = time.monotonic()
            request_id = uuid.uuid4().hex
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # Blank values are kept: `timeout=` is a value the query schema refuses, not an absent parameter.
            request = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True), self.headers,
                              body, {})
            control = split.path.startswith("/_emulator/")
            try:
                if control:
                    status, payload = service.handle_control(request)
                    headers = {}
                elif split.path.startswith(service.prefix + "/"):
                    status, payload, headers = service.handle(request)
                else:
                    raise HTTPError(404, "no such path: %s" % split.path)
            except HTTPError as exc:
                status, payload, headers = exc.status, exc.body, exc.headers
                if isinstance(payload, str):
                    payload = service.error_body(status, payload)
            except Exception as exc:  # an emulator bug must still answer, and be visible
                status, payload, headers = 500, service.error_body(500, "emulator error: %r" % exc), {}
            data, content_type = encode(payload)
            if not control:
                # Logged before the answer leaves, so a client that reads the log next finds its request.
                service.log_request({
                    "time": time.time(), "method": self.command, "path": split.path,
                    "query": split.query, "status": status, "request_id": request_id,
                    "duration_ms": round((time.monotonic() - started) * 1000, 2)})
                service.capture(self.command, split.path, split.query, status, content_type, data)
            self._answer(status, data, content_type, dict(headers, **{"fly-request-id": request_id}))

        def _answer(self, status, data, content_type, headers):
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def __getattr__(self, name):
            # Every method (HEAD, OPTIONS, TRACE, anything) is routed, so an unsupported one is
            # answered 405 or 404 in the provider's shape instead of http.server's 501 page.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(self, code, message=None, explain=None):
            """http.server's own refusals (a malformed request line, headers too long) in the
            provider's error shape rather than an HTML page."""
            data, content_type = encode(service.error_body(code, message or self.responses.get(code, ("",))[0]))
            self.close_connection = True
            try:
                self._answer(code, data, content_type, {"Connection": "close"})
            except OSError:
                pass

    return Handler


def serve(service, host, port):
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
