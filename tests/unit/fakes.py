"""Stand-ins for the unit layer: a clock that only moves when something sleeps, and a scripted
HTTP session. Nothing here touches the network or real time."""

from __future__ import annotations

import json
import threading

import requests


class FakeClock:
    """``time`` and ``sleep`` for code that takes them as arguments; sleeping moves time on."""

    def __init__(self, start=1000.0):
        self.now = start
        self.slept = []
        self.lock = threading.Lock()

    def time(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


class FakeResponse:
    def __init__(self, status, body=None, headers=None):
        self.status_code = status
        self.headers = headers or {}
        self.content = b"" if body is None else json.dumps(body).encode()
        self.text = self.content.decode()
        self.reason = "scripted"

    def json(self):
        if not self.content:
            raise ValueError("no body")
        return json.loads(self.content)


class ScriptedSession:
    """Answers requests from a script: each item a FakeResponse or an exception to raise.
    ``sent`` records (method, path) of every request."""

    def __init__(self, *script):
        self.script = list(script)
        self.sent = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.sent.append((method, url.split("://", 1)[-1].split("/", 1)[-1]))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def mount(self, prefix, adapter):
        pass


LOST = FakeResponse(408, {"error": "deadline_exceeded"})
THROTTLED = FakeResponse(429, {"error": "rate limited"}, {"Retry-After": "2"})
READ_TIMEOUT = requests.ReadTimeout("read timed out")
CONNECT_TIMEOUT = requests.ConnectTimeout("connect timed out")
