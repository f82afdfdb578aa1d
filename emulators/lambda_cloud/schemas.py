"""Request schemas of the Lambda Cloud API, written from the request bodies and parameters of
``openapi-1.10.0.json`` (JSON Schema 2020-12, checked by ``emulators.common.server.Route``).

Objects stay open, as the document leaves them: its own launch example sends a ``quantity``
it does not describe. The handlers keep only the fields the document names, so nothing
undocumented is ever stored or echoed. What a schema cannot say (a port range's order, a
CIDR block, which resources exist) the handlers check and refuse in the same error shape.
"""

from __future__ import annotations

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}

FIREWALL_RULE = {
    "type": "object",
    "properties": {
        "protocol": {"type": "string", "enum": ["tcp", "udp", "icmp", "all"]},
        "port_range": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                       "minItems": 2, "maxItems": 2},
        "source_network": STRING,
        "description": {"type": "string", "maxLength": 128},
    },
    "required": ["protocol", "source_network", "description"],
}
RULES = {"type": "array", "items": FIREWALL_RULE}

LAUNCH = {
    "type": "object",
    "properties": {
        "region_name": STRING,
        "instance_type_name": STRING,
        "ssh_key_names": STRINGS,
        "file_system_names": STRINGS,
        "file_system_mounts": {"type": "array", "items": {
            "type": "object",
            "properties": {"mount_point": {"type": "string", "maxLength": 256,
                                           "pattern": "^(/home|/lambda/nfs|/data)[//a-zA-Z0-9-]*$"},
                           "file_system_id": STRING},
            "required": ["mount_point", "file_system_id"]}},
        "hostname": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": "^[a-z0-9][0-9a-z-]{0,62}$"},
        "name": {"type": "string", "minLength": 0, "maxLength": 64},
        "image": {"anyOf": [{"type": "object", "properties": {"id": STRING}, "required": ["id"]},
                            {"type": "object", "properties": {"family": STRING}, "required": ["family"]}]},
        "user_data": STRING,
        "tags": {"type": "array", "items": {
            "type": "object",
            "properties": {"key": {"type": "string", "maxLength": 55, "pattern": "^[a-z][a-z0-9-:]+$"},
                           "value": {"type": "string", "maxLength": 128}},
            "required": ["key", "value"]}},
        "firewall_rulesets": {"type": "array", "items": {"type": "object", "properties": {"id": STRING},
                                                         "required": ["id"]}},
    },
    "required": ["region_name", "instance_type_name", "ssh_key_names"],
}

INSTANCE_IDS = {"type": "object", "properties": {"instance_ids": STRINGS}, "required": ["instance_ids"]}

UPDATE_INSTANCE = {"type": "object", "properties": {"name": {"type": "string", "minLength": 0, "maxLength": 64}}}

ADD_SSH_KEY = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64},
                   "public_key": {"type": "string", "minLength": 1, "maxLength": 4096}},
    "required": ["name"],
}

CREATE_FILESYSTEM = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[a-zA-Z]+[0-9a-zA-Z-]*$"},
                   "region": STRING},
    "required": ["name", "region"],
}

SET_FIREWALL_RULES = {"type": "object", "properties": {"data": RULES}, "required": ["data"]}

CREATE_RULESET = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 64}, "region": STRING, "rules": RULES},
    "required": ["name", "region", "rules"],
}

UPDATE_RULESET = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 64}, "rules": RULES}}

UPDATE_GLOBAL_RULESET = {"type": "object", "properties": {"rules": RULES}}

# Query parameters arrive as strings.
LIST_INSTANCES_QUERY = {"type": "object", "properties": {"cluster_id": STRING}}
