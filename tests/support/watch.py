"""Watching an emulator while a module works: a count of healthy machines sampled all along,
and a SIGKILL of the run at the request a test chooses (read from the request log)."""

from __future__ import annotations

import os
import signal
import threading
import time


def healthy(machine):
    return machine["state"] == "started" and all(c["status"] == "passing" for c in machine.get("checks") or [])


class HealthMonitor:
    """Samples the app's healthy machines every ``interval`` seconds until stopped; ``lowest`` is the
    fewest seen. Reads through the control surface, so it neither spends the module's rate limits
    nor shows in the request log."""

    def __init__(self, fly, app, interval=0.05):
        self.fly = fly
        self.app = app
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            machines = self.fly.machines_now(self.app)
            self.samples.append(sum(1 for m in machines if healthy(m)))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=10)
        return False

    @property
    def lowest(self):
        assert self.samples, "the monitor took no sample"
        return min(self.samples)


def descendants(pid):
    """PIDs of every process below ``pid`` (ansible's workers start sessions of their own, so a
    process group does not hold them all)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process):
    """SIGKILL a run and everything it started, as when the controller itself dies."""
    for pid in [process.pid] + descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def kill_at(fly, process, matches, since, timeout=60):
    """SIGKILL ``process`` (and its process group) as soon as a logged request after ``since`` satisfies
    ``matches(entry)``; answers that entry. Fails the test when none comes within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in fly.requests_since(since):
            if matches(entry):
                kill_tree(process)
                return entry
        assert process.poll() is None, "the run ended before the request to kill it at"
        time.sleep(0.02)
    kill_tree(process)
    raise AssertionError("no matching request within %ss" % timeout)
