"""ansible-navigator with the project's settings (ansible-navigator.yml): no execution environment, plain output,
and site.yml through it against the session's emulators and local databases (the ``platform`` fixture of
tests/support/platform.py, as the playbook tests use it)."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from tests.packaging.conftest import VENV_BIN, explain, run
from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.platform import LOCAL_INVENTORY


def navigator_env(extra=None):
    """The playbook tests' environment (ansible.cfg, the emulators' URLs and tokens, no local stack), with
    Ansible's own output instead of their JSON callback, and no navigator settings from the calling shell."""
    env = dict((k, v) for k, v in ansible_env(extra).items() if not k.startswith("ANSIBLE_NAVIGATOR_"))
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
    # Navigator finds ansible-playbook on PATH, which `make test` does not give the virtualenv.
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", os.environ.get("PATH", ""))])
    return env


def test_the_settings_file_runs_without_an_execution_environment(tmp_path):
    settings = yaml.safe_load((REPO_ROOT / "ansible-navigator.yml").read_text())["ansible-navigator"]
    assert settings["execution-environment"]["enabled"] is False
    assert settings["mode"] == "stdout"
    # Artifacts and the log stay in .cache/, which git and the collection build ignore.
    assert settings["playbook-artifact"]["save-as"].startswith(".cache/")
    assert settings["logging"]["file"].startswith(".cache/")
    effective = run([VENV_BIN / "ansible-navigator", "settings", "--effective", "--lf", tmp_path / "navigator.log"],
                    cwd=REPO_ROOT, env=navigator_env(), timeout=120)
    assert effective.returncode == 0, explain(effective)
    current = yaml.safe_load(effective.stdout)["ansible-navigator"]
    assert current["execution-environment"]["enabled"] is False
    assert current["mode"] == "stdout"


@pytest.mark.slow
def test_navigator_runs_site_yml_without_an_execution_environment(converged_platform, tmp_path):
    # On the converged platform, site.yml runs through navigator and finds nothing to change. Every play runs;
    # the limit (the control host, the first layer's service and the last's) keeps it to the wiring navigator adds
    # (settings, inventory, vault, collection), since tests/platform/test_site.py judges the whole platform's run.
    platform = converged_platform
    artifact = tmp_path / "site-artifact.json"
    seq = platform.fly.last_seq()
    ran = run([VENV_BIN / "ansible-navigator", "run", "site.yml", "--ee", "false", "-m", "stdout",
               "-i", LOCAL_INVENTORY.relative_to(REPO_ROOT),
               "--limit", "localhost:weaviate:agent_ui", "--lf", tmp_path / "navigator.log", "--pas", artifact],
              cwd=REPO_ROOT, env=navigator_env(platform.env), timeout=900)
    assert ran.returncode == 0, explain(ran)
    recap = ran.stdout.split("PLAY RECAP", 1)
    assert len(recap) == 2, explain(ran)
    hosts = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", recap[1], re.M)
    assert {host for host, *_counts in hosts} == {"localhost", "weaviate", "agent_ui"}, explain(ran)
    assert all(counts == ["0", "0", "0"] for _h, *counts in hosts), explain(ran)
    # It ran against this test's emulators: every read, no write.
    assert platform.fly.requests_since(seq) and platform.fly.writes_since(seq) == []
    # The run was kept for `ansible-navigator replay`.
    assert json.loads(artifact.read_text())["status"] == "successful"
