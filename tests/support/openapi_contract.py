"""Check captured emulator answers against the provider's OpenAPI document.

The emulator, started by the test fixtures with ``--capture-file``, writes every
answer it gives. At the end of the session each one is validated with
openapi-core against the official document. Where the provider's docs pages
say something else than the document, the docs win; those places, and only
those, are listed in ``DEVIATIONS`` (written up in docs/emulator-spec-deviations.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.exceptions import MissingData
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.support.ansible_cli import REPO_ROOT

SPECS = {
    "fly": ("SOPHIA_FLY_OPENAPI", "fly/openapi3.json"),
    "lambda_cloud": ("SOPHIA_LAMBDA_OPENAPI", "lambda/openapi-1.10.0.json"),
}

LEASE_PATH = re.compile(r"^/v1/apps/[^/]+/machines/[^/]+/lease$")
MACHINE_PATH = re.compile(r"^/v1/apps/[^/]+/machines/[^/]+$")
OK_ACTION_PATH = re.compile(r"^/v1/apps/[^/]+/machines/[^/]+/(stop|suspend|restart|cordon|uncordon)$")


def spec_path(provider):
    variable, relative = SPECS[provider]
    return Path(os.environ.get(variable) or REPO_ROOT.parent / "shared" / "specs" / relative)


class CapturedRequest:
    """The request side as openapi-core needs it to find the operation."""

    def __init__(self, server_url, entry):
        self.host_url = server_url
        self.path = entry["path"]
        self.method = entry["method"].lower()
        self.body = None
        self.content_type = "application/json"
        self.parameters = RequestParameters(query=ImmutableMultiDict(parse_qs(entry.get("query") or "")),
                                            header=Headers(), cookie=ImmutableMultiDict())


class CapturedResponse:
    def __init__(self, entry):
        self.data = entry["body"].encode("utf-8")
        self.status_code = entry["status"]
        self.content_type = entry["content_type"] or ""
        self.headers = Headers({"Content-Type": self.content_type})


def error_body_problem(body):
    """Docs: every error answer is a JSON object with an ``error`` message."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return "error answer is not {\"error\": \"...\"}: %r" % (body,)
    return None


def lease_envelope_problem(body):
    """Docs: lease answers are wrapped as {"status": "success", "data": {...}}."""
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
        return "lease answer is not the documented envelope: %r" % (body,)
    data = body["data"]
    if "nonce" in data and not (isinstance(data["nonce"], str) and isinstance(data.get("expires_at"), int)):
        return "lease data lacks nonce/expires_at: %r" % (data,)
    return None


def ok_true_problem(body):
    return None if body == {"ok": True} else "expected the docs' {\"ok\": true}, got %r" % (body,)


def answers_ok_true(entry):
    return entry["status"] == 200 and (
        (entry["method"] == "POST" and OK_ACTION_PATH.match(entry["path"]))
        or (entry["method"] == "DELETE" and MACHINE_PATH.match(entry["path"])))


def start_answer_problem(body):
    if not isinstance(body, dict) or not isinstance(body.get("previous_state"), str):
        return "expected the docs' start answer with previous_state, got %r" % (body,)
    return None


def throttled_text_problem(body):
    return None if isinstance(body, str) and body.startswith("429") else "expected a plain-text 429, got %r" % (body,)


def lambda_error_problem(body):
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return "error answer is not {\"error\": {\"code\", \"message\"}}: %r" % (body,)
    return None


# Per provider: (description, predicate on a captured entry, check of the body that replaces the spec's)
FLY_DEVIATIONS = [
    ("error answers: any 4xx/5xx an operation gives carries the docs' {\"error\": ...} body",
     lambda entry: entry["status"] >= 400, error_body_problem),
    ("leases: the docs' {\"status\", \"data\"} envelope, answered 200",
     lambda entry: bool(LEASE_PATH.match(entry["path"])), lease_envelope_problem),
    ("stop, suspend, restart, cordon, uncordon and destroy answer the docs' {\"ok\": true}",
     answers_ok_true, ok_true_problem),
    ("start answers the docs' {\"previous_state\", \"migrated\", \"new_host\"}",
     lambda entry: entry["status"] == 200 and entry["method"] == "POST" and entry["path"].endswith("/start"),
     start_answer_problem),
]

LAMBDA_DEVIATIONS = [
    ("throttled requests: 429 with a plain-text body, as Lambda's edge answers (not in the document)",
     lambda entry: entry["status"] == 429, throttled_text_problem),
    ("5xx answers, and the 408 that stands for an answer lost on the way (a fault the tests inject),"
     " which the document does not list, carry the documented error object",
     lambda entry: entry["status"] >= 500 or entry["status"] == 408, lambda_error_problem),
]

DEVIATIONS = {"fly": FLY_DEVIATIONS, "lambda_cloud": LAMBDA_DEVIATIONS}


class ContractChecker:
    def __init__(self, provider):
        self.deviations = DEVIATIONS[provider]
        path = spec_path(provider)
        self.available = path.is_file()
        if self.available:
            # The published document repeats an operationId; that does not matter for checking answers.
            self.openapi = OpenAPI.from_file_path(str(path), config=Config(spec_validator_cls=None))
            server = urlsplit(self.openapi.spec["servers"][0]["url"])
            self.server_url = "%s://%s" % (server.scheme, server.netloc)

    def problems(self, entry):
        """What is wrong with one captured answer ([] when it keeps the contract)."""
        for dummy, applies, check in self.deviations:
            if applies(entry):
                try:
                    body = json.loads(entry["body"]) if entry["body"] else None
                except ValueError:
                    body = entry["body"]
                problem = check(body)
                return ["%s %s -> %s: %s" % (entry["method"], entry["path"], entry["status"], problem)] if problem else []
        try:
            self.openapi.validate_response(CapturedRequest(self.server_url, entry), CapturedResponse(entry))
        except MissingData:
            if entry["body"]:
                raise
            # An empty answer where the document declares no content is what it asks for.
        except Exception as exc:  # openapi-core raises one of many validation errors
            details = "; ".join(str(getattr(err, "message", err)) for err in getattr(exc, "__cause__", None)
                                and getattr(exc.__cause__, "schema_errors", []) or [])
            return ["%s %s -> %s: %s %s" % (entry["method"], entry["path"], entry["status"], exc, details)]
        return []

    def check_file(self, capture_file):
        problems = []
        count = 0
        if not os.path.exists(capture_file):
            return count, problems
        with open(capture_file, encoding="utf-8") as captured:
            for line in captured:
                count += 1
                problems.extend(self.problems(json.loads(line)))
        return count, problems
