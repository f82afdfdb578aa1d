"""Requests generated from an official OpenAPI document, for the property-based contract test.

The document's operations are read with their parameters and request schemas. Those schemas
are turned into plain JSON Schema (references inlined, OpenAPI-only keywords dropped) so that
hypothesis-jsonschema can generate values from them; the strategies here add the malformed
variants a client may send (wrong types, arrays for objects, missing fields, random JSON,
bytes that are not JSON).

Values may hold ``Real("name")`` placeholders: the id of a resource the example's own set-up
created, filled in just before the request is sent (so a shrunk example still reads well).
"""

from __future__ import annotations

import copy
import json
from urllib.parse import urlsplit

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Annotations and OpenAPI extras: no bearing on what a valid value is.
DROPPED_KEYWORDS = {"example", "examples", "description", "title", "discriminator", "xml", "externalDocs",
                    "deprecated", "readOnly", "writeOnly", "default"}
# Formats hypothesis-jsonschema generates; any other (the Lambda document's "ipv4network", "password")
# is only a hint, dropped so generation does not refuse the schema.
GENERATED_FORMATS = {"date-time", "date", "time", "email", "ipv4", "ipv6", "uuid", "uri", "hostname"}
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_SINGLE = ("items", "not", "additionalProperties", "contains", "propertyNames")


class Real:
    """The id of a resource the example's set-up created (resolved just before sending)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Real(%r)" % self.name

    def __eq__(self, other):
        return isinstance(other, Real) and other.name == self.name

    def __hash__(self):
        return hash(("Real", self.name))


class Absent:
    """No body at all (distinct from a JSON null)."""

    def __repr__(self):
        return "ABSENT"


ABSENT = Absent()


class Operation:
    """One operation of the document: ``parameters`` are {"name", "in", "required", "schema"}."""

    def __init__(self, method, path, operation_id, parameters=(), body_schema=None, body_required=False):
        self.method = method
        self.path = path
        self.operation_id = operation_id
        self.parameters = list(parameters)
        self.body_schema = body_schema
        self.body_required = body_required

    def __repr__(self):  # the whole schema would bury a failure report
        return "Operation(%s)" % self.key

    @property
    def key(self):
        return "%s %s" % (self.method, self.path)

    def params(self, location):
        return [p for p in self.parameters if p["in"] == location]


def to_json_schema(schema, components, seen=()):
    """An OpenAPI schema object as plain JSON Schema: ``$ref`` inlined (a reference back into
    itself becomes "anything"), ``nullable`` spelt as a type union, annotations dropped."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        return {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return {}
        resolved = to_json_schema(components[name], components, seen + (name,))
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        rest = to_json_schema(siblings, components, seen) if siblings else {}
        return {"allOf": [resolved, rest]} if rest else resolved
    out = {}
    for key, value in schema.items():
        if key in DROPPED_KEYWORDS or key.startswith("x-") or key == "nullable":
            continue
        if key == "format" and value not in GENERATED_FORMATS:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub, components, seen) for name, sub in value.items()}
        elif key in SUBSCHEMA_LISTS:
            out[key] = [to_json_schema(sub, components, seen) for sub in value]
        elif key in SUBSCHEMA_SINGLE and isinstance(value, dict):
            out[key] = to_json_schema(value, components, seen)
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def server_prefix(document):
    """The path the document's first server puts in front of every operation ("/v1" for Fly)."""
    return urlsplit(document["servers"][0]["url"]).path.rstrip("/")


def load_operations(document):
    """Every operation of the document, in its order."""
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    shared_parameters = components.get("parameters", {})
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            parameters = []
            for parameter in list(item.get("parameters", [])) + list(operation.get("parameters", [])):
                if "$ref" in parameter:
                    parameter = shared_parameters[parameter["$ref"].rsplit("/", 1)[-1]]
                parameters.append({"name": parameter["name"], "in": parameter["in"],
                                   "required": bool(parameter.get("required")),
                                   "schema": to_json_schema(parameter.get("schema", {}), schemas)})
            body = operation.get("requestBody") or {}
            media = (body.get("content") or {}).get("application/json")
            operations.append(Operation(
                method=method.upper(), path=path, operation_id=operation.get("operationId", ""),
                parameters=parameters,
                body_schema=to_json_schema(media.get("schema", {}), schemas) if media else None,
                body_required=bool(body.get("required"))))
    return operations


# --- generic value strategies --------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=12))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
# Bodies that are not JSON at all: truncated JSON, text, bytes that are not even UTF-8.
NOT_JSON = st.one_of(st.sampled_from([b"{", b"not json", b'{"a": ', b"\xff\xfe\x00", b"[1,", b"{'single': 'quotes'}"]),
                     st.binary(min_size=1, max_size=24).filter(lambda raw: not _parses(raw)))
# Path segments a client might send: anything printable, kept non-empty and not a dot segment
# (which HTTP clients fold away before sending).
PATH_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=16).filter(
    lambda text: text not in (".", ".."))
HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=16)


def _parses(raw):
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def json_type(value):
    if isinstance(value, Real):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def value_paths(value, prefix=()):
    """Every position inside a JSON value (not the root), as key/index tuples."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield prefix + (key,)
        yield from value_paths(inner, prefix + (key,))


def replaced(value, path, new):
    out = copy.deepcopy(value)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


def without(value, path):
    out = copy.deepcopy(value)
    target = out
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


@st.composite
def wrong_typed(draw, base):
    """A valid-looking value with one position (at any depth) of another JSON type, or an
    object turned into an array of itself."""
    value = draw(base)
    paths = list(value_paths(value))
    if not paths:
        return draw(JSON_VALUES.filter(lambda other: json_type(other) != json_type(value)))
    path = draw(st.sampled_from(paths))
    old = copy.deepcopy(value)
    for key in path:
        old = old[key]
    if isinstance(old, dict) and draw(st.booleans()):
        return replaced(value, path, [old])
    return replaced(value, path, draw(JSON_VALUES.filter(lambda other: json_type(other) != json_type(old))))


@st.composite
def missing_field(draw, base):
    """A valid-looking object with one field (at any depth) left out."""
    value = draw(base)
    paths = [path for path in value_paths(value) if isinstance(path[-1], str)]
    if not paths:
        return value
    return without(value, draw(st.sampled_from(paths)))


def deep_merge(generated, seed):
    """``seed`` over ``generated``: the seed's fields win, the generated ones add the rest."""
    if not (isinstance(generated, dict) and isinstance(seed, dict)):
        return copy.deepcopy(seed)
    out = copy.deepcopy(generated)
    for key, value in seed.items():
        out[key] = deep_merge(out.get(key), value) if isinstance(value, dict) else copy.deepcopy(value)
    return out


def schema_values(schema):
    """Values valid against a (converted) schema; anything JSON when hypothesis-jsonschema
    cannot generate from it."""
    if not schema:
        return JSON_VALUES
    try:
        strategy = from_schema(schema)
    except Exception:  # an unsatisfiable or unsupported schema: fall back to any JSON
        return JSON_VALUES
    return strategy


def query_text(value):
    """A generated parameter value as the query string carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def resolve(value, ids):
    """``value`` with every Real placeholder replaced by the id the set-up gave it (a placeholder
    the set-up could not fill stays a recognisable unknown id)."""
    if isinstance(value, Real):
        return ids.get(value.name) or "unknown-%s" % value.name
    if isinstance(value, dict):
        return {key: resolve(inner, ids) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve(inner, ids) for inner in value]
    if isinstance(value, tuple):
        return tuple(resolve(inner, ids) for inner in value)
    return value
