"""The Lambda Cloud API's error object: ``{"error": {"code", "message", "suggestion"}}``, with the code the
OpenAPI document gives for the operation and status."""

from __future__ import annotations

from emulators.common.server import HTTPError

# The document's error object for a status when the operation gives no more specific one:
# (code, default message, suggestion). The document requires a suggestion for 401, 403 and
# 5xx; the others carry one because it helps.
ERRORS = {
    400: ("global/invalid-parameters", "Invalid request data.",
          "Check the request against the API reference and try again."),
    401: ("global/invalid-api-key", "API key was invalid, expired, or deleted.",
          "Check your API key or create a new one, then try again."),
    403: ("global/account-inactive", "Your account is inactive.",
          "Make sure you have verified your email address and have a valid payment method. "
          "Contact Support if problems continue."),
    404: ("global/not-found", "The requested resource was not found.",
          "Check the URL and the resource's ID, then try again."),
    409: ("global/conflict", "The request conflicts with the current state of the resource.",
          "Wait for the resource to settle, then try again."),
    500: ("global/internal-error", "An internal server error occurred.",
          "Try again later. Contact Support if the problem persists."),
}
# Messages the common layer uses for its generic refusals; the document's own wording replaces them.
GENERIC_MESSAGES = ("not found", "unauthorized", "")


def error(status, code, message, suggestion=None):
    """An error of the document's shape; without a suggestion of its own, the status's general one."""
    return HTTPError(status, {"error": {"code": code, "message": message,
                                        "suggestion": suggestion or ERRORS.get(status, ERRORS[500])[2]}})


def invalid(message, suggestion=None):
    return error(400, "global/invalid-parameters", message, suggestion)


def does_not_exist(message, suggestion=None):
    """The document's 404 for a resource named in the path or the body (``global/object-does-not-exist``)."""
    return error(404, "global/object-does-not-exist", message, suggestion)


def error_body(status, message):
    """Every error the common layer makes (malformed JSON, unknown path, 405, 401, faults) in the document's
    error object, with the code it gives for that status."""
    if status == 429:
        return "429 Too Many Requests\n"  # the edge answers throttling in plain text
    if status in ERRORS:
        code, default, suggestion = ERRORS[status]
    elif status >= 500 or status == 408:  # 408: an injected fault that lost the answer
        code, default, suggestion = ERRORS[500]
    else:  # 405 and http.server's own refusals (431, ...): the client's request is at fault
        code, default, suggestion = ERRORS[400]
        if status == 405:
            suggestion = "Use one of the methods listed in the Allow header."
    text = message if isinstance(message, str) and message.strip().lower() not in GENERIC_MESSAGES else default
    return {"error": {"code": code, "message": text, "suggestion": suggestion}}
