"""Every answer the emulators gave so far in this session keeps their provider's OpenAPI document.

The same check runs once more when the session ends; this test makes it visible, and runs
after the endpoint tests of tests/emulators/ (pytest orders files by name: keep this one last).
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("fixture", ["fly_emulator", "lambda_emulator"])
def test_answers_keep_the_openapi_contract(request, fixture):
    emulator = request.getfixturevalue(fixture)
    checked = emulator.contract_problems()
    if checked is None:
        pytest.skip("the %s OpenAPI document is not beside the repository" % emulator.name)
    count, problems = checked
    assert count > 0
    assert problems == []
