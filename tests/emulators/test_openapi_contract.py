"""Every answer the emulators gave so far in this session keeps their provider's OpenAPI document.

The same check runs once more when the session ends (tests/conftest.py); this test makes it
visible. Under pytest-xdist a worker may reach it before any other test of its own has used an
emulator, so it first asks for a few answers of its own.
"""

from __future__ import annotations

import pytest

from tests.support.openapi_contract import contract_opted_out, missing_spec

SAMPLE_CALLS = {
    "fly_emulator": [("POST", "/apps", {"app_name": "contract-sample", "org_slug": "personal"}),
                     ("GET", "/apps/contract-sample", None), ("GET", "/apps/contract-sample/machines", None),
                     ("DELETE", "/apps/contract-sample", None)],
    "lambda_emulator": [("GET", "/instance-types", None), ("GET", "/instances", None), ("GET", "/ssh-keys", None)],
}


@pytest.mark.parametrize("fixture", ["fly_emulator", "lambda_emulator"])
def test_answers_keep_the_openapi_contract(request, fixture):
    emulator = request.getfixturevalue(fixture)
    for method, path, body in SAMPLE_CALLS[fixture]:
        assert emulator.api(method, path, json=body).status_code < 300, (method, path)
    checked = emulator.contract_problems()
    if checked is None:
        # CI must check the contract: a missing document fails unless the run opted out on purpose.
        if contract_opted_out():
            pytest.skip(missing_spec(emulator.name))
        pytest.fail(missing_spec(emulator.name))
    count, problems = checked
    assert count >= len(SAMPLE_CALLS[fixture])
    assert problems == []
