"""Fault records: what each ``@pytest.mark.fault`` test tried, checked and how it came out.

``@pytest.mark.fault("what is tried", checks="what is checked")`` marks a test that tries a fault
or a bad input. With ``SOPHIA_FAULT_RECORDS=<path>`` set, every such test appends one JSON line
to ``<path>``::

    {"nodeid": ..., "tried": ..., "checks": ..., "outcome": "passed", "runs": 1}

``runs`` is 1 per test case (each parametrized case is its own record), or, for a Hypothesis
test, the number of examples it ran. The first line, written by the process that starts the
session (the xdist controller, or pytest itself without xdist), says which run it was: date,
commit, command. Workers append under an exclusive lock, so records from ``-n N`` never interleave.

An optional ``area="..."`` on the marker puts the test in that table of the report instead of the
one its file belongs to.

``SOPHIA_FAULT_INVENTORY=<path>`` writes every collected fault test (node id, tried, checks, area)
at the end of collection: ``scripts/reliability-report`` uses it with ``--collect-only`` to
know what the tree marks, whether it ran or not.

``scripts/reliability-report`` turns the records into ``docs/reliability.md``.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import subprocess
import sys

import pytest

RECORDS_ENV = "SOPHIA_FAULT_RECORDS"
INVENTORY_ENV = "SOPHIA_FAULT_INVENTORY"

_RUNS = pytest.StashKey[int]()
_OUTCOME = pytest.StashKey[str]()


def fault_fields(item):
    """(tried, checks) of an item's fault marker, or None when it has none."""
    marker = item.get_closest_marker("fault")
    if marker is None:
        return None
    args = list(marker.args)
    tried = marker.kwargs.get("tried", args.pop(0) if args else "")
    checks = marker.kwargs.get("checks", args.pop(0) if args else "")
    if not tried or not checks:
        raise pytest.UsageError("%s: @pytest.mark.fault needs what is tried and checks=what is checked"
                                % item.nodeid)
    return str(tried), str(checks)


def _append(path, entries):
    """Append JSON lines under an exclusive lock (xdist workers share the file)."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "a", encoding="utf-8") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            stream.write("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries))
            stream.flush()
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def _commit(root):
    """HEAD's short hash, with ``+dirty`` when the tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _is_worker(config):
    return hasattr(config, "workerinput")


def pytest_configure(config):
    path = os.environ.get(RECORDS_ENV)
    if not path or _is_worker(config):
        return
    # The session's owner starts the file afresh: records of an earlier run never mix in.
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8"):
        pass
    _append(path, [{"run": {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(str(config.rootpath)),
        "command": " ".join(["pytest"] + list(config.invocation_params.args)),
        "python": "%d.%d" % sys.version_info[:2],
    }}])


def pytest_collection_finish(session):
    path = os.environ.get(INVENTORY_ENV)
    if not path or _is_worker(session.config):
        return
    entries = []
    for item in session.items:
        fields = fault_fields(item)
        if fields:
            entry = {"nodeid": item.nodeid, "tried": fields[0], "checks": fields[1]}
            area = item.get_closest_marker("fault").kwargs.get("area")
            if area:  # the report's table for it, where the file alone would put it elsewhere
                entry["area"] = str(area)
            entries.append(entry)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries))


def _hypothesis_examples(stats):
    """Test cases whose body ran (passed or failed) over every phase of a Hypothesis run."""
    count = 0
    for key, phase in stats.items():
        if key.endswith("-phase") and isinstance(phase, dict):
            count += sum(1 for case in phase.get("test-cases", ())
                         if case.get("status") in ("valid", "interesting"))
    return count


# trylast: inside Hypothesis's own wrapper, so that our statistics hook sees its value and chains it.
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item):
    if not os.environ.get(RECORDS_ENV) or item.get_closest_marker("fault") is None \
            or not getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        yield
        return
    from hypothesis.statistics import collector  # only for Hypothesis tests, so it is installed

    chained = collector.value

    def note(stats):
        item.stash[_RUNS] = _hypothesis_examples(stats)
        if chained is not None:
            chained(stats)

    with collector.with_value(note):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    path = os.environ.get(RECORDS_ENV)
    if not path:
        return
    fields = fault_fields(item)
    if fields is None:
        return
    # One outcome per test case: a setup or teardown failure is an error; the call decides otherwise.
    if report.when == "setup":
        item.stash[_OUTCOME] = "error" if report.failed else ("skipped" if report.skipped else "passed")
    elif report.when == "call":
        if hasattr(report, "wasxfail"):
            item.stash[_OUTCOME] = "xfailed" if report.skipped else "xpassed"
        else:
            item.stash[_OUTCOME] = report.outcome
    elif report.when == "teardown":
        outcome = item.stash.get(_OUTCOME, "error")
        if report.failed and outcome in ("passed", "skipped"):
            outcome = "error"
        runs = item.stash.get(_RUNS, 1) if outcome not in ("skipped", "error") else 0
        _append(path, [{"nodeid": item.nodeid, "tried": fields[0], "checks": fields[1],
                        "outcome": outcome, "runs": runs}])
