"""Every module's documentation renders with ansible-doc, as users will read it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible_cli import REPO_ROOT, ansible_env

MODULES = sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def test_every_module_is_in_the_fly_action_group():
    runtime = (REPO_ROOT / "meta" / "runtime.yml").read_text()
    fly_modules = [name for name in MODULES if name.startswith("fly_")]
    assert fly_modules and all("    - %s\n" % name in runtime for name in fly_modules)


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    doc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "--json", "sophia.ops." + module],
                         cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert doc.returncode == 0, doc.stderr
    rendered = json.loads(doc.stdout)["sophia.ops." + module]
    assert rendered["doc"]["short_description"]
    assert rendered["examples"].strip()
    assert rendered["return"]
    assert {"api_token", "api_key"} & set(rendered["doc"]["options"])


def test_every_lambda_module_is_in_the_lambda_action_group():
    runtime = (REPO_ROOT / "meta" / "runtime.yml").read_text()
    lambda_modules = [name for name in MODULES if name.startswith("lambda_")]
    assert lambda_modules and all("    - %s\n" % name in runtime for name in lambda_modules)


def test_inventory_plugin_doc_renders():
    doc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "inventory", "--json",
                          "sophia.ops.fleet"], cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True,
                         timeout=120, check=False)
    assert doc.returncode == 0, doc.stderr
    rendered = json.loads(doc.stdout)["sophia.ops.fleet"]["doc"]
    assert {"fly_api_token", "lambda_api_key", "keyed_groups", "cache"} <= set(rendered["options"])
