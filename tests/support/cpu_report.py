"""The CPU each test costs, beside pytest's --durations (which is wall time, shared by the workers of a two-core
machine): the user and system time of the test's process and of the subprocesses it waited for (ansible-playbook,
the ansible CLI), setup and teardown included. The session's long-lived servers (the emulators) are not counted.

With ``--cpu-report=N`` the run ends with the N costliest tests; the figures ride on the reports, so xdist's
workers send them to the controller that prints them.
"""

from __future__ import annotations

import resource

import pytest

KEY = "cpu_seconds"


def cpu_now():
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def pytest_addoption(parser):
    parser.addoption("--cpu-report", type=int, default=0, metavar="N",
                     help="print the N tests that used the most CPU (their own and their subprocesses')")


_MARK = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[_MARK] = cpu_now()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A report is made right after its phase (setup, call, teardown): the CPU since the last mark is the phase's."""
    outcome = yield
    now = cpu_now()
    outcome.get_result().user_properties.append((KEY, now - item.stash.get(_MARK, now)))
    item.stash[_MARK] = now


def pytest_terminal_summary(terminalreporter, config):
    wanted = config.getoption("--cpu-report")
    if not wanted:
        return
    spent = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == KEY:
                    spent[report.nodeid] = spent.get(report.nodeid, 0.0) + value
    if not spent:
        return
    terminalreporter.write_sep("=", "CPU of the %d costliest tests (of %.0f CPU-seconds in all)"
                               % (min(wanted, len(spent)), sum(spent.values())))
    for nodeid, seconds in sorted(spent.items(), key=lambda entry: -entry[1])[:wanted]:
        terminalreporter.write_line("%8.1fs  %s" % (seconds, nodeid))
