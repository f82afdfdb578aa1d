"""The Docker backend's health checks: each started machine's ``config.checks`` (http, tcp) run at their own
interval against its container's address on the org network, each probe a thread of its own, and the last
result of each kept for the API's ``checks`` (what a machine's GET and wait?state=... read)."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time

from emulators.fly.lifecycle import now, state_at

DEFAULT_CHECK_INTERVAL = 15.0
DEFAULT_CHECK_TIMEOUT = 2.0
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text, default):
    """Seconds of a Go duration ("10s", "1m30s", "500ms") or a bare number of seconds."""
    if text in (None, ""):
        return default
    if isinstance(text, (int, float)):
        return float(text)
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return default
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * scale[unit] for number, unit in parts)


def run_check(address, check):
    """(status, output) of one check against ``address``: passing, or critical with what went wrong."""
    timeout = max(0.1, parse_duration(check.get("timeout"), DEFAULT_CHECK_TIMEOUT))
    port = int(check.get("port") or 8080)
    kind = (check.get("type") or "tcp").lower()
    try:
        if kind == "tcp":
            socket.create_connection((address, port), timeout=timeout).close()
            return "passing", "connected to %s:%d" % (address, port)
        if (check.get("protocol") or "http").lower() == "https":
            context = ssl.create_default_context()
            if check.get("tls_skip_verify"):
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(address, port, timeout=timeout)
        headers = {header["name"]: ", ".join(header.get("values") or []) for header in check.get("headers") or []}
        try:
            connection.request((check.get("method") or "GET").upper(), check.get("path") or "/", headers=headers)
            response = connection.getresponse()
            response.read(65536)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as error:
        return "critical", "%s:%d: %s" % (address, port, error)
    status = "passing" if 200 <= response.status < 400 else "critical"
    return status, "%d %s" % (response.status, response.reason)


class HealthChecks:
    def __init__(self, service, address):
        self.service = service
        self.address = address  # machine -> its container's address on the org network, or None
        self.lock = threading.Lock()
        self.results = {}  # (machine id, instance id) -> {check name: result}
        self.due = {}  # (machine id, instance id, check name) -> when the check runs next
        self.probing = set()

    def tick(self):
        """Start a probe of every check that is due on a started machine."""
        with self.service.lock:
            machines = [m for m in self.service.store.list("machine")
                        if m["config"].get("checks") and state_at(m) == "started"]
        at = time.monotonic()
        for machine in machines:
            for name, check in machine["config"]["checks"].items():
                key = (machine["id"], machine["instance_id"], name)
                with self.lock:
                    if key in self.probing or self.due.get(key, 0) > at:
                        continue
                    self.probing.add(key)
                    self.due[key] = at + max(0.2, parse_duration(check.get("interval"), DEFAULT_CHECK_INTERVAL))
                threading.Thread(target=self.probe, args=(machine, name, check), daemon=True).start()

    def probe(self, machine, name, check):
        key = (machine["id"], machine["instance_id"], name)
        try:
            address = self.address(machine)
            status, output = run_check(address, check) if address else ("critical", "no address")
            with self.lock:
                self.results.setdefault(key[:2], {})[name] = {"status": status, "output": output,
                                                              "updated_at": now()}
        except Exception as error:  # a probe never ends the checker
            with self.lock:
                self.results.setdefault(key[:2], {})[name] = {"status": "critical", "output": repr(error),
                                                              "updated_at": now()}
        finally:
            with self.lock:
                self.probing.discard(key)

    def of(self, machine, at=None):
        """The machine's checks as the API answers them: critical while it is not started, warning until
        the first probe of its current version."""
        at = now() if at is None else at
        state = state_at(machine, at)
        with self.lock:
            results = dict(self.results.get((machine["id"], machine["instance_id"])) or {})
        out = []
        for name in sorted(machine["config"].get("checks") or {}):
            if state != "started":
                result = {"status": "critical", "output": "machine is %s" % state, "updated_at": at}
            else:
                result = results.get(name) or {"status": "warning", "output": "waiting for the first check",
                                               "updated_at": at}
            out.append({"name": name, "status": result["status"], "output": result["output"],
                        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result["updated_at"]))})
        return out

    def forget(self, machine_id):
        with self.lock:
            for key in [key for key in self.results if key[0] == machine_id]:
                del self.results[key]

    def reset(self):
        with self.lock:
            self.results.clear()
            self.due.clear()
