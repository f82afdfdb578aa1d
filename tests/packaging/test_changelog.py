"""The changelog fragments are what `antsibull-changelog release` will read (CHANGELOG.rst comes from them)."""

from __future__ import annotations

from tests.packaging.conftest import VENV_BIN, explain, run
from tests.support.ansible_cli import REPO_ROOT


def test_changelog_fragments_lint_clean():
    linted = run([VENV_BIN / "antsibull-changelog", "lint"], cwd=REPO_ROOT, timeout=120)
    assert linted.returncode == 0 and not linted.stdout.strip(), explain(linted)
