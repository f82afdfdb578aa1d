"""Every role documents its variables: the README table matches meta/argument_specs.yml."""

from __future__ import annotations

import subprocess
import sys

from tests.support.ansible_cli import REPO_ROOT


def test_role_readmes_are_current():
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "role_docs.py"), "--check"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_role_has_an_argument_spec_and_a_readme():
    for role in (REPO_ROOT / "roles").iterdir():
        assert (role / "meta" / "argument_specs.yml").is_file(), role.name
        assert (role / "README.md").is_file(), role.name
