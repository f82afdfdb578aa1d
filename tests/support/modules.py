"""Run a sophia.ops module inside the test's own process: the module layer's fast path.

The module is the real one, imported as Ansible imports it, and nothing in it is mocked: its
``main()`` parses the same arguments (check mode and diff as the controller passes them), speaks real
HTTP to the emulators and exits once, and its result is the JSON it prints. What this skips is the
controller around it (the ``ansible`` start-up, AnsiballZ, the fork), about a second and a half a
call; tests/modules/test_cli_wiring.py runs every module through the CLI, and the kill tests still
start real processes (``tests.support.ansible_cli.start_module``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal

from ansible.module_utils import _internal as module_internal
from ansible.module_utils._internal._event_utils import format_event_brief_message
from ansible.module_utils.common import warnings
from ansible.module_utils.common.json import Direction, get_module_decoder
from ansible.module_utils.testing import patch_module_args

from tests.support.ansible_cli import ModuleResult


class ModuleTimeout(Exception):
    pass


@contextlib.contextmanager
def _environment(env):
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _as_a_module_process():
    """Module code, not controller code: once anything in this process imports the controller (a filter,
    the inventory plugin), ``warn()`` would go to the controller's display instead of the module's result."""
    saved = module_internal.is_controller
    module_internal.is_controller = False
    try:
        yield
    finally:
        module_internal.is_controller = saved


@contextlib.contextmanager
def _deadline(seconds):
    """A bound on the call, as the CLI's subprocess timeout is (SIGALRM: tests run in the main thread)."""
    def expired(_signum, _frame):
        raise ModuleTimeout("the module ran longer than %s s" % seconds)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def call_module(module, args, check=False, diff=False, env=None, timeout=300):
    """Run one module with ``args`` (a dict), in check mode or with diff as asked, and return its result
    as ``run_module`` does. ``env`` is set for the call only (a credential variable, say)."""
    name = module.rsplit(".", 1)[-1]
    main = importlib.import_module("ansible_collections.sophia.ops.plugins.modules.%s" % name).main
    # A module's process starts with no warnings; this one lives on, so each call starts them afresh.
    warnings._global_warnings.clear()
    warnings._global_deprecations.clear()
    printed = io.StringIO()
    internal = {"_ansible_check_mode": check, "_ansible_diff": diff, "_ansible_verbosity": 0}
    with _environment(env or {}), _deadline(timeout), _as_a_module_process(), \
            patch_module_args(dict(args, **internal)), contextlib.redirect_stdout(printed):
        try:
            main()
        except SystemExit:
            pass
        else:
            raise AssertionError("%s returned without exiting: a module exits once, with its result" % name)
    try:
        result = json.loads(printed.getvalue(), cls=get_module_decoder("legacy", Direction.MODULE_TO_CONTROLLER))
    except ValueError as exc:
        raise AssertionError("%s printed no JSON result (%s):\n%s" % (name, exc, printed.getvalue()[-4000:]))
    # Warnings travel as structured events; the controller shows each as its message, and so does this.
    if result.get("warnings"):
        result["warnings"] = [format_event_brief_message(w.event) for w in result["warnings"]]
    return ModuleResult(result)
