"""The module layer runs its modules in the test's process (tests/support/modules.py); this proves once per
module that the ``ansible`` CLI runs the same module to the same answer: AnsiballZ finds the module and its
module_utils, the controller passes check mode and diff, and the result it reports is the module's own.

Each module gets its first bad-input case of test_input_validation.py (refused before any request) through
both paths; a check-mode create and a listing show the same of a run that succeeds."""

from __future__ import annotations

import pytest

from tests.modules.test_input_validation import FLY_CASES, LAMBDA_CASES
from tests.support.ansible_cli import run_module
from tests.support.modules import call_module

# What the controller adds around a module's answer, and what it shows its own way (warnings as text, the
# traceback of a failure as a note).
CONTROLLER_KEYS = {"invocation", "action", "warnings", "deprecations", "exception", "_ansible_no_log"}


def first_case_per_module(cases):
    seen = {}
    for case in cases:
        module = case.values[0]
        seen.setdefault(module, pytest.param(*case.values, id=module))
    return list(seen.values())


def answer(result):
    return {key: value for key, value in result.items() if key not in CONTROLLER_KEYS}


def both_paths(emulator, module, args, check=False):
    seq = emulator.last_seq()
    through_cli = run_module(module, args, check=check)
    in_process = call_module(module, args, check=check)
    assert answer(through_cli) == answer(in_process), (through_cli, in_process)
    assert emulator.writes_since(seq) == []
    return through_cli


@pytest.mark.parametrize("module, args, option", first_case_per_module(FLY_CASES))
def test_each_fly_module_answers_the_same_through_the_cli(fly_api, module, args, option):
    result = both_paths(fly_api, module, fly_api.module_args(**args))
    assert result.failed and result["invalid_option"] == option


@pytest.mark.parametrize("module, args, option", first_case_per_module(LAMBDA_CASES))
def test_each_lambda_module_answers_the_same_through_the_cli(lambda_api, module, args, option):
    result = both_paths(lambda_api, module, lambda_api.module_args(**args))
    assert result.failed and result["invalid_option"] == option


def test_a_check_mode_create_and_a_listing_answer_the_same_through_the_cli(fly_api, lambda_api):
    created = both_paths(fly_api, "fly_app", fly_api.module_args(name="wiring-app"), check=True)
    assert created.changed and not created.failed
    listed = both_paths(lambda_api, "lambda_instance_info", lambda_api.module_args())
    assert not listed.changed and listed["instances"] == []
