"""What the benchmark measures with: the emulators it starts, and one measured command.

``Emulator`` runs one API emulator on a free port in the run's temp dir and
talks to its control surface (``/_emulator/``). ``measure`` runs a command and
answers its wall time, the API requests it made (from the emulators' request
logs) and the peak memory of the process tree, sampled from /proc.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/run runs harness.py as a script: the emulators package is beside bench/

from emulators import stack  # noqa: E402  pylint: disable=wrong-import-position

METHODS = ("GET", "POST", "PUT", "DELETE")
# Every API call takes this long on top of its own work (the "80 ms per API call").
LATENCY_MS = 80
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# kind -> (package under emulators/, API prefix)
KINDS = {"fly": ("fly", "/v1"), "lambda": ("lambda_cloud", "/api/v1")}


class Emulator(stack.Emulator):
    """One emulator process (emulators/stack.py starts it) of a ``kind`` in KINDS, and its control surface."""

    def __init__(self, kind, work_dir, name, flags=()):
        package, api_prefix = KINDS[kind]
        data_dir = Path(work_dir) / name
        super().__init__(package, data_dir, "bench-%s-token-%s" % (name, os.urandom(8).hex()), extra_args=flags,
                         log_path=data_dir / "emulator.log", label=name)
        self.kind = kind
        self.name = name
        self.url = self.base_url + api_prefix
        self.session = requests.Session()
        # What the sophia.ops or naive playbooks left behind ("empty", "converged", ...).
        self.state = "empty"

    # ------------------------------------------------------------ control surface
    def control(self, method, path, body=None, params=None):
        response = self.session.request(method, self.base_url + "/_emulator/" + path, json=body, params=params,
                                        timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def fresh(self):
        """Empty state, documented rate limits on, and every API call slowed by LATENCY_MS."""
        self.control("POST", "reset")
        self.slow_down()
        self.state = "empty"

    def slow_down(self):
        self.control("POST", "faults", {"latency_ms": LATENCY_MS, "count": 10 ** 9})

    @contextlib.contextmanager
    def unthrottled(self):
        """A block in which the harness's own API calls (seeding, checking results) go at full speed
        and draw no rate-limit tokens from the runs being measured."""
        self.control("DELETE", "faults")
        self.control("POST", "settings", {"rate_limits": False})
        try:
            yield self
        finally:
            self.control("POST", "settings", {"rate_limits": True})
            self.slow_down()

    def last_seq(self):
        return self.control("GET", "requests", params={"since": 0, "limit": 0})["last_seq"]

    def requests_since(self, seq):
        return self.control("GET", "requests", params={"since": seq})["requests"]

    # --------------------------------------------------------------------- API
    def api(self, method, path, body=None):
        response = self.session.request(method, self.url + path, json=body, timeout=60,
                                        headers={"Authorization": "Bearer " + self.token})
        response.raise_for_status()
        return response.json() if response.content else None


def process_tree(root_pid):
    """The process and all its descendants, found through /proc. Ansible's workers start sessions of
    their own, so a process group does not hold them all; parenthood does."""
    children = collections.defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry.name, encoding="ascii", errors="replace") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children[ppid].append(int(entry.name))
    tree, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


class PeakMemory(threading.Thread):
    """Samples the resident memory of a process and all its descendants every ``interval`` seconds;
    ``peak`` is the largest sum seen, in bytes."""

    def __init__(self, root_pid, interval=0.05):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while True:
            self.peak = max(self.peak, self.sample())
            if self.done.wait(self.interval):
                return

    def stop(self):
        self.done.set()
        self.join(timeout=5)

    def sample(self):
        total = 0
        for pid in process_tree(self.root_pid):
            try:
                with open("/proc/%d/statm" % pid, encoding="ascii") as statm:
                    total += int(statm.read().split()[1]) * PAGE_SIZE
            except (OSError, IndexError, ValueError):
                continue
        return total


@dataclass
class Run:
    """One measured command: wall time, API requests by method, peak memory, and whether it did the job."""

    wall: float
    requests: collections.Counter
    throttled: int
    peak_mb: float
    log: Path
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    @property
    def total(self):
        return sum(self.requests.values())


def measure(cmd, env, emulators, log, timeout):
    """Run ``cmd`` (from the repository root) and measure it. Requests are counted from the request
    logs of ``emulators``; output goes to ``log``. A command that outlives ``timeout`` is killed."""
    marks = [(emulator, emulator.last_seq()) for emulator in emulators]
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = PeakMemory(process.pid)
        sampler.start()
        problems = []
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            problems.append("killed after %ss" % timeout)
        finally:
            wall = time.monotonic() - started
            if process.poll() is None:  # timed out, or the harness itself was interrupted
                for pid in process_tree(process.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.wait(timeout=10)
            sampler.stop()
    if process.returncode and not problems:
        problems.append("exit status %d" % process.returncode)
    counts, throttled = collections.Counter(), 0
    for emulator, mark in marks:
        for entry in emulator.requests_since(mark):
            counts[entry["method"]] += 1
            throttled += entry["status"] == 429
    return Run(wall=wall, requests=counts, throttled=throttled, peak_mb=sampler.peak / 2 ** 20, log=Path(log),
               problems=problems)


def tail(path, lines=25):
    with open(path, encoding="utf-8", errors="replace") as log:
        return "".join(log.readlines()[-lines:])
