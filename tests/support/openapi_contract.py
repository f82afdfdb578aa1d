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


# Without the documents the contract checks cannot run: that fails, unless this is set to say so on purpose.
SKIP_CONTRACT_ENV = "SOPHIA_SKIP_CONTRACT"
DEVIATIONS_DOC = REPO_ROOT / "docs" / "emulator-spec-deviations.md"


def spec_path(provider):
    variable, relative = SPECS[provider]
    return Path(os.environ.get(variable) or REPO_ROOT.parent / "shared" / "specs" / relative)


def contract_opted_out():
    return os.environ.get(SKIP_CONTRACT_ENV, "") not in ("", "0")


def missing_spec(provider):
    """None when the provider's document is there; otherwise where it was expected."""
    path = spec_path(provider)
    if path.is_file():
        return None
    variable, relative = SPECS[provider]
    return ("the %s OpenAPI document is missing: expected at %s (../shared/specs/%s beside the checkout, or "
            "the path in %s); without it the contract checks cannot run. Set %s=1 to run the tests without them."
            % (provider, path, relative, variable, SKIP_CONTRACT_ENV))


# --- operations the emulators leave out (docs/emulator-spec-deviations.md) --------------------
OPERATION_MENTION = re.compile(r"`(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) +(/[^`\s]*)`")
LEFT_OUT_HEADING = re.compile(r"left out|not implemented|not emulated", re.IGNORECASE)
PROVIDER_HEADINGS = (("fly", re.compile(r"\bfly\b", re.IGNORECASE)),
                     ("lambda_cloud", re.compile(r"\blambda\b", re.IGNORECASE)))


def operation_key(method, path):
    """``METHOD /path`` without the API prefix and parameter names, so a mention in the docs
    (``/v1/apps/{app}``, ``/apps/{app_name}``) and the document's path compare equal."""
    path = re.sub(r"^/(api/)?v1(?=/|$)", "", path.strip())
    path = re.sub(r"\{[^}]*\}", "{}", path).rstrip("/") or "/"
    return "%s %s" % (method.upper(), path)


def left_out_operations(provider, text=None):
    """{operation key: reason} for the operations the provider's emulator leaves out.

    In docs/emulator-spec-deviations.md, within the provider's part (a top-level ``#`` heading
    naming Fly or Lambda), under any heading that says "left out", each line naming an
    operation as `` `METHOD /path` `` lists it; the rest of the line is the reason.
    """
    if text is None:
        text = DEVIATIONS_DOC.read_text(encoding="utf-8") if DEVIATIONS_DOC.is_file() else ""
    current, left_out_level, listed = None, None, {}
    for line in text.splitlines():
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            if level == 1:
                current = next((name for name, pattern in PROVIDER_HEADINGS if pattern.search(title)), None)
                left_out_level = None
            elif LEFT_OUT_HEADING.search(title):
                left_out_level = level
            elif left_out_level is not None and level <= left_out_level:
                left_out_level = None
            continue
        if current != provider or left_out_level is None:
            continue
        mentions = OPERATION_MENTION.findall(line)
        reason = OPERATION_MENTION.sub("", line).strip(" \t|-*:;,.")
        for method, path in mentions:
            listed[operation_key(method, path)] = reason
    return listed


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
    # The status is the document's (201 on create, 200 on get and release): a lease created with any
    # other status is not covered here, and the document's check refuses it.
    ("leases: the docs' {\"status\", \"data\"} envelope, with the document's status",
     lambda entry: bool(LEASE_PATH.match(entry["path"])) and entry["status"] == (201 if entry["method"] == "POST"
                                                                                 else 200),
     lease_envelope_problem),
    ("stop, suspend, restart, cordon, uncordon and destroy answer the docs' {\"ok\": true}",
     answers_ok_true, ok_true_problem),
    ("start answers the docs' {\"previous_state\", \"migrated\", \"new_host\"}",
     lambda entry: entry["status"] == 200 and entry["method"] == "POST" and entry["path"].endswith("/start"),
     start_answer_problem),
]

# The Lambda document's paths as patterns, read on first use.
LAMBDA_PATHS = []


def lambda_documented_path(path):
    """Whether the Lambda document has ``path`` (a concrete request path)."""
    if not LAMBDA_PATHS:
        with open(spec_path("lambda_cloud"), encoding="utf-8") as stream:
            LAMBDA_PATHS.extend(re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(name)) + "$")
                                for name in json.load(stream)["paths"])
    return any(pattern.match(path) for pattern in LAMBDA_PATHS)


def head_answer_problem(body):
    """The capture holds the GET answer a HEAD leaves off on the wire: the document's envelope."""
    if body is None or (isinstance(body, dict) and ("data" in body or lambda_error_problem(body) is None)):
        return None
    return "a HEAD answer that is no GET answer: %r" % (body,)


LAMBDA_DEVIATIONS = [
    ("throttled requests: 429 with a plain-text body, as Lambda's edge answers (not in the document)",
     lambda entry: entry["status"] == 429, throttled_text_problem),
    ("HEAD, which the document does not list: the GET answer's status and headers, no body",
     lambda entry: entry["method"] == "HEAD", head_answer_problem),
    ("a method a documented path does not take: 405 with Allow and the documented error object",
     lambda entry: entry["status"] == 405, lambda_error_problem),
    ("a path the document does not have: 404 with the documented error object",
     lambda entry: entry["status"] == 404 and not lambda_documented_path(entry["path"]), lambda_error_problem),
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
