"""Small helpers the Fly emulator's tests share."""

from __future__ import annotations

import time

APP = "emu-test-app"
IMAGE = "registry.fly.io/emu-test:1"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response, status=400):
    """The error answer's message, after checking its status and Fly's {"error": "..."} shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    return body["error"]


def make_machine(fly, app, **body):
    body.setdefault("region", "iad")
    body.setdefault("config", {"image": IMAGE})
    return ok(fly.api("POST", "/apps/%s/machines" % app, json=body))


def make_volume(fly, app, **body):
    body.setdefault("name", "data")
    body.setdefault("region", "iad")
    return ok(fly.api("POST", "/apps/%s/volumes" % app, json=body))


def wait(fly, app, machine, state="started", **params):
    return fly.api("GET", "/apps/%s/machines/%s/wait" % (app, machine["id"]),
                   params=dict({"state": state, "timeout": 5}, **params))


def eventually(read, accept, deadline_seconds=10):
    """Read until ``accept`` holds (the emulator's clock runs in real time); answer the last read."""
    deadline = time.monotonic() + deadline_seconds
    value = read()
    while not accept(value):
        assert time.monotonic() < deadline, "still %r" % (value,)
        time.sleep(0.05)
        value = read()
    return value


def machine_path(app, machine):
    return "/apps/%s/machines/%s" % (app, machine["id"])
