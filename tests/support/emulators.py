"""The project's API emulators as test fixtures: each started once a session on a free port of
127.0.0.1 (``python -m emulators.<name>``), emptied before each test, and every answer it gave
held against its provider's OpenAPI document when the session ends.

Tests talk to the emulators over real HTTP, exactly as the modules do; the control surface
under ``/_emulator/`` lets a test inject faults, change state out of band and read the request
log. Nothing here needs the collection: the emulators' own tests (tests/emulators) stand on
this and tests/support/openapi_contract.py alone. Registered for the whole suite as a plugin
by tests/conftest.py. The processes themselves are started as emulators/stack.py starts them all.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests

from emulators.stack import Emulator, StartError
from tests.support.openapi_contract import ContractChecker, contract_opted_out, missing_spec


class EmulatorProcess(Emulator):
    """One emulator server (``python -m emulators.<name>``, started by emulators.stack) and its control surface."""

    def __init__(self, name, data_dir, token, extra_args=()):
        # Every answer, whole, for the OpenAPI contract check at the end of the session.
        capture_path = os.path.join(os.fspath(data_dir), "answers.jsonl")
        super().__init__(name, data_dir, token, extra_args=["--capture-file", capture_path] + list(extra_args))
        self.capture_path = capture_path
        self.session = requests.Session()

    def start(self, deadline_seconds=20, detach=False):
        try:
            return super().start(deadline_seconds, detach)
        except StartError:
            raise RuntimeError("%s emulator did not start:\n%s" % (self.name, self.log_tail())) from None

    def contract_problems(self):
        """Answers given so far that break the OpenAPI document (beyond the documented deviations)."""
        checker = ContractChecker(self.name)
        if not checker.available:
            return None
        return checker.check_file(self.capture_path)

    # --- control surface -------------------------------------------------
    def control(self, method, path, **kwargs):
        response = self.session.request(method, self.base_url + "/_emulator/" + path.lstrip("/"),
                                        timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self):
        """Forget every resource, fault, image rule and logged request."""
        self.control("POST", "reset")

    def save_state(self, name):
        """Keep every record under ``name`` (the record backend's whole truth)."""
        self.control("POST", "states/%s/save" % name)

    def restore_state(self, name):
        """Put back what ``save_state(name)`` kept, settings with it; faults and limits cleared."""
        self.control("POST", "states/%s/restore" % name)

    def export_state(self, name):
        """What ``save_state(name)`` kept, as JSON, for another emulator's ``import_state``."""
        return self.control("GET", "states/%s" % name)

    def import_state(self, name, state):
        """Keep another emulator's ``export_state`` here under ``name``; ``restore_state(name)`` puts it back."""
        self.control("PUT", "states/%s" % name, json=state)

    def requests_since(self, seq=0):
        """Logged API requests (``/_emulator`` calls are not logged) with ``seq`` > ``seq``."""
        return self.control("GET", "requests", params={"since": seq})["requests"]

    def last_seq(self):
        return self.control("GET", "requests", params={"since": 0, "limit": 0})["last_seq"]

    def writes_since(self, seq):
        """Requests after ``seq`` that could change state (anything but GET/HEAD)."""
        return [entry for entry in self.requests_since(seq) if entry["method"] not in ("GET", "HEAD")]

    def add_fault(self, status=None, count=1, method=None, path_regex=None, lose_response=False,
                  latency_ms=0, retry_after=None):
        """Answer the next ``count`` matching requests with ``status`` (or commit them and lose
        the answer with ``lose_response``, or delay them by ``latency_ms``)."""
        body = {"status": status, "count": count, "method": method, "path_regex": path_regex,
                "lose_response": lose_response, "latency_ms": latency_ms, "retry_after": retry_after}
        return self.control("POST", "faults", json={k: v for k, v in body.items() if v is not None})

    def clear_faults(self):
        self.control("DELETE", "faults")

    def settings(self, **values):
        """Change emulator settings, e.g. ``transition_seconds`` or ``rate_limits``."""
        return self.control("POST", "settings", json=values)

    api_prefix = ""

    @property
    def url(self):
        """The API base URL the modules take as ``api_url``."""
        return self.base_url + self.api_prefix

    def api(self, method, path, retry_throttled=True, **kwargs):
        """A direct, authenticated API call for test set-up and assertions. A 429 is waited
        out (bounded) unless the test is about the rate limits themselves."""
        headers = dict(kwargs.pop("headers", None) or {}, Authorization="Bearer " + self.token)
        for dummy in range(20):
            response = self.session.request(method, self.url + path, headers=headers, timeout=70, **kwargs)
            if response.status_code != 429 or not retry_throttled:
                return response
            time.sleep(float(response.headers.get("Retry-After") or 1))
        return response


class FlyEmulator(EmulatorProcess):
    api_prefix = "/v1"

    def __init__(self, data_dir):
        # Long enough that ansible's no_log masking cannot garble ordinary output.
        super().__init__("fly", data_dir, token="fly-test-token-" + uuid.uuid4().hex)

    def module_args(self, **args):
        """Module arguments with this emulator's URL and token filled in."""
        return dict(api_url=self.url, api_token=self.token, **args)

    def set_image(self, image, healthy=True, start=True):
        """How machines running ``image`` behave: health checks pass or stay critical,
        or the machine fails to start at all."""
        return self.control("POST", "images", json={"image": image, "healthy": healthy, "start": start})

    def drift_machine(self, app, machine_id, **changes):
        """Change a machine out of band (``state``, ``config`` merged in, ``metadata``)."""
        return self.control("POST", "apps/%s/machines/%s" % (app, machine_id), json=changes)

    def machines_now(self, app):
        """The app's live machines, read outside the rate limits and the request log (for watchers)."""
        return self.control("GET", "apps/%s/machines" % app)


class LambdaEmulator(EmulatorProcess):
    api_prefix = "/api/v1"

    def __init__(self, data_dir):
        super().__init__("lambda_cloud", data_dir, token="lambda-test-key-" + uuid.uuid4().hex)

    def module_args(self, **args):
        return dict(api_url=self.url, api_key=self.token, **args)

    def set_capacity(self, instance_type, region, available):
        return self.control("POST", "capacity", json={"instance_type": instance_type, "region": region,
                                                      "available": available})

    def set_status(self, instance_id, status):
        """Change an instance's status out of band (unhealthy, preempted, ...)."""
        return self.control("POST", "instances/%s" % instance_id, json={"status": status})


def contract_checked(emulator):
    """Stop a session emulator, then hold every answer it gave against its OpenAPI document."""
    emulator.stop()
    checked = emulator.contract_problems()
    if checked is None and not contract_opted_out():
        pytest.fail(missing_spec(emulator.name))
    if checked is not None and checked[1]:
        pytest.fail("%d of %d %s emulator answers break the OpenAPI document:\n%s"
                    % (len(checked[1]), checked[0], emulator.name, "\n".join(checked[1][:40])))


def contract_checked_run(emulator, **settings):
    """For a fixture: the emulator started with ``settings``, yielded, then stopped and contract-checked."""
    emulator.start()
    if settings:
        emulator.settings(**settings)
    try:
        yield emulator
    finally:
        contract_checked(emulator)


@pytest.fixture(scope="session")
def lambda_emulator(tmp_path_factory):
    emulator = LambdaEmulator(tmp_path_factory.mktemp("lambda-emulator"))
    emulator.start()
    yield emulator
    contract_checked(emulator)


def empty_lambda(emulator):
    """The Lambda Cloud emulator emptied, with the clock every playbook and module test starts from: instances
    boot fast, and no rate limits (the tests about throttling turn them back on)."""
    emulator.reset()
    emulator.settings(boot_seconds=0.3, rate_limits=False)
    return emulator


@pytest.fixture
def lambda_api(lambda_emulator):
    """The Lambda Cloud emulator, emptied before each test (``empty_lambda``)."""
    return empty_lambda(lambda_emulator)


@pytest.fixture(scope="session")
def fly_emulator(tmp_path_factory):
    emulator = FlyEmulator(tmp_path_factory.mktemp("fly-emulator"))
    emulator.start()
    yield emulator
    contract_checked(emulator)


@pytest.fixture
def fly_api(fly_emulator):
    """The Fly emulator, emptied before each test."""
    fly_emulator.reset()
    return fly_emulator
