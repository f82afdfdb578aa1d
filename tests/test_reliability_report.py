"""docs/reliability.md stays the tree's: its rows are the tests marked @pytest.mark.fault, and the
records behind it (tests/support/fault_records.py) say truthfully what ran, also under xdist."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.ansible_cli import REPO_ROOT


def load_report_module():
    spec = importlib.util.spec_from_file_location("reliability_report", REPO_ROOT / "scripts" / "reliability_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = load_report_module()


@pytest.fixture
def marked():
    """Marked tests as ``report.collect()`` gives them, of three files: what the check and the merging of
    records do with them is the same for the whole tree, which the first test holds the committed report to
    (one collection of the tree, in its subprocess, instead of one more per worker here)."""
    return [{"nodeid": "tests/a/test_one.py::test_plain", "tried": "a plain try", "checks": "it holds"},
            {"nodeid": "tests/a/test_one.py::test_cases[1]", "tried": "cases", "checks": "each holds"},
            {"nodeid": "tests/a/test_one.py::test_cases[2]", "tried": "cases", "checks": "each holds"},
            {"nodeid": "tests/b/test_two.py::test_elsewhere", "tried": "another try", "checks": "it holds too",
             "area": "Elsewhere"}]


def test_the_committed_report_lists_every_marked_test():
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "reliability_report.py"), "--check"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_check_names_a_marked_test_the_report_lacks(marked, tmp_path):
    assert marked, "no test carries @pytest.mark.fault"
    stale = tmp_path / "reliability.md"
    stale.write_text(report.render(report.rows_of(marked[1:], {}), []))
    assert report.check(str(stale), marked) == 1
    assert report.check(str(tmp_path / "missing.md"), marked) == 1

    current = tmp_path / "current.md"
    current.write_text(report.render(report.rows_of(marked, {}), []))
    assert report.check(str(current), marked) == 0


def test_a_later_records_file_replaces_an_earlier_ones_record(tmp_path, monkeypatch):
    # A marked test of the tree, as the committed report describes it; the tree's collection (report.collect, which
    # the first test runs) stands in as that one test here.
    nodeid = "tests/platform/test_site.py::test_check_mode_on_an_empty_environment_predicts_the_creates"
    committed = report.rows_in_report((REPO_ROOT / "docs" / "reliability.md").read_text())
    [item] = [{"nodeid": test, "tried": tried, "checks": checks} for test, tried, checks in committed if test == nodeid]
    monkeypatch.setattr(report, "collect", lambda python=None: [item])
    first, second, output = tmp_path / "whole", tmp_path / "part", tmp_path / "reliability.md"
    for path, outcome, when in ((first, "failed", "day 1"), (second, "passed", "day 2")):
        path.write_text(json.dumps({"run": {"started": when, "commit": "c0ffee"}}) + "\n" + json.dumps(
            dict(item, outcome=outcome, runs=1)) + "\n")
    assert report.main(["--records", str(first), "--records", str(second), "--output", str(output)]) == 0
    text = output.read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| `%s` |" % item["nodeid"])]
    assert row.endswith("| 1 | 1 passed |") and "Run: day 1" in text and "Run: day 2" in text
    assert report.main(["--records", str(tmp_path / "none"), "--output", str(output)]) == 1


def test_rows_survive_pipes_and_backslashes_in_the_text():
    marked = [{"nodeid": "tests/x/test_y.py::test_z[a|b]", "tried": "a | b \\ c", "checks": "`x` | y"}]
    rows = report.rows_of(marked, {"tests/x/test_y.py::test_z[a|b]": {"outcome": "failed", "runs": 3}})
    text = report.render(rows, [({"commit": "abc"}, "records")])
    assert report.rows_in_report(text) == {("tests/x/test_y.py::test_z", "a | b \\ c", "`x` | y")}
    assert "| 3 | 1 failed |" in text and "Other (tests/x)" in text and "commit `abc`" in text


SAMPLE = '''
import os

import pytest
from hypothesis import given, settings, strategies as st

CALLS = os.environ["SAMPLE_CALLS"]


@pytest.mark.fault("a passing try", checks="it passes")
def test_passes():
    pass


@pytest.mark.fault("a failing try", checks="it fails")
def test_fails():
    assert False


@pytest.mark.fault("three cases", checks="each counts", area="Elsewhere")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_cases(n):
    pass


@pytest.mark.fault("skipped", checks="nothing ran")
def test_skipped():
    pytest.skip("not here")


@pytest.mark.fault("generated inputs", checks="every example counts")
@settings(max_examples=7, database=None, derandomize=True)
@given(st.integers())
def test_examples(value):
    with open(CALLS, "a") as calls:
        calls.write("%d\\n" % value)


def test_not_marked():
    pass
'''


def test_records_under_xdist_count_cases_outcomes_and_examples(tmp_path):
    pytest.importorskip("hypothesis")
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        markers =
            fault(tried, checks): a fault or bad input the suite tries
        """))
    (sample / "test_sample.py").write_text(SAMPLE)
    records, calls = tmp_path / "out" / "records", tmp_path / "calls"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), SOPHIA_FAULT_RECORDS=str(records), SAMPLE_CALLS=str(calls))
    records.parent.mkdir()
    records.write_text('{"nodeid": "left over from an earlier run"}\n')
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.support.fault_records", "-n", "2",
                           "-p", "no:cacheprovider", "-q", str(sample)], cwd=sample, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # test_fails, and only it

    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert "run" in lines[0] and lines[0]["run"]["commit"]
    found = {entry["nodeid"].split("::")[1]: entry for entry in lines[1:]}
    assert sorted(found) == ["test_cases[1]", "test_cases[2]", "test_cases[3]", "test_examples", "test_fails",
                             "test_passes", "test_skipped"]
    assert [(found[n]["outcome"], found[n]["runs"]) for n in ("test_passes", "test_fails", "test_skipped")] == [
        ("passed", 1), ("failed", 1), ("skipped", 0)]
    assert (found["test_passes"]["tried"], found["test_passes"]["checks"]) == ("a passing try", "it passes")
    examples = len(calls.read_text().splitlines())
    assert examples > 1 and found["test_examples"]["runs"] == examples
    assert found["test_examples"]["outcome"] == "passed"

    rows = report.rows_of([dict(nodeid=e["nodeid"], tried=e["tried"], checks=e["checks"]) for e in lines[1:]],
                          {e["nodeid"]: e for e in lines[1:]})
    [cases] = [row for row in rows if row["test"].endswith("::test_cases")]
    assert (cases["runs"], dict(cases["outcomes"])) == (3, {"passed": 3})
