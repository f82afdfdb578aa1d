"""What every Fly resource module shares: ids, timestamps, paths, cursors, route rows and the
small JSON-schema vocabulary its request schemas are written in.

The resource modules (apps, machines, leases, metadata, volumes, secrets, ips,
certificates, platform, control) each bring their request schemas, their route table
(``ROUTES``) and their handlers, plain functions over one ``FlyState`` (state.py).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import random
import re
import string
import time

from emulators.common.server import HTTPError
from emulators.fly.lifecycle import now

# Path patterns shared by the route tables (the API prefix /v1 is stripped before routing).
APP = r"/apps/(?P<app_name>[^/]+)"
MACHINE = APP + r"/machines/(?P<machine_id>[^/]+)"
VOLUME = APP + r"/volumes/(?P<volume_id>[^/]+)"
CERT = APP + r"/certificates/(?P<hostname>[^/]+)"
ORG = r"/orgs/(?P<org_slug>[^/]+)"

# Where machines and volumes go when the request names no region (the emulated app's primary region).
DEFAULT_REGION = "iad"


def route(method, pattern, handler, action=None, **options):
    """One row of a resource's route table: ``handler`` is a function ``(state, request, **path_params)``,
    ``action`` the rate-limit bucket (the handler's name unless given), ``options`` go to
    ``Service.add_route`` (``body``, ``query``, ``locked``)."""
    return (method, pattern, handler, action or handler.__name__, options)


# --- ids and time ------------------------------------------------------------------------------------
def iso(at=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now() if at is None else at))


def parse_iso(text):
    """Epoch seconds of an RFC 3339 timestamp (``Z`` or an offset, fractions allowed), or None."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", text or "")
    if not match:
        return None
    try:
        base = calendar.timegm(time.strptime(match.group(1) + "T" + match.group(2), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    zone = match.group(4).upper()
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        base -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return base + float(match.group(3) or 0)


def random_id(length=14, alphabet=string.digits + "abcdef"):
    return "".join(random.choice(alphabet) for dummy in range(length))


def instance_id():
    """A 26-character version or event id, as the API's ULIDs look."""
    return "01" + "".join(random.choice(string.digits + string.ascii_uppercase) for dummy in range(24))


# --- query values ---------------------------------------------------------------------------------
TRUE_WORDS = ("1", "t", "true")


def flag(request, name):
    """A boolean query parameter as the API reads it (Go's strconv.ParseBool words)."""
    return str(request.arg(name, "")).lower() in TRUE_WORDS


def integer_arg(request, name, default):
    value = request.arg(name)
    return default if value in (None, "") else int(value)


def page(items, request, default_limit, max_limit):
    """(the items of this page, the next cursor or None) for a cursor-paginated listing. The
    cursor is an opaque token standing for an offset into the listing."""
    cursor = request.arg("cursor")
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").split(":", 1)[1])
        except (ValueError, IndexError, UnicodeError, binascii.Error):
            raise HTTPError(400, "invalid cursor %r: pass the next_cursor of an earlier page" % cursor) from None
        if start < 0:
            raise HTTPError(400, "invalid cursor %r: pass the next_cursor of an earlier page" % cursor)
    limit = integer_arg(request, "limit", default_limit)
    limit = max_limit if limit <= 0 else min(limit, max_limit)
    chosen = items[start:start + limit]
    more = start + limit < len(items)
    token = base64.urlsafe_b64encode(("offset:%d" % (start + limit)).encode("ascii")).decode("ascii")
    return chosen, token if more else None


def org_listing(kind, rows, cursor):
    """The answer of an organisation-wide listing (``/orgs/{org}/machines``, ``/orgs/{org}/volumes``): its
    rows, the last row's id and update time, and the next page's cursor when there is one."""
    answer = {kind + "s": rows}
    if rows:
        answer["last_%s_id" % kind], answer["last_updated_at"] = rows[-1]["id"], rows[-1]["updated_at"]
    if cursor:
        answer["next_cursor"] = cursor
    return 200, answer


# --- the vocabulary of the request schemas ----------------------------------------------------------
# Objects stay open, as the document leaves them (the real API ignores fields it does not know);
# every field the document names is typed as it types it.
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
NUMBER = {"type": "number"}
STRINGS = {"type": "array", "items": STRING}
STRING_MAP = {"type": "object", "additionalProperties": STRING}


def obj(required=(), **properties):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array_of(items):
    return {"type": "array", "items": items}


def one_of_words(*words):
    return {"type": "string", "enum": list(words)}


# Query values arrive as text: booleans and integers are patterns over it.
QUERY_BOOLEAN = {"type": "string", "pattern": "^(1|0|t|f|T|F|true|false|TRUE|FALSE|True|False)$"}
QUERY_INTEGER = {"type": "string", "pattern": "^-?[0-9]{1,9}$"}
QUERY_STRING = STRING


def query(required=(), **parameters):
    return obj(required, **parameters)
