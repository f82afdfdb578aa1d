"""The Lambda Cloud API (``/api/v1``) as the emulator serves it.

Contract: the official OpenAPI document (1.10.0). Answers are ``{"data": ...}``,
errors ``{"error": {"code", "message", "suggestion"}}`` with the code the document
gives for the operation and status; a throttled request gets a 429 with a plain-text
body, as Lambda's edge answers it. Every request body and query is checked against the
document's request schema (``schemas.py``) before a handler runs.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
import re
import time

from emulators.common.server import HTTPError, Service
from emulators.lambda_cloud import schemas

# Ids are matched loosely so that an id of the wrong form is "does not exist", as the document
# answers it, rather than an unknown path.
ID = r"(?P<{}>[^/]+)"
INSTANCE = r"/instances/" + ID.format("instance_id")
RULESET = r"/firewall-rulesets/" + ID.format("ruleset_id")
CATALOG = {
    "gpu_1x_a100_sxm4": ("1x A100 (40 GB SXM4)", "A100 (40 GB SXM4)", 129, (30, 200, 512, 1)),
    "gpu_8x_a100_80gb_sxm4": ("8x A100 (80 GB SXM4)", "A100 (80 GB SXM4)", 1432, (240, 1800, 20480, 8)),
    "gpu_1x_h100_pcie": ("1x H100 (80 GB PCIe)", "H100 (80 GB PCIe)", 249, (26, 200, 1024, 1)),
    "gpu_1x_a10": ("1x A10 (24 GB PCIe)", "A10 (24 GB PCIe)", 75, (30, 200, 1400, 1)),
}
REGIONS = {
    "us-east-1": "Virginia, USA", "us-west-1": "California, USA", "us-south-1": "Texas, USA",
    "europe-central-1": "Germany", "asia-northeast-1": "Tokyo, Japan",
}
IMAGE_FAMILIES = (("lambda-stack-24-04", "24.04.1"), ("ubuntu-24-04", "24.04.1"))
# Docs: "The user data string must be plain text and cannot exceed 1MB in size."
USER_DATA_MAX_BYTES = 1024 * 1024
PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                        r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( .*)?$")
# "a public IPv4 address optionally followed by a slash (/) and an integer mask"
SOURCE_NETWORK = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
GLOBAL_RULESET_NAME = "Global"

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


def iso(at=None):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() if at is None else at))


def hex_id():
    return "".join(random.choice("0123456789abcdef") for dummy in range(32))


def region(name):
    return {"name": name, "description": REGIONS[name]}


def instance_type(name):
    description, gpu, price, (vcpus, memory, storage, gpus) = CATALOG[name]
    return {"name": name, "description": description, "gpu_description": gpu, "price_cents_per_hour": price,
            "specs": {"vcpus": vcpus, "memory_gib": memory, "storage_gib": storage, "gpus": gpus}}


def image_id(region_name, family):
    return hashlib.md5((region_name + family).encode()).hexdigest()


def error(status, code, message, suggestion=None):
    """An error of the document's shape; without a suggestion of its own, the status's general one."""
    return HTTPError(status, {"error": {"code": code, "message": message,
                                        "suggestion": suggestion or ERRORS.get(status, ERRORS[500])[2]}})


def invalid(message, suggestion=None):
    return error(400, "global/invalid-parameters", message, suggestion)


def does_not_exist(message, suggestion=None):
    """The document's 404 for a resource named in the path or the body (``global/object-does-not-exist``)."""
    return error(404, "global/object-does-not-exist", message, suggestion)


def ruleset_not_found():
    return does_not_exist("Firewall ruleset does not exist or you do not have permission to access it.",
                          "Check your firewall ruleset ID and try again.")


def check_rule(where, rule):
    """One firewall rule the schema passed: what it cannot say, and only the documented fields kept."""
    protocol, ports = rule["protocol"], rule.get("port_range")
    if protocol == "icmp" and ports is not None:
        raise invalid("%s.port_range: icmp rules take no port range" % where)
    if protocol != "icmp" and ports is None:
        # Document: "Not allowed for the icmp protocol but required for the others."
        raise invalid("%s.port_range: a %s rule needs a port range [min, max]" % (where, protocol),
                      "List a single port twice, for example [22, 22].")
    if ports is not None and int(ports[0]) > int(ports[1]):
        raise invalid("%s.port_range: %d is above %d" % (where, ports[0], ports[1]), "Give the range as [min, max].")
    network = rule["source_network"]
    try:
        if not SOURCE_NETWORK.fullmatch(network):
            raise ValueError(network)
        ipaddress.IPv4Network(network, strict=False)
    except ValueError:
        raise invalid("%s.source_network: %r is not an IPv4 address or CIDR block" % (where, network),
                      "Use CIDR notation such as 203.0.113.0/24, a single address, or 0.0.0.0/0.") from None
    kept = {"protocol": protocol, "source_network": network, "description": rule["description"]}
    if ports is not None:
        kept["port_range"] = [int(ports[0]), int(ports[1])]
    return kept


def check_rules(where, rules):
    return [check_rule("%s[%d]" % (where, index), rule) for index, rule in enumerate(rules)]


class LambdaService(Service):
    prefix = "/api/v1"
    default_settings = {"rate_limits": True, "boot_seconds": 1.0, "launch_interval_seconds": 12.0,
                        "instance_quota": 20}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        # None: instances are records only (the default); docker_backend.DockerInstances: they boot as containers.
        self.machines = None
        self._routes()
        self.add_control_route("POST", r"/capacity", self.set_capacity)
        self.add_control_route("POST", r"/instances/(?P<instance_id>[^/]*)", self.set_instance_status)

    # --- the Docker backend (python -m emulators.lambda_cloud --backend docker --stack S) ----------------
    def use_docker(self, stack, data_dir):
        """Launch every instance as a GPU-node container of the stack ``stack`` (docker_backend.py)."""
        from emulators.lambda_cloud.docker_backend import DockerInstances  # the record backend needs no engine

        self.machines = DockerInstances(stack)

    def close(self):
        """Nothing to stop: the instances' containers outlive the emulator, as VMs outlive the API."""

    def restorable(self):
        return self.machines is None

    def reset_state(self):
        if self.machines is not None:
            self.machines.remove_all()
        super().reset_state()

    # --- shape of errors, auth and limits ------------------------------------
    def error_body(self, status, message):
        """Every error the common layer makes (malformed JSON, unknown path, 405, 401, faults)
        in the document's error object, with the code it gives for that status."""
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

    def rate_limited_answer(self, retry_after):
        return HTTPError(429, self.error_body(429, ""))

    def authorized(self, header):
        """Bearer <key>, or Basic with the key as user and an empty password (or the bare key)."""
        if header == "Bearer " + self.token:
            return True
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except ValueError:
                decoded = header[6:].strip()
            return decoded in (self.token + ":", self.token) or header[6:].strip() == self.token
        return False

    def rate_limit(self, route, request):
        # Docs: 1 request a second per key; launches 1 every 12 seconds.
        if route.action == "launch":
            return ("launch", 1.0 / float(self.settings["launch_interval_seconds"]), 1)
        return ("api", 1, 5)

    @staticmethod
    def body(request):
        """The body of an operation whose document requires one (even when every field is optional)."""
        if not request.body:
            raise invalid("a JSON request body is required")
        return request.json()

    # --- state ---------------------------------------------------------------------
    def capacity(self):
        """instance type -> regions with capacity now (changed through the control surface)."""
        default = dict((name, sorted(REGIONS)) for name in CATALOG)
        return dict(default, **self.store.get_meta("capacity", {}))

    def status_of(self, instance, at=None):
        at = time.time() if at is None else at
        status = instance["status"]
        if status == "booting" and instance.get("container"):
            # A container instance is active once its sshd answers; kept, so the probe runs once.
            if self.machines is None or not self.machines.booted(instance):
                return status
            instance["status"] = "active"
            self.store.put("instance", instance["id"], instance)
            return "active"
        if status == "booting" and at >= instance["ready_at"]:
            return "active"
        if status == "terminating" and at >= instance["ready_at"]:
            return "terminated"
        return status

    def live(self):
        return [i for i in self.store.list("instance") if self.status_of(i) != "terminated"]

    def instance(self, instance_id):
        found = self.store.get("instance", instance_id)
        if found is None or self.status_of(found) == "terminated":
            raise does_not_exist("Specified instance does not exist.", "List your instances with GET /instances.")
        return found

    @staticmethod
    def ruleset_ids(instance):
        """The ids of the rulesets an instance was launched with (state from before the launch
        stored them right reads the same)."""
        ids = []
        for entry in instance.get("firewall_rulesets") or []:
            while isinstance(entry, dict):
                entry = entry.get("id")
            if isinstance(entry, str):
                ids.append(entry)
        return ids

    def render(self, instance):
        status = self.status_of(instance)
        out = {key: instance[key] for key in ("id", "name", "private_ip", "ssh_key_names", "file_system_names",
                                              "hostname", "jupyter_token", "jupyter_url", "tags")}
        out["firewall_rulesets"] = [{"id": ruleset_id} for ruleset_id in self.ruleset_ids(instance)]
        out["status"] = status
        if status in ("active", "unhealthy"):
            out["ip"] = instance["ip"]  # no public address until the instance has booted
        if instance["file_system_mounts"]:
            out["file_system_mounts"] = instance["file_system_mounts"]
        out["region"] = region(instance["region"])
        out["instance_type"] = instance_type(instance["instance_type"])
        busy = status in ("booting", "terminating")
        blocked = {"available": False, "reason_code": "vm-action-in-progress",
                   "reason_description": "Another operation is in progress."}
        ready = {"available": True}
        out["actions"] = {"migrate": blocked if busy else ready, "rebuild": blocked if busy else ready,
                          "restart": blocked if busy or status != "active" else ready,
                          "cold_reboot": blocked if busy else ready,
                          "terminate": blocked if status == "terminating" else ready}
        return out

    # --- routes --------------------------------------------------------------------
    def _routes(self):
        add = self.add_route
        add("GET", r"/instance-types", self.list_instance_types, "instance_types")
        add("GET", r"/regions", self.list_regions, "regions")
        add("GET", r"/images", self.list_images, "images")
        add("GET", r"/instances", self.list_instances, "list_instances", query=schemas.LIST_INSTANCES_QUERY)
        add("GET", INSTANCE, self.get_instance, "get_instance")
        add("POST", INSTANCE, self.update_instance, "update_instance", body=schemas.UPDATE_INSTANCE)
        add("POST", r"/instance-operations/launch", self.launch, "launch", body=schemas.LAUNCH)
        add("POST", r"/instance-operations/restart", self.restart, "restart", body=schemas.INSTANCE_IDS)
        add("POST", r"/instance-operations/terminate", self.terminate, "terminate", body=schemas.INSTANCE_IDS)
        add("GET", r"/ssh-keys", self.list_ssh_keys, "list_ssh_keys")
        add("POST", r"/ssh-keys", self.add_ssh_key, "add_ssh_key", body=schemas.ADD_SSH_KEY)
        add("DELETE", r"/ssh-keys/" + ID.format("key_id"), self.delete_ssh_key, "delete_ssh_key")
        add("GET", r"/file-systems", self.list_filesystems, "list_filesystems")
        add("POST", r"/filesystems", self.create_filesystem, "create_filesystem", body=schemas.CREATE_FILESYSTEM)
        add("DELETE", r"/filesystems/" + ID.format("fs_id"), self.delete_filesystem, "delete_filesystem")
        add("GET", r"/firewall-rules", self.list_firewall_rules, "firewall_rules")
        add("PUT", r"/firewall-rules", self.set_firewall_rules, "set_firewall_rules", body=schemas.SET_FIREWALL_RULES)
        add("GET", r"/firewall-rulesets", self.list_rulesets, "list_rulesets")
        add("POST", r"/firewall-rulesets", self.create_ruleset, "create_ruleset", body=schemas.CREATE_RULESET)
        # Before the {id} routes, which would take "global" as an id.
        add("GET", r"/firewall-rulesets/global", self.get_global_ruleset, "get_global_ruleset")
        add("PATCH", r"/firewall-rulesets/global", self.update_global_ruleset, "update_global_ruleset",
            body=schemas.UPDATE_GLOBAL_RULESET)
        add("GET", RULESET, self.get_ruleset, "get_ruleset")
        add("PATCH", RULESET, self.update_ruleset, "update_ruleset", body=schemas.UPDATE_RULESET)
        add("DELETE", RULESET, self.delete_ruleset, "delete_ruleset")

    # --- catalog -------------------------------------------------------------------
    def list_instance_types(self, request):
        capacity = self.capacity()
        return 200, {"data": dict((name, {"instance_type": instance_type(name),
                                          "regions_with_capacity_available": [region(r) for r in capacity[name]]})
                                  for name in CATALOG)}

    def list_regions(self, request):
        return 200, {"data": [region(name) for name in sorted(REGIONS)]}

    @staticmethod
    def images():
        images = []
        for name in sorted(REGIONS):
            for family, version in IMAGE_FAMILIES:
                images.append({"id": image_id(name, family), "name": family,
                               "created_time": "2025-01-01T00:00:00+00:00", "updated_time": "2025-06-01T00:00:00+00:00",
                               "description": family.replace("-", " "), "family": family, "version": version,
                               "architecture": "x86_64", "region": region(name)})
        return images

    def list_images(self, request):
        return 200, {"data": self.images()}

    # --- instances -------------------------------------------------------------------
    def list_instances(self, request):
        live = self.live()
        if request.arg("cluster_id") is not None:
            live = []  # the emulator launches no 1-Click Clusters: no instance belongs to one
        return 200, {"data": [self.render(i) for i in live]}

    def get_instance(self, request, instance_id):
        return 200, {"data": self.render(self.instance(instance_id))}

    def update_instance(self, request, instance_id):
        body = self.body(request)
        instance = self.instance(instance_id)
        if "name" in body:
            instance["name"] = body["name"]
            self.store.put("instance", instance_id, instance)
        return 200, {"data": self.render(instance)}

    def launch(self, request):
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
        if not any(k["name"] == keys[0] for k in self.store.list("ssh_key")):
            raise does_not_exist("SSH key %s does not exist." % keys[0], "Add the key with POST /ssh-keys first.")
        self.launch_image(body.get("image"), region_name)
        user_data = body.get("user_data") or ""
        if len(user_data.encode("utf-8")) > USER_DATA_MAX_BYTES:
            raise invalid("user_data is %d bytes; at most 1 MB is accepted" % len(user_data.encode("utf-8")))
        mounts = self.launch_filesystems(body, region_name)
        rulesets = self.launch_rulesets(body.get("firewall_rulesets") or [], region_name)
        if region_name not in self.capacity()[type_name]:
            raise error(400, "instance-operations/launch/insufficient-capacity",
                        "Not enough capacity to fulfill launch request.",
                        "Try another region or instance type, or try again later.")
        if len(self.live()) >= int(self.settings["instance_quota"]):
            raise error(400, "global/quota-exceeded", "Quota exceeded.", "Contact Support to increase your quota.")
        now = time.time()
        octets = [random.randint(1, 254) for dummy in range(3)]
        instance = {
            "id": hex_id(), "name": body.get("name") or "", "status": "booting",
            "ready_at": now + float(self.settings["boot_seconds"]),
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
        if self.machines is not None:
            self.boot(instance, keys[0])
        self.store.put("instance", instance["id"], instance)
        return 200, {"data": {"instance_ids": [instance["id"]]}}

    def boot(self, instance, key_name):
        """The instance as a running container (Docker backend): its ip, private_ip and container set."""
        from emulators.common.docker_engine import DockerError
        from emulators.lambda_cloud.docker_backend import ImageMissing

        public_keys = [k["public_key"] for k in self.store.list("ssh_key") if k["name"] == key_name]
        taken = {i["ip"] for i in self.live() if i.get("container")}
        try:
            self.machines.launch(instance, public_keys, taken)
        except (ImageMissing, DockerError) as problem:
            raise error(500, "global/internal-error", "emulator: the instance could not start: %s" % problem,
                        "Build the image (scripts/images build gpu-node) and check the Docker engine.") from None

    def launch_image(self, image, region_name):
        if image is None:
            return
        if "id" in image:
            regions = [i["region"]["name"] for i in self.images() if i["id"] == image["id"]]
            if not regions:
                raise does_not_exist("Image %s does not exist." % image["id"], "List the images with GET /images.")
            if region_name not in regions:
                raise invalid("Image %s is not available in %s." % (image["id"], region_name),
                              "Choose an image of the region with GET /images.")
        elif image["family"] not in [family for family, dummy in IMAGE_FAMILIES]:
            raise does_not_exist("Image family %s does not exist." % image["family"],
                                 "List the images with GET /images.")

    def launch_filesystems(self, body, region_name):
        """[(filesystem, mount point)]: those named, and those given a mount point, which wins
        over the default for a filesystem in both lists."""
        by_name = dict((fs["name"], fs) for fs in self.store.list("filesystem"))
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

    def launch_rulesets(self, entries, region_name):
        """The ids of the rulesets asked for; docs: they "must exist in the same region as the instance"."""
        ids = []
        for entry in entries:
            ruleset = self.store.get("ruleset", entry["id"])
            if ruleset is None:
                raise does_not_exist("Firewall ruleset %s does not exist." % entry["id"],
                                     "List the firewall rulesets with GET /firewall-rulesets.")
            if ruleset["region"] != region_name:
                raise invalid("Firewall ruleset %s is in %s, not %s." % (ruleset["name"], ruleset["region"], region_name),
                              "Use a firewall ruleset of the instance's region.")
            if entry["id"] not in ids:
                ids.append(entry["id"])
        return ids

    def instances_named(self, body):
        ids = list(dict.fromkeys(body["instance_ids"]))  # once each, in the order given
        if not ids:
            raise invalid("instance_ids must name at least one instance")
        return [self.instance(i) for i in ids]

    def restart(self, request):
        instances = self.instances_named(request.json())
        for instance in instances:
            if self.status_of(instance) != "active":
                raise error(409, "global/conflict", "Instance %s cannot restart while it is %s."
                            % (instance["id"], self.status_of(instance)), "Wait until the instance is active.")
        for instance in instances:
            if instance.get("container") and self.machines is not None:
                self.machines.restart(instance)
            instance["status"] = "booting"
            instance["ready_at"] = time.time() + float(self.settings["boot_seconds"])
            self.store.put("instance", instance["id"], instance)
        return 200, {"data": {"restarted_instances": [self.render(i) for i in instances]}}

    def terminate(self, request):
        instances = self.instances_named(request.json())
        for instance in instances:
            if instance.get("container") and self.machines is not None:
                self.machines.terminate(instance)
            instance["status"] = "terminating"
            instance["ready_at"] = time.time() + float(self.settings["boot_seconds"]) / 2
            self.store.put("instance", instance["id"], instance)
        return 200, {"data": {"terminated_instances": [self.render(i) for i in instances]}}

    # --- ssh keys ------------------------------------------------------------------
    def list_ssh_keys(self, request):
        return 200, {"data": [dict((k, key[k]) for k in ("id", "name", "public_key"))
                              for key in self.store.list("ssh_key")]}

    def add_ssh_key(self, request):
        body = request.json()
        name = body["name"]
        if any(k["name"] == name for k in self.store.list("ssh_key")):
            raise invalid("An SSH key named %s already exists." % name, "Choose another name.")
        key = {"id": hex_id(), "name": name, "public_key": body.get("public_key")}
        answer = None
        if key["public_key"] is None:
            # Lambda makes a pair and hands the private half back once; it does not keep it.
            material = base64.b64encode(random.randbytes(48)).decode()
            key["public_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5%s %s" % (material[:43], name)
            answer = dict(key, private_key="-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE "
                                           "KEY-----\n" % base64.b64encode(random.randbytes(180)).decode())
        else:
            if not PUBLIC_KEY.match(key["public_key"].strip()):
                raise invalid("public_key is not an OpenSSH public key",
                              "Give the contents of a .pub file: type, base64 key, optional comment.")
        self.store.put("ssh_key", key["id"], key)
        return 200, {"data": answer or key}

    def delete_ssh_key(self, request, key_id):
        if self.store.get("ssh_key", key_id) is None:
            # The document gives this operation the generic not-found error.
            raise error(404, "global/not-found", "SSH key %s does not exist." % key_id,
                        "List the SSH keys with GET /ssh-keys.")
        self.store.delete("ssh_key", key_id)
        return 200, {"data": {}}

    # --- file systems --------------------------------------------------------------
    def render_filesystem(self, fs):
        in_use = any(fs["name"] in i["file_system_names"] for i in self.live())
        return {"id": fs["id"], "name": fs["name"], "mount_point": "/lambda/nfs/" + fs["name"],
                "created": fs["created"], "is_in_use": in_use, "region": region(fs["region"]), "bytes_used": 0,
                "created_by": {"id": "0" * 32, "email": "ops@sophia-intel.example", "status": "active"}}

    def list_filesystems(self, request):
        return 200, {"data": [self.render_filesystem(fs) for fs in self.store.list("filesystem")]}

    def create_filesystem(self, request):
        body = request.json()
        name, region_name = body["name"], body["region"]
        if region_name not in REGIONS:
            raise invalid("region %s does not exist" % region_name, "List the regions with GET /regions.")
        if any(fs["name"] == name for fs in self.store.list("filesystem")):
            raise error(400, "global/duplicate", "A filesystem named %s already exists." % name,
                        "Choose another name.")
        fs = {"id": hex_id(), "name": name, "region": region_name, "created": iso()}
        self.store.put("filesystem", fs["id"], fs)
        return 200, {"data": self.render_filesystem(fs)}

    def delete_filesystem(self, request, fs_id):
        fs = self.store.get("filesystem", fs_id)
        if fs is None:
            raise does_not_exist("Filesystem was not found.", "List the filesystems with GET /file-systems.")
        if self.render_filesystem(fs)["is_in_use"]:
            raise error(400, "filesystems/filesystem-in-use", "Filesystem %s is mounted by an instance." % fs["name"],
                        "Terminate the instances that use it first.")
        self.store.delete("filesystem", fs_id)
        return 200, {"data": {"deleted_ids": [fs_id]}}

    # --- firewall ------------------------------------------------------------------
    # The account's inbound rules (/firewall-rules) are the global ruleset's rules: both
    # operations read and write the same list.
    def global_rules(self):
        return self.store.get_meta("firewall_rules", [])

    def render_global(self):
        return {"id": "global", "name": GLOBAL_RULESET_NAME, "rules": self.global_rules()}

    def list_firewall_rules(self, request):
        return 200, {"data": self.global_rules()}

    def set_firewall_rules(self, request):
        rules = check_rules("data", request.json()["data"])
        self.store.put_meta("firewall_rules", rules)
        return 200, {"data": rules}

    def get_global_ruleset(self, request):
        return 200, {"data": self.render_global()}

    def update_global_ruleset(self, request):
        body = self.body(request)
        if "rules" in body:
            self.store.put_meta("firewall_rules", check_rules("rules", body["rules"]))
        return 200, {"data": self.render_global()}

    def render_ruleset(self, ruleset):
        users = [i["id"] for i in self.live() if ruleset["id"] in self.ruleset_ids(i)]
        return dict(ruleset, region=region(ruleset["region"]), instance_ids=users)

    def ruleset(self, ruleset_id):
        found = self.store.get("ruleset", ruleset_id)
        if found is None:
            raise ruleset_not_found()
        return found

    @staticmethod
    def check_ruleset_name(name):
        if not name.strip():
            raise invalid("name: a firewall ruleset needs a name", "Give a name of 1 to 64 characters.")
        return name

    def name_taken(self, name, other_than=None):
        if any(r["name"] == name and r["id"] != other_than for r in self.store.list("ruleset")):
            # The document types this conflict as the internal-error object.
            raise error(409, "global/internal-error", "A firewall ruleset named %s already exists." % name,
                        "Choose another name or update the existing ruleset.")

    def list_rulesets(self, request):
        return 200, {"data": [self.render_ruleset(r) for r in self.store.list("ruleset")]}

    def create_ruleset(self, request):
        body = request.json()
        name = self.check_ruleset_name(body["name"])
        if body["region"] not in REGIONS:
            raise invalid("region %s does not exist" % body["region"], "List the regions with GET /regions.")
        rules = check_rules("rules", body["rules"])
        self.name_taken(name)
        ruleset = {"id": hex_id(), "name": name, "region": body["region"], "rules": rules, "created": iso()}
        self.store.put("ruleset", ruleset["id"], ruleset)
        return 200, {"data": self.render_ruleset(ruleset)}

    def get_ruleset(self, request, ruleset_id):
        return 200, {"data": self.render_ruleset(self.ruleset(ruleset_id))}

    def update_ruleset(self, request, ruleset_id):
        body = self.body(request)
        ruleset = self.ruleset(ruleset_id)
        if "name" in body:
            ruleset["name"] = self.check_ruleset_name(body["name"])
            self.name_taken(ruleset["name"], other_than=ruleset_id)
        if "rules" in body:
            ruleset["rules"] = check_rules("rules", body["rules"])
        self.store.put("ruleset", ruleset_id, ruleset)
        return 200, {"data": self.render_ruleset(ruleset)}

    def delete_ruleset(self, request, ruleset_id):
        ruleset = self.ruleset(ruleset_id)
        if self.render_ruleset(ruleset)["instance_ids"]:
            raise error(400, "firewall-rulesets/firewall-ruleset-in-use",
                        "Firewall ruleset is in use by one or more instances.",
                        "Terminate all instances that are using the ruleset before deleting it.")
        self.store.delete("ruleset", ruleset_id)
        return 200, {"data": {}}

    # --- Lambda-specific control endpoints -------------------------------------------
    def set_capacity(self, request):
        body = request.json()
        capacity = self.capacity()
        if body.get("instance_type") not in capacity or body.get("region") not in REGIONS:
            raise HTTPError(400, {"error": "capacity takes a known instance_type and region"})
        regions = set(capacity[body["instance_type"]])
        if body.get("available", True):
            regions.add(body["region"])
        else:
            regions.discard(body["region"])
        overrides = self.store.get_meta("capacity", {})
        overrides[body["instance_type"]] = sorted(regions)
        self.store.put_meta("capacity", overrides)
        return 200, self.capacity()

    def set_instance_status(self, request, instance_id):
        instance = self.instance(instance_id)
        status = request.json().get("status")
        if status not in ("booting", "active", "unhealthy", "terminating", "terminated", "preempted"):
            raise HTTPError(400, {"error": "status must be one of the document's instance statuses"})
        instance["status"] = status
        self.store.put("instance", instance["id"], instance)
        return 200, self.render(instance)
