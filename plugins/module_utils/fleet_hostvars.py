# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host variables of a Fly machine and of a Lambda instance, made from the API's objects.

One definition for the fleet inventory plugin and for the play that adds the GPU pool's new instances to its
inventory itself where the inventory cannot be read again (AWX hands a job a stored copy).
"""

from __future__ import annotations

from ansible_collections.sophia.ops.plugins.module_utils.fly_api import CREATE_MARKER_KEY
from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import INSTANCE_GONE, POOL_TAG

# An instance's fields that are credentials: host variables only when asked for.
LAMBDA_CREDENTIAL_FIELDS = ("jupyter_url", "jupyter_token")


def fly_hostvars(app, machine):
    config = machine.get("config") or {}
    metadata = dict((k, v) for k, v in (config.get("metadata") or {}).items() if k != CREATE_MARKER_KEY)
    return {
        "ansible_connection": "local",
        "fly_app": app,
        "fly_service": metadata.get("sophia_service") or app,
        "fly_machine_id": machine.get("id"),
        "fly_machine_name": machine.get("name"),
        "fly_region": machine.get("region"),
        "fly_process_group": metadata.get("fly_process_group"),
        "fly_state": machine.get("state"),
        "fly_image": config.get("image"),
        "fly_instance_id": machine.get("instance_id"),
        "fly_private_ip": machine.get("private_ip"),
        "fly_metadata": metadata,
    }


def lambda_hostvars(instance, credentials=False):
    tags = dict((t.get("key"), t.get("value")) for t in instance.get("tags") or [])
    hostvars = {
        "ansible_user": "ubuntu",
        "lambda_id": instance.get("id"),
        "lambda_name": instance.get("name"),
        "lambda_status": instance.get("status"),
        "lambda_ip": instance.get("ip"),
        "lambda_private_ip": instance.get("private_ip"),
        "lambda_hostname": instance.get("hostname"),
        "lambda_region": (instance.get("region") or {}).get("name"),
        "lambda_instance_type": (instance.get("instance_type") or {}).get("name"),
        "lambda_pool": tags.get(POOL_TAG),
        "lambda_tags": tags,
    }
    if instance.get("ip"):
        hostvars["ansible_host"] = instance["ip"]
    if credentials:
        for field in LAMBDA_CREDENTIAL_FIELDS:
            if instance.get(field):
                hostvars["lambda_" + field] = instance[field]
    return hostvars


def lambda_hosts(instances, credentials=False):
    """(host name, host variables) of each instance the fleet inventory lists: those not on their way out, by name
    (by ID where an instance has none)."""
    return [(instance.get("name") or instance["id"], lambda_hostvars(instance, credentials))
            for instance in instances or [] if instance.get("status") not in INSTANCE_GONE]
