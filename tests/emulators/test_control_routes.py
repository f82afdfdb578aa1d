"""The ``/_emulator/`` control surface as a route table, in-process (no server): what it
matches, what it refuses, and that an emulator's own control routes sit beside the common ones."""

from __future__ import annotations

import json

import pytest

from emulators.common.server import HTTPError, Request
from emulators.common.store import Store
from emulators.fly.service import FlyService
from emulators.lambda_cloud.service import LambdaService


def control(service, method, path, body=None, query=None):
    request = Request(method, "/_emulator/" + path, query or {}, {}, json.dumps(body).encode() if body else b"", {})
    return service.handle_control(request)


@pytest.fixture(params=[FlyService, LambdaService], ids=["fly", "lambda"])
def service(request, tmp_path):
    return request.param(Store(str(tmp_path)), "token")


def test_the_common_endpoints_answer_through_the_table(service):
    assert control(service, "GET", "health") == (200, {"status": "ok"})
    assert control(service, "GET", "health/") == (200, {"status": "ok"})
    status, fault = control(service, "POST", "faults", {"status": 503, "count": 2})
    assert status == 200 and fault["count"] == 2
    assert [f["id"] for f in control(service, "GET", "faults")[1]["faults"]] == [fault["id"]]
    assert control(service, "DELETE", "faults") == (200, {"faults": []})
    assert control(service, "POST", "settings", {"rate_limits": False})[1]["rate_limits"] is False
    assert control(service, "POST", "reset") == (200, {"status": "ok"})
    assert control(service, "GET", "settings") == (200, service.default_settings)
    assert control(service, "GET", "requests", query={"since": ["0"]}) == (200, {"requests": [], "last_seq": 0})
    control(service, "POST", "settings", {"rate_limits": False})  # an empty store saves nothing to restore
    assert control(service, "POST", "states/one/save") == (200, {"saved": "one"})
    assert control(service, "POST", "states/one/restore") == (200, {"restored": "one"})
    assert control(service, "GET", "settings")[1]["rate_limits"] is False


def test_the_settings_dict_is_changed_in_place(service):
    settings = service.settings
    control(service, "POST", "settings", {"rate_limits": False})
    control(service, "POST", "states/one/save")
    control(service, "POST", "reset")
    control(service, "POST", "states/one/restore")
    assert service.settings is settings and settings["rate_limits"] is False


def test_a_saved_state_moves_to_another_emulator_of_the_kind(tmp_path):
    here, there = (FlyService(Store(str(tmp_path / name)), "token") for name in ("here", "there"))
    here.store.put("app", "one", {"name": "one"})
    control(here, "POST", "settings", {"transition_seconds": 0.25})
    control(here, "POST", "states/converged/save")
    with pytest.raises(HTTPError) as refused:
        control(there, "GET", "states/converged")
    assert refused.value.status == 404
    status, state = control(here, "GET", "states/converged")
    assert status == 200 and [row[:2] for row in state["documents"]] == [["app", "one"]]
    assert control(there, "PUT", "states/converged", json.loads(json.dumps(state))) == (
        200, {"imported": "converged", "documents": 1})
    assert control(there, "GET", "apps/one/machines") == (200, [])  # kept, not yet put back
    assert there.store.get("app", "one") is None
    assert control(there, "POST", "states/converged/restore") == (200, {"restored": "converged"})
    assert there.store.get("app", "one") == {"name": "one"}
    assert control(there, "GET", "settings")[1]["transition_seconds"] == 0.25


@pytest.mark.parametrize("body", [{"documents": [["app", "one", None, {"not": "text"}, 1]], "meta": []},
                                  {"documents": [["app", "one"]], "meta": []}, {"documents": []}, {}])
def test_a_state_that_is_not_a_saved_one_is_refused_and_nothing_is_kept(tmp_path, body):
    service = FlyService(Store(str(tmp_path)), "token")
    service.store.put("app", "kept", {"name": "kept"})
    control(service, "POST", "states/converged/save")
    with pytest.raises(HTTPError) as refused:
        control(service, "PUT", "states/converged", body)
    assert refused.value.status == 400
    assert [row[1] for row in control(service, "GET", "states/converged")[1]["documents"]] == ["kept"]


@pytest.mark.parametrize("method, path", [("PUT", "faults"), ("HEAD", "health"), ("GET", "reset"),
                                          ("POST", "states/one/forget"), ("POST", "states/a/b/save"),
                                          ("GET", "nothing"), ("GET", "")])
def test_unknown_paths_and_methods_are_one_404(service, method, path):
    with pytest.raises(HTTPError) as refused:
        control(service, method, path)
    assert (refused.value.status, refused.value.body) == (404, {"error": "unknown control endpoint"})


def test_each_emulator_adds_its_own_routes(tmp_path):
    fly = FlyService(Store(str(tmp_path / "fly")), "token")
    assert control(fly, "POST", "images", {"image": "bad:1", "healthy": False})[1] == {
        "bad:1": {"healthy": False, "start": True}}
    assert control(fly, "GET", "apps/none/machines") == (200, [])
    assert control(fly, "GET", "proxy") == (200, {"apps": {}})
    lam = LambdaService(Store(str(tmp_path / "lambda")), "token")
    with pytest.raises(HTTPError) as refused:
        control(lam, "POST", "capacity", {"instance_type": "none"})
    assert refused.value.status == 400
    with pytest.raises(HTTPError) as refused:
        control(lam, "POST", "images", {"image": "bad:1"})
    assert refused.value.status == 404
