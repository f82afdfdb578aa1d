"""Run sophia.ops modules and playbooks the way users do: through the ansible CLI.

Modules are never imported or mocked here. Each call goes through AnsiballZ,
argument validation, no_log filtering, check mode and diff exactly as in a
playbook run, and the JSON callback gives back the task result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def ansible_env(extra=None):
    """Environment for an ansible command run from the repository root."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "PYTHONWARNINGS": "ignore",
    })
    # inventories/local finds a running stack's ports in this directory (sophia.ops.local_stack): a test's
    # runs see only what the test points them at, never a `make site` stack of the checkout.
    env.setdefault("SOPHIA_EMULATOR_DIR", str(REPO_ROOT / "tests" / "output" / "no-local-stack"))
    env.update(extra or {})
    return env


def _bin(name):
    return str(Path(sys.executable).parent / name)


class ModuleResult(dict):
    """A task result; ``.changed`` and ``.failed`` read like the playbook keywords."""

    @property
    def changed(self):
        return bool(self.get("changed"))

    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(module, args, check=False, diff=False, env=None, timeout=300):
    """Run one module on localhost with ``args`` (a dict) and return its result."""
    cmd = [
        _bin("ansible"), "localhost", "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-m", module if "." in module else "sophia.ops.%s" % module,
        "-a", json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=ansible_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    try:
        output = json.loads(proc.stdout)
        result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("ansible gave no JSON result (rc=%s): %s\nstdout:\n%s\nstderr:\n%s"
                             % (proc.returncode, exc, proc.stdout[-4000:], proc.stderr[-4000:]))
    return ModuleResult(result)


def start_module(module, args, check=False, env=None):
    """Start one module run in the background, for a test to kill (``tests.support.watch.kill_tree``)
    at a moment of its choosing."""
    cmd = [
        _bin("ansible"), "localhost", "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-m", module if "." in module else "sophia.ops.%s" % module,
        "-a", json.dumps(args),
    ] + (["--check"] if check else [])
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=ansible_env(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def run_playbook(playbook, inventory=None, extra_vars=None, check=False, diff=False, env=None, timeout=900,
                 limit=None):
    """Run a playbook with the JSON callback; returns (returncode, parsed output, stderr)."""
    cmd = [_bin("ansible-playbook"), str(playbook)]
    if inventory:
        cmd += ["-i", str(inventory)]
    if limit:
        cmd += ["--limit", limit]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=ansible_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        output = {"raw": proc.stdout}
    return proc.returncode, output, proc.stderr


def playbook_stats(output):
    """Per-host stats (ok, changed, failures, ...) of a JSON-callback playbook run."""
    return output.get("stats", {})
