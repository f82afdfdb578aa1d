"""The stand-in (images/standin/sophia_standin.py) run on the host as a subprocess, for its unit tests,
and a parser of the Prometheus text format it serves."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

from emulators.stack import free_port
from tests.support.ansible_cli import REPO_ROOT

STANDIN = REPO_ROOT / "images" / "standin" / "sophia_standin.py"


class Standin:
    """One stand-in process on 127.0.0.1:<free port>; its stdout lines kept for the tests."""

    def __init__(self, data_dir, service="unified_api", env=None, health_path="/health", image=None):
        self.port = free_port()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOPHIA_SERVICE": service,
                    "PORT": str(self.port), "SOPHIA_BIND": "127.0.0.1", "SOPHIA_DATA_DIR": str(data_dir),
                    "SOPHIA_HEALTH_PATH": health_path, "SOPHIA_UPSTREAM_TIMEOUT": "1",
                    "SOPHIA_IMAGE": image or "registry.fly.io/sophia-%s:9.9.9" % service.replace("_", "-")}
        self.env.update(env or {})
        self.lines = []
        self.process = None

    def start(self, deadline_seconds=15):
        self.process = subprocess.Popen([sys.executable, str(STANDIN)], env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("the stand-in exited (%s): %s"
                                     % (self.process.returncode, self.process.stderr.read()))
            try:
                self.request("GET", "/version")
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the stand-in did not answer within %ss" % deadline_seconds)

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes) of one request; ``path`` is sent as is (no normalisation)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method, path, body=None, headers=None):
        status, dummy, data = self.request(method, path, body, headers)
        return status, json.loads(data)

    def log_lines(self, wait_for=None, deadline_seconds=5):
        """The JSON log lines so far; with ``wait_for`` (a request id), until that request's line is there."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            parsed = [json.loads(line) for line in list(self.lines) if line.startswith("{")]
            if wait_for is None or any(item.get("request_id") == wait_for for item in parsed):
                return parsed
            if time.monotonic() > deadline:
                return parsed
            time.sleep(0.05)

    def stop(self, deadline_seconds=10):
        """SIGTERM, and the exit code (None when it did not exit in time; then it is killed)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            return self.process.wait(deadline_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return None


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_metrics(text):
    """{name: {"type": ..., "help": ..., "samples": [(sample name, {labels}, value)]}} of an exposition;
    raises AssertionError on any line that is not valid text format."""
    families, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], line.split(" ")[2], line.split(" ", 3)[3] if line.count(" ") >= 3 else ""
            family = families.setdefault(name, {"type": None, "help": None, "samples": []})
            family["type" if kind == "TYPE" else "help"] = rest
            current = name
            continue
        assert not line.startswith("#"), "line %d: unexpected comment %r" % (number, line)
        match = SAMPLE.match(line)
        assert match, "line %d is not a sample: %r" % (number, line)
        name, raw_labels, value = match.groups()
        labels = {}
        if raw_labels:
            consumed = "".join(m.group(0) for m in LABEL.finditer(raw_labels))
            assert consumed == raw_labels, "line %d: bad labels %r" % (number, raw_labels)
            labels = dict(LABEL.findall(raw_labels))
        family_name = next((base for base in (name, re.sub(r"_(bucket|sum|count)$", "", name)) if base in families),
                           None)
        assert family_name is not None, "line %d: sample %s has no TYPE" % (number, name)
        assert family_name == current, "line %d: sample %s is outside its family's block" % (number, name)
        families[family_name]["samples"].append((name, labels, float(value)))
    return families
