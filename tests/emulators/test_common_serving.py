"""What both emulators answer before any operation runs: odd methods, bodies that are not
JSON objects, request lines http.server itself refuses. Always the provider's error body,
never http.server's HTML page, never a 5xx."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.support.openapi_contract import error_body_problem, lambda_error_problem

PROVIDERS = {
    # fixture: (a path that exists and takes GET, a path that takes POST, the error body check)
    "fly_api": ("/apps/some-app", "/apps", error_body_problem),
    "lambda_api": ("/instances", "/ssh-keys", lambda_error_problem),
}


def call(emulator, method, path, data=None):
    return emulator.session.request(method, emulator.url + path, data=data, timeout=10,
                                    headers={"Authorization": "Bearer " + emulator.token,
                                             "Content-Type": "application/json"})


def error_of(response):
    assert response.headers["Content-Type"] == "application/json", response.text
    return json.loads(response.content)


@pytest.mark.fault("OPTIONS, TRACE and a made-up method on a known path",
                   checks="405 with an Allow header and the provider's error body")
@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "BREW"])
@pytest.mark.parametrize("fixture", sorted(PROVIDERS))
def test_unsupported_methods_are_405_with_allow(request, fixture, method):
    emulator = request.getfixturevalue(fixture)
    known, dummy, problem = PROVIDERS[fixture]
    response = call(emulator, method, known)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"].split(", ")
    assert problem(error_of(response)) is None


@pytest.mark.parametrize("fixture", sorted(PROVIDERS))
def test_head_is_get_without_a_body(request, fixture):
    emulator = request.getfixturevalue(fixture)
    known = PROVIDERS[fixture][0]
    got, head = call(emulator, "GET", known), call(emulator, "HEAD", known)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(got.content))


@pytest.mark.fault("an unknown path under the API prefix", checks="404 in the provider's error shape")
@pytest.mark.parametrize("fixture", sorted(PROVIDERS))
def test_unknown_path_is_404_in_the_provider_shape(request, fixture):
    emulator = request.getfixturevalue(fixture)
    response = call(emulator, "GET", "/no/such/thing")
    assert response.status_code == 404
    assert PROVIDERS[fixture][2](error_of(response)) is None


@pytest.mark.fault("bodies that are not JSON objects: malformed JSON, an array, a string, a number",
                   checks="400 in the provider's error shape, nothing created")
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"42", b"\xff\xfe"])
@pytest.mark.parametrize("fixture", sorted(PROVIDERS))
def test_bodies_that_are_not_objects_are_400(request, fixture, body):
    emulator = request.getfixturevalue(fixture)
    dummy, create_path, problem = PROVIDERS[fixture]
    seq = emulator.last_seq()
    response = call(emulator, "POST", create_path, data=body)
    assert response.status_code == 400, response.text
    assert problem(error_of(response)) is None
    assert [entry["status"] for entry in emulator.requests_since(seq)] == [400]


@pytest.mark.fault("a request http.server itself refuses (over a hundred headers)",
                   checks="its status with a JSON error body in the provider's shape, no HTML page")
@pytest.mark.parametrize("fixture", sorted(PROVIDERS))
def test_a_malformed_request_line_gets_a_json_error(request, fixture):
    emulator = request.getfixturevalue(fixture)
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as conn:
        conn.sendall(b"GET /v1/apps HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(120)) + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.split(b" ", 2)[1] == b"431"
    assert b"application/json" in head
    assert PROVIDERS[fixture][2](json.loads(body)) is None


def test_unauthenticated_odd_methods_are_still_401(fly_api):
    response = requests.request("OPTIONS", fly_api.url + "/apps", timeout=10)
    assert response.status_code == 401
