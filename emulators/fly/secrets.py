"""App secrets: ``/apps/{app_name}/secrets`` (all at once) and ``/apps/{app_name}/secrets/{secret_name}``.

Write-only, as the docs say ("The API servers can only encrypt; they cannot decrypt
secret values"): answers show a name, a digest and dates, never a value, whatever
``show_secrets`` asks. Every change moves the app's secrets ``version`` on.
"""

from __future__ import annotations

import hashlib

from emulators.common.server import HTTPError
from emulators.fly.platform import SECRET_NAME
from emulators.fly.shared import APP, QUERY_BOOLEAN, QUERY_STRING, STRING, iso, obj, query, route

SECRET = APP + r"/secrets/(?P<secret_name>[^/]+)"
SECRET_NAME_RULE = "letters, digits and underscores, not starting with a digit, at most 256 characters"

# AppSecretsUpdateRequest: the document types values as strings; a null unsets the secret, as
# flyctl's client sends it (and sophia.ops.fly_secret does).
UPDATE_SECRETS = obj(required=["values"], values={"type": "object", "additionalProperties": {"type": ["string", "null"]}})
# SetAppSecretRequest
SET_SECRET = obj(required=["value"], value=STRING)
READ_QUERY = query(min_version=QUERY_STRING, show_secrets=QUERY_BOOLEAN)


def secret_digest(value):
    """What the answers show for a value: a short SHA-256 prefix, never the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def check_secret_name(name):
    if not SECRET_NAME.match(name):
        raise HTTPError(400, "invalid secret name %r: %s" % (name, SECRET_NAME_RULE))
    return name


def render_secret(secret):
    return {key: secret[key] for key in ("name", "digest", "created_at", "updated_at")}


def put_secret(state, app_name, name, value):
    """Store ``value`` (kept so that a container backend could inject it; never answered)."""
    key = "%s/%s" % (app_name, name)
    existing = state.store.get("secret", key) or {"created_at": iso()}
    secret = {"key": key, "name": name, "digest": secret_digest(value), "value": value,
              "created_at": existing["created_at"], "updated_at": iso()}
    state.store.put("secret", key, secret, parent=app_name)
    return secret


def next_secrets_version(state, app):
    app["secrets_version"] += 1
    state.store.put("app", app["name"], app)
    return app["secrets_version"]


# --- handlers -----------------------------------------------------------------------------------------
def list_secrets(state, request, app_name):
    state.app(app_name)
    return 200, {"secrets": [render_secret(s) for s in state.store.list("secret", app_name)]}


def update_secrets(state, request, app_name):
    app = state.app(app_name)
    values = request.json()["values"]
    if not values:
        raise HTTPError(400, "values must be a non-empty object of name to value (null deletes)")
    for name in values:
        check_secret_name(name)
    for name, value in values.items():
        if value is None:
            state.store.delete("secret", "%s/%s" % (app_name, name))
        else:
            put_secret(state, app_name, name, value)
    version = next_secrets_version(state, app)
    return 200, {"secrets": [render_secret(s) for s in state.store.list("secret", app_name)],
                 "version": version}


def get_secret(state, request, app_name, secret_name):
    state.app(app_name)
    secret = state.store.get("secret", "%s/%s" % (app_name, check_secret_name(secret_name)))
    if secret is None:
        raise HTTPError(404, "secret %s not found" % secret_name)
    return 200, render_secret(secret)


def set_secret(state, request, app_name, secret_name):
    app = state.app(app_name)
    secret = put_secret(state, app_name, check_secret_name(secret_name), request.json()["value"])
    return 201, dict(render_secret(secret), version=next_secrets_version(state, app))


def delete_secret(state, request, app_name, secret_name):
    app = state.app(app_name)
    key = "%s/%s" % (app_name, check_secret_name(secret_name))
    if state.store.get("secret", key) is None:
        raise HTTPError(404, "secret %s not found" % secret_name)
    state.store.delete("secret", key)
    return 200, {"version": next_secrets_version(state, app)}


ROUTES = [
    route("GET", APP + r"/secrets", list_secrets, query=READ_QUERY),
    route("POST", APP + r"/secrets", update_secrets, body=UPDATE_SECRETS),
    route("GET", SECRET, get_secret, query=READ_QUERY),
    route("POST", SECRET, set_secret, body=SET_SECRET),
    route("DELETE", SECRET, delete_secret),
]
