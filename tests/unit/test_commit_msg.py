"""The commit-msg hook CONTRIBUTING.md asks for: `area: change` subjects of 72 characters at most."""
import subprocess

import pytest

from tests.support.ansible_cli import REPO_ROOT

HOOK = REPO_ROOT / "scripts" / "commit-msg"


def run_hook(tmp_path, message):
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message)
    return subprocess.run([str(HOOK), str(path)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("message", [
    "fly_machine: keep the healthy floor\n\nA re-run found one member unhealthy.\n",
    "tests/unit: a fake clock for the waiter\n",
    "docs, readme: move the platform to docs/platform.md\n\nThe README is for a first read.\n",
    "# a comment git adds\nci: time each part of make test\n",
    "fixup! ci: time each part of make test\n",
])
def test_messages_in_the_convention_pass(tmp_path, message):
    result = run_hook(tmp_path, message)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("message, problem", [
    ("fly_machine: " + "x" * 60 + "\n", "the subject is 73 characters; at most 72"),
    ("Fixed the rollout\n", "not 'area: change'"),
    ("fly_machine:keep the floor\n", "not 'area: change'"),
    ("fly_machine: keep the floor\nno blank line\n", "a blank line goes between"),
    ("# only a comment\n\n", "the message is empty"),
])
def test_messages_outside_the_convention_fail_naming_the_rule(tmp_path, message, problem):
    result = run_hook(tmp_path, message)
    assert result.returncode == 1
    assert problem in result.stderr
