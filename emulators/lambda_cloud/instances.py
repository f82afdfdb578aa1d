"""``/instances`` and ``/instance-operations``: launch, restart, terminate, rename; and the control
surface's ``instances/{id}`` (an instance made unhealthy or preempted)."""

from __future__ import annotations

import hashlib
import random
import time

from emulators.common.server import HTTPError
from emulators.lambda_cloud import schemas
from emulators.lambda_cloud.catalog import CATALOG, IMAGE_FAMILIES, REGIONS, capacity, images
from emulators.lambda_cloud.errors import does_not_exist, error, invalid
from emulators.lambda_cloud.state import ID, hex_id, iso, required_body

INSTANCE = r"/instances/" + ID.format("instance_id")
# Docs: "The user data string must be plain text and cannot exceed 1MB in size."
USER_DATA_MAX_BYTES = 1024 * 1024
STATUSES = ("booting", "active", "unhealthy", "terminating", "terminated", "preempted")


def list_instances(state, request):
    live = state.live()
    if request.arg("cluster_id") is not None:
        live = []  # the emulator launches no 1-Click Clusters: no instance belongs to one
    return 200, {"data": [state.render(i) for i in live]}


def get_instance(state, request, instance_id):
    return 200, {"data": state.render(state.instance(instance_id))}


def update_instance(state, request, instance_id):
    body = required_body(request)
    instance = state.instance(instance_id)
    if "name" in body:
        instance["name"] = body["name"]
        state.store.put("instance", instance_id, instance)
    return 200, {"data": state.render(instance)}


def launch(state, request):
    body = request.json()
    type_name, region_name, keys = body["instance_type_name"], body["region_name"], body["ssh_key_names"]
    if len(keys) != 1:
        raise invalid("ssh_key_names must name exactly one SSH key", "Currently, exactly one SSH key must be "
                                                                     "specified.")
    if type_name not in CATALOG:
        raise does_not_exist("Instance type %s does not exist." % type_name,
                             "List the instance types with GET /instance-types.")
    if region_name not in REGIONS:
        raise does_not_exist("Region %s does not exist." % region_name, "List the regions with GET /regions.")
    if not any(k["name"] == keys[0] for k in state.store.list("ssh_key")):
        raise does_not_exist("SSH key %s does not exist." % keys[0], "Add the key with POST /ssh-keys first.")
    check_image(body.get("image"), region_name)
    user_data = body.get("user_data") or ""
    if len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
        raise invalid("user_data is %d bytes; at most 1 MB is accepted" % len(user_data.encode("utf-8")))
    mounts = filesystems_to_mount(state, body, region_name)
    rulesets = rulesets_to_apply(state, body.get("firewall_rulesets") or [], region_name)
    if region_name not in capacity(state)[type_name]:
        raise error(400, "instance-operations/launch/insufficient-capacity",
                    "Not enough capacity to fulfill launch request.",
                    "Try another region or instance type, or try again later.")
    if len(state.live()) >= int(state.settings["instance_quota"]):
        raise error(400, "global/quota-exceeded", "Quota exceeded.", "Contact Support to increase your quota.")
    now = time.time()
    octets = [random.randint(1, 254) for dummy in range(3)]
    instance = {
        "id": hex_id(), "name": body.get("name") or "", "status": "booting",
        "ready_at": now + float(state.settings["boot_seconds"]),
        "ip": "192.222.%d.%d" % tuple(octets[:2]), "private_ip": "10.19.%d.%d" % tuple(octets[1:]),
        "hostname": body.get("hostname") or "192-222-%d-%d" % tuple(octets[:2]),
        "ssh_key_names": list(keys), "file_system_names": [fs["name"] for fs, dummy in mounts],
        "file_system_mounts": [{"file_system_id": fs["id"], "mount_point": point} for fs, point in mounts],
        "region": region_name, "instance_type": type_name,
        "tags": [{"key": tag["key"], "value": tag["value"]} for tag in body.get("tags") or []],
        # The request's entries, as the document shapes them: [{"id": ...}].
        "firewall_rulesets": [{"id": ruleset_id} for ruleset_id in rulesets],
        "jupyter_token": hex_id(), "created": iso(now),
    }
    instance["jupyter_url"] = "https://jupyter-%s.lambdaspaces.com/?token=%s" % (
        instance["id"], instance["jupyter_token"])
    # Cloud-init runs the user data; the emulator only remembers that there was some.
    instance["user_data_digest"] = hashlib.sha256(user_data.encode()).hexdigest()
    if state.machines is not None:
        boot(state, instance, keys[0])
    state.store.put("instance", instance["id"], instance)
    return 200, {"data": {"instance_ids": [instance["id"]]}}


def boot(state, instance, key_name):
    """The instance as a running container (Docker backend): its ip, private_ip and container set."""
    from emulators.common.docker_engine import DockerError
    from emulators.lambda_cloud.docker_backend import ImageMissing

    public_keys = [k["public_key"] for k in state.store.list("ssh_key") if k["name"] == key_name]
    taken = {i["ip"] for i in state.live() if i.get("container")}
    try:
        state.machines.launch(instance, public_keys, taken)
    except (ImageMissing, DockerError) as problem:
        raise error(500, "global/internal-error", "emulator: the instance could not start: %s" % problem,
                    "Build the image (scripts/images build gpu-node) and check the Docker engine.") from None


def check_image(image, region_name):
    if image is None:
        return
    if "id" in image:
        regions = [i["region"]["name"] for i in images() if i["id"] == image["id"]]
        if not regions:
            raise does_not_exist("Image %s does not exist." % image["id"], "List the images with GET /images.")
        if region_name not in regions:
            raise invalid("Image %s is not available in %s." % (image["id"], region_name),
                          "Choose an image of the region with GET /images.")
    elif image["family"] not in [family for family, dummy in IMAGE_FAMILIES]:
        raise does_not_exist("Image family %s does not exist." % image["family"],
                             "List the images with GET /images.")


def filesystems_to_mount(state, body, region_name):
    """[(filesystem, mount point)]: those named, and those given a mount point, which wins over the default
    for a filesystem in both lists."""
    by_name = dict((fs["name"], fs) for fs in state.store.list("filesystem"))
    by_id = dict((fs["id"], fs) for fs in by_name.values())
    chosen = []
    for name in body.get("file_system_names") or []:
        if name not in by_name:
            raise does_not_exist("Filesystem %s does not exist." % name, "Create it with POST /filesystems first.")
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    points = {}
    for mount in body.get("file_system_mounts") or []:
        fs = by_id.get(mount["file_system_id"])
        if fs is None:
            raise does_not_exist("Filesystem %s does not exist." % mount["file_system_id"],
                                 "List the filesystems with GET /file-systems.")
        if fs["id"] in points:
            raise invalid("file_system_mounts names filesystem %s twice" % fs["id"])
        points[fs["id"]] = mount["mount_point"]
        if fs not in chosen:
            chosen.append(fs)
    for fs in chosen:
        if fs["region"] != region_name:
            raise error(400, "instance-operations/launch/file-system-in-wrong-region",
                        "Filesystem %s is in %s, not %s." % (fs["name"], fs["region"], region_name),
                        "Launch in the filesystem's region, or use a filesystem of %s." % region_name)
    return [(fs, points.get(fs["id"]) or "/lambda/nfs/" + fs["name"]) for fs in chosen]


def rulesets_to_apply(state, entries, region_name):
    """The ids of the rulesets asked for; docs: they "must exist in the same region as the instance"."""
    ids = []
    for entry in entries:
        ruleset = state.store.get("ruleset", entry["id"])
        if ruleset is None:
            raise does_not_exist("Firewall ruleset %s does not exist." % entry["id"],
                                 "List the firewall rulesets with GET /firewall-rulesets.")
        if ruleset["region"] != region_name:
            raise invalid("Firewall ruleset %s is in %s, not %s." % (ruleset["name"], ruleset["region"], region_name),
                          "Use a firewall ruleset of the instance's region.")
        if entry["id"] not in ids:
            ids.append(entry["id"])
    return ids


def instances_named(state, body):
    ids = list(dict.fromkeys(body["instance_ids"]))  # once each, in the order given
    if not ids:
        raise invalid("instance_ids must name at least one instance")
    return [state.instance(i) for i in ids]


def restart(state, request):
    instances = instances_named(state, request.json())
    for instance in instances:
        if state.status_of(instance) != "active":
            raise error(409, "global/conflict", "Instance %s cannot restart while it is %s."
                        % (instance["id"], state.status_of(instance)), "Wait until the instance is active.")
    for instance in instances:
        if instance.get("container") and state.machines is not None:
            state.machines.restart(instance)
        instance["status"] = "booting"
        instance["ready_at"] = time.time() + float(state.settings["boot_seconds"])
        state.store.put("instance", instance["id"], instance)
    return 200, {"data": {"restarted_instances": [state.render(i) for i in instances]}}


def terminate(state, request):
    instances = instances_named(state, request.json())
    for instance in instances:
        if instance.get("container") and state.machines is not None:
            state.machines.terminate(instance)
        instance["status"] = "terminating"
        instance["ready_at"] = time.time() + float(state.settings["boot_seconds"]) / 2
        state.store.put("instance", instance["id"], instance)
    return 200, {"data": {"terminated_instances": [state.render(i) for i in instances]}}


def set_instance_status(state, request, instance_id):
    """Control: ``{"status": ...}`` puts an instance in any of the document's statuses (unhealthy, preempted)."""
    instance = state.instance(instance_id)
    status = request.json().get("status")
    if status not in STATUSES:
        raise HTTPError(400, {"error": "status must be one of the document's instance statuses"})
    instance["status"] = status
    state.store.put("instance", instance["id"], instance)
    return 200, state.render(instance)


ROUTES = [
    ("GET", r"/instances", list_instances, "list_instances", {"query": schemas.LIST_INSTANCES_QUERY}),
    ("GET", INSTANCE, get_instance, "get_instance", {}),
    ("POST", INSTANCE, update_instance, "update_instance", {"body": schemas.UPDATE_INSTANCE}),
    ("POST", r"/instance-operations/launch", launch, "launch", {"body": schemas.LAUNCH}),
    ("POST", r"/instance-operations/restart", restart, "restart", {"body": schemas.INSTANCE_IDS}),
    ("POST", r"/instance-operations/terminate", terminate, "terminate", {"body": schemas.INSTANCE_IDS}),
]
CONTROL_ROUTES = [("POST", r"/instances/(?P<instance_id>[^/]*)", set_instance_status)]
