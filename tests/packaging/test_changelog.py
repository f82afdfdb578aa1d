"""The release notes: the fragments are what `antsibull-changelog release` will read, the version galaxy.yml builds
has been released in changelogs/changelog.yaml, and CHANGELOG.rst is what that record gives."""

from __future__ import annotations

import re
import shutil

import yaml

from tests.packaging.conftest import VENV_BIN, explain, galaxy_meta, run
from tests.support.ansible_cli import REPO_ROOT


def version_key(version):
    return tuple(int(part) for part in version.split("."))


def test_changelog_fragments_lint_clean():
    linted = run([VENV_BIN / "antsibull-changelog", "lint"], cwd=REPO_ROOT, timeout=120)
    assert linted.returncode == 0 and not linted.stdout.strip(), explain(linted)


def test_the_version_galaxy_builds_is_released():
    releases = yaml.safe_load((REPO_ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    version = galaxy_meta()["version"]
    assert version in releases, "galaxy.yml builds %s, the changelog releases %s" % (version, sorted(releases))
    assert releases[version].get("release_date") and releases[version].get("changes")


def test_changelog_rst_is_what_the_release_record_gives(tmp_path):
    # `generate` rewrites CHANGELOG.rst from changelog.yaml alone; a copy keeps the checkout as it is.
    for name in ("galaxy.yml", "CHANGELOG.rst"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(REPO_ROOT / "changelogs", tmp_path / "changelogs",
                    ignore=shutil.ignore_patterns(".plugin-cache.yaml"))
    generated = run([VENV_BIN / "antsibull-changelog", "generate"], cwd=tmp_path, timeout=120)
    assert generated.returncode == 0, explain(generated)
    assert (tmp_path / "CHANGELOG.rst").read_text() == (REPO_ROOT / "CHANGELOG.rst").read_text(), (
        "CHANGELOG.rst is out of date: run antsibull-changelog generate")


def test_nothing_is_added_in_a_version_after_the_one_galaxy_builds():
    version = galaxy_meta()["version"]
    later = []
    for path in sorted((REPO_ROOT / "plugins").rglob("*")) + sorted((REPO_ROOT / "roles").rglob("argument_specs.yml")):
        if path.suffix not in (".py", ".yml", ".yaml"):
            continue
        for added in re.findall(r"version_added:\s*['\"]?([0-9.]+)", path.read_text()):
            if version_key(added) > version_key(version):
                later.append("%s: %s" % (path.relative_to(REPO_ROOT), added))
    assert not later, "version_added after galaxy.yml's %s: %s" % (version, later)
