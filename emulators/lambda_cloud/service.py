"""The Lambda Cloud API (``/api/v1``) as the emulator serves it.

Contract: the official OpenAPI document (1.10.0). Answers are ``{"data": ...}``,
errors ``{"error": {"code", "message", "suggestion"}}``; a throttled request
gets a 429 with a plain-text body, as Lambda's edge answers it.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import time

from emulators.common.server import HTTPError, Service

INSTANCE = r"/instances/(?P<instance_id>[0-9a-f]+)"
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
TAG_KEY = re.compile(r"^[a-z][a-z0-9-:]+$")
MOUNT_POINT = re.compile(r"^(/home|/lambda/nfs|/data)[//a-zA-Z0-9-]*$")
ERROR_CODES = {
    400: ("global/invalid-parameters", "Invalid request data."),
    401: ("global/invalid-api-key", "API key was invalid, expired, or deleted."),
    403: ("global/account-inactive", "Your account is inactive."),
    404: ("global/not-found", "The requested resource was not found."),
    409: ("global/conflict", "The request conflicts with the current state of the resource."),
    500: ("global/internal-error", "Something went wrong on our end."),
    502: ("global/internal-error", "Bad gateway."),
    503: ("global/internal-error", "Service unavailable."),
}


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


def error(status, code, message, suggestion=None):
    body = {"code": code, "message": message}
    if suggestion:
        body["suggestion"] = suggestion
    return HTTPError(status, {"error": body})


def invalid(message):
    return error(400, "global/invalid-parameters", message)


class LambdaService(Service):
    prefix = "/api/v1"
    default_settings = {"rate_limits": True, "boot_seconds": 1.0, "launch_interval_seconds": 12.0,
                        "instance_quota": 20}

    def __init__(self, store, token, capture_path=None):
        super().__init__(store, token, capture_path)
        self._routes()

    # --- shape of errors, auth and limits ------------------------------------
    def error_body(self, status, message):
        if status == 429:
            return "429 Too Many Requests\n"  # the edge answers throttling in plain text
        code, default = ERROR_CODES.get(status, ("global/internal-error", "Error."))
        body = {"code": code, "message": message if message not in ("not found", "unauthorized") else default}
        if status == 401:
            body["suggestion"] = "Check your API key or create a new one, then try again."
        return {"error": body}

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

    # --- state ---------------------------------------------------------------------
    def capacity(self):
        """instance type -> regions with capacity now (changed through the control surface)."""
        default = dict((name, sorted(REGIONS)) for name in CATALOG)
        return dict(default, **self.store.get_meta("capacity", {}))

    def status_of(self, instance, at=None):
        at = time.time() if at is None else at
        status = instance["status"]
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
            raise error(404, "global/object-does-not-exist", "Specified instance does not exist.")
        return found

    def render(self, instance):
        status = self.status_of(instance)
        out = {key: instance[key] for key in ("id", "name", "private_ip", "ssh_key_names", "file_system_names",
                                              "hostname", "jupyter_token", "jupyter_url", "tags",
                                              "firewall_rulesets")}
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
        add("GET", r"/instances", self.list_instances, "list_instances")
        add("GET", INSTANCE, self.get_instance, "get_instance")
        add("POST", INSTANCE, self.rename_instance, "rename_instance")
        add("POST", r"/instance-operations/launch", self.launch, "launch")
        add("POST", r"/instance-operations/restart", self.restart, "restart")
        add("POST", r"/instance-operations/terminate", self.terminate, "terminate")
        add("GET", r"/ssh-keys", self.list_ssh_keys, "list_ssh_keys")
        add("POST", r"/ssh-keys", self.add_ssh_key, "add_ssh_key")
        add("DELETE", r"/ssh-keys/(?P<key_id>[0-9a-f]+)", self.delete_ssh_key, "delete_ssh_key")
        add("GET", r"/file-systems", self.list_filesystems, "list_filesystems")
        add("POST", r"/filesystems", self.create_filesystem, "create_filesystem")
        add("DELETE", r"/filesystems/(?P<fs_id>[0-9a-f]+)", self.delete_filesystem, "delete_filesystem")
        add("GET", r"/firewall-rules", self.list_firewall_rules, "firewall_rules")
        add("PUT", r"/firewall-rules", self.set_firewall_rules, "set_firewall_rules")
        add("GET", r"/firewall-rulesets", self.list_rulesets, "list_rulesets")
        add("POST", r"/firewall-rulesets", self.create_ruleset, "create_ruleset")
        add("GET", r"/firewall-rulesets/(?P<ruleset_id>[0-9a-f]+)", self.get_ruleset, "get_ruleset")
        add("DELETE", r"/firewall-rulesets/(?P<ruleset_id>[0-9a-f]+)", self.delete_ruleset, "delete_ruleset")

    # --- catalog -------------------------------------------------------------------
    def list_instance_types(self, request):
        capacity = self.capacity()
        return 200, {"data": dict((name, {"instance_type": instance_type(name),
                                          "regions_with_capacity_available": [region(r) for r in capacity[name]]})
                                  for name in CATALOG)}

    def list_regions(self, request):
        return 200, {"data": [region(name) for name in sorted(REGIONS)]}

    def list_images(self, request):
        images = []
        for name in sorted(REGIONS):
            for family, version in (("lambda-stack-24-04", "24.04.1"), ("ubuntu-24-04", "24.04.1")):
                images.append({"id": hashlib.md5((name + family).encode()).hexdigest(), "name": family,
                               "created_time": "2025-01-01T00:00:00+00:00", "updated_time": "2025-06-01T00:00:00+00:00",
                               "description": family.replace("-", " "), "family": family, "version": version,
                               "architecture": "x86_64", "region": region(name)})
        return 200, {"data": images}

    # --- instances -------------------------------------------------------------------
    def list_instances(self, request):
        return 200, {"data": [self.render(i) for i in self.live()]}

    def get_instance(self, request, instance_id):
        return 200, {"data": self.render(self.instance(instance_id))}

    def rename_instance(self, request, instance_id):
        instance = self.instance(instance_id)
        name = request.json().get("name")
        if not isinstance(name, str) or len(name) > 64:
            raise invalid("name must be a string of at most 64 characters")
        instance["name"] = name
        self.store.put("instance", instance_id, instance)
        return 200, {"data": self.render(instance)}

    def launch(self, request):
        body = request.json()
        type_name, region_name = body.get("instance_type_name"), body.get("region_name")
        keys = body.get("ssh_key_names")
        if not isinstance(keys, list) or len(keys) != 1:
            raise invalid("ssh_key_names must name exactly one SSH key")
        if type_name not in CATALOG:
            raise error(404, "global/object-does-not-exist", "Instance type %s does not exist." % type_name,
                        "List the instance types with GET /instance-types.")
        if region_name not in REGIONS:
            raise error(404, "global/object-does-not-exist", "Region %s does not exist." % region_name,
                        "List the regions with GET /regions.")
        if not any(k["name"] == keys[0] for k in self.store.list("ssh_key")):
            raise error(404, "global/object-does-not-exist", "SSH key %s does not exist." % keys[0],
                        "Add the key with POST /ssh-keys first.")
        name = body.get("name") or ""
        if len(name) > 64:
            raise invalid("name must be at most 64 characters")
        tags = body.get("tags") or []
        for tag in tags:
            if not TAG_KEY.match(str(tag.get("key", ""))) or len(str(tag.get("value", ""))) > 128:
                raise invalid("tag keys are lowercase letters, digits, '-' and ':'; values at most 128 characters")
        filesystems = self.launch_filesystems(body, region_name)
        if region_name not in self.capacity()[type_name]:
            raise error(400, "instance-operations/launch/insufficient-capacity",
                        "Not enough capacity to fulfill launch request.",
                        "Try another region or instance type, or try again later.")
        if len(self.live()) >= int(self.settings["instance_quota"]):
            raise error(400, "global/quota-exceeded", "Quota exceeded.", "Contact Support to increase your quota.")
        now = time.time()
        octets = [random.randint(1, 254) for dummy in range(3)]
        instance = {
            "id": hex_id(), "name": name, "status": "booting", "ready_at": now + float(self.settings["boot_seconds"]),
            "ip": "192.222.%d.%d" % tuple(octets[:2]), "private_ip": "10.19.%d.%d" % tuple(octets[1:]),
            "hostname": body.get("hostname") or "192-222-%d-%d" % tuple(octets[:2]),
            "ssh_key_names": keys, "file_system_names": [fs["name"] for fs in filesystems],
            "file_system_mounts": [{"file_system_id": fs["id"], "mount_point": point} for fs, point in
                                   zip(filesystems, self.mount_points(body, filesystems))],
            "region": region_name, "instance_type": type_name, "tags": tags,
            "firewall_rulesets": [{"id": r} for r in (body.get("firewall_rulesets") or [])],
            "jupyter_token": hex_id(), "created": iso(now),
        }
        instance["jupyter_url"] = "https://jupyter-%s.lambdaspaces.com/?token=%s" % (
            instance["id"], instance["jupyter_token"])
        # Cloud-init runs the user data; the emulator only remembers that there was some.
        instance["user_data_digest"] = hashlib.sha256((body.get("user_data") or "").encode()).hexdigest()
        self.store.put("instance", instance["id"], instance)
        return 200, {"data": {"instance_ids": [instance["id"]]}}

    def launch_filesystems(self, body, region_name):
        names = body.get("file_system_names") or []
        by_name = dict((fs["name"], fs) for fs in self.store.list("filesystem"))
        chosen = []
        for name in names:
            if name not in by_name:
                raise error(404, "global/object-does-not-exist", "Filesystem %s does not exist." % name,
                            "Create it with POST /filesystems first.")
            if by_name[name]["region"] != region_name:
                raise error(400, "instance-operations/launch/file-system-in-wrong-region",
                            "Filesystem %s is in %s, not %s." % (name, by_name[name]["region"], region_name))
            chosen.append(by_name[name])
        return chosen

    @staticmethod
    def mount_points(body, filesystems):
        asked = dict((m.get("file_system_id"), m.get("mount_point")) for m in body.get("file_system_mounts") or [])
        points = []
        for fs in filesystems:
            point = asked.get(fs["id"]) or "/lambda/nfs/" + fs["name"]
            if not MOUNT_POINT.match(point):
                raise invalid("mount points must be under /home, /lambda/nfs or /data")
            points.append(point)
        return points

    def restart(self, request):
        ids = request.json().get("instance_ids") or []
        instances = [self.instance(i) for i in ids]
        for instance in instances:
            if self.status_of(instance) != "active":
                raise error(409, "global/conflict", "Instance %s cannot restart while it is %s."
                            % (instance["id"], self.status_of(instance)), "Wait until the instance is active.")
        for instance in instances:
            instance["status"] = "booting"
            instance["ready_at"] = time.time() + float(self.settings["boot_seconds"])
            self.store.put("instance", instance["id"], instance)
        return 200, {"data": {"restarted_instances": [self.render(i) for i in instances]}}

    def terminate(self, request):
        ids = request.json().get("instance_ids") or []
        if not ids:
            raise invalid("instance_ids must name at least one instance")
        instances = [self.instance(i) for i in ids]
        for instance in instances:
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
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise invalid("name must be 1 to 64 characters")
        if any(k["name"] == name for k in self.store.list("ssh_key")):
            raise invalid("An SSH key named %s already exists." % name)
        key = {"id": hex_id(), "name": name, "public_key": body.get("public_key")}
        answer = None
        if not key["public_key"]:
            # Lambda makes a pair and hands the private half back once; it does not keep it.
            material = base64.b64encode(random.randbytes(48)).decode()
            key["public_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5%s %s" % (material[:43], name)
            answer = dict(key, private_key="-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE "
                                           "KEY-----\n" % base64.b64encode(random.randbytes(180)).decode())
        elif not re.match(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", key["public_key"]):
            raise invalid("public_key is not an OpenSSH public key")
        self.store.put("ssh_key", key["id"], key)
        return 200, {"data": answer or key}

    def delete_ssh_key(self, request, key_id):
        if self.store.get("ssh_key", key_id) is None:
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
        name, region_name = body.get("name"), body.get("region")
        if not name or not re.match(r"^[a-zA-Z0-9-]{1,60}$", name):
            raise invalid("name must be 1 to 60 letters, digits and dashes")
        if region_name not in REGIONS:
            raise invalid("region %s does not exist" % region_name)
        if any(fs["name"] == name for fs in self.store.list("filesystem")):
            raise invalid("A filesystem named %s already exists." % name)
        fs = {"id": hex_id(), "name": name, "region": region_name, "created": iso()}
        self.store.put("filesystem", fs["id"], fs)
        return 200, {"data": self.render_filesystem(fs)}

    def delete_filesystem(self, request, fs_id):
        fs = self.store.get("filesystem", fs_id)
        if fs is None:
            raise error(404, "global/object-does-not-exist", "Filesystem was not found.")
        if self.render_filesystem(fs)["is_in_use"]:
            raise error(400, "filesystems/filesystem-in-use", "Filesystem %s is mounted by an instance." % fs["name"],
                        "Terminate the instances that use it first.")
        self.store.delete("filesystem", fs_id)
        return 200, {"data": {"deleted_ids": [fs_id]}}

    # --- firewall ------------------------------------------------------------------
    @staticmethod
    def check_rules(rules):
        if not isinstance(rules, list):
            raise invalid("data must be a list of rules")
        for rule in rules:
            if rule.get("protocol") not in ("tcp", "udp", "icmp", "all"):
                raise invalid("protocol must be tcp, udp, icmp or all")
            ports = rule.get("port_range")
            if rule["protocol"] == "icmp" and ports:
                raise invalid("icmp rules take no port_range")
            if rule["protocol"] in ("tcp", "udp") and not (
                    isinstance(ports, list) and len(ports) == 2 and 1 <= ports[0] <= ports[1] <= 65535):
                raise invalid("port_range must be [min, max] within 1-65535")
            if not re.match(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$", str(rule.get("source_network", ""))):
                raise invalid("source_network must be an IPv4 CIDR block")
            if not isinstance(rule.get("description"), str) or len(rule["description"]) > 128:
                raise invalid("description is required, at most 128 characters")
        return rules

    def list_firewall_rules(self, request):
        return 200, {"data": self.store.get_meta("firewall_rules", [])}

    def set_firewall_rules(self, request):
        rules = self.check_rules(request.json().get("data"))
        self.store.put_meta("firewall_rules", rules)
        return 200, {"data": rules}

    def render_ruleset(self, ruleset):
        users = [i["id"] for i in self.live() if {"id": ruleset["id"]} in i["firewall_rulesets"]]
        return dict(ruleset, region=region(ruleset["region"]), instance_ids=users)

    def list_rulesets(self, request):
        return 200, {"data": [self.render_ruleset(r) for r in self.store.list("ruleset")]}

    def create_ruleset(self, request):
        body = request.json()
        if body.get("region") not in REGIONS or not body.get("name"):
            raise invalid("name and an existing region are required")
        if any(r["name"] == body["name"] for r in self.store.list("ruleset")):
            # The document types this conflict as the internal-error object.
            raise error(409, "global/internal-error", "A firewall ruleset named %s already exists." % body["name"],
                        "Choose another name or update the existing ruleset.")
        ruleset = {"id": hex_id(), "name": body["name"], "region": body["region"],
                   "rules": self.check_rules(body.get("rules")), "created": iso()}
        self.store.put("ruleset", ruleset["id"], ruleset)
        return 200, {"data": self.render_ruleset(ruleset)}

    def get_ruleset(self, request, ruleset_id):
        ruleset = self.store.get("ruleset", ruleset_id)
        if ruleset is None:
            raise error(404, "global/object-does-not-exist", "Firewall ruleset was not found.")
        return 200, {"data": self.render_ruleset(ruleset)}

    def delete_ruleset(self, request, ruleset_id):
        ruleset = self.store.get("ruleset", ruleset_id)
        if ruleset is None:
            raise error(404, "global/object-does-not-exist", "Firewall ruleset was not found.")
        if self.render_ruleset(ruleset)["instance_ids"]:
            raise error(400, "firewall-rulesets/firewall-ruleset-in-use",
                        "Firewall ruleset is in use by one or more instances.", "Terminate those instances first.")
        self.store.delete("ruleset", ruleset_id)
        return 200, {"data": {}}

    # --- Lambda-specific control endpoints -------------------------------------------
    def control(self, method, parts, request):
        if parts == ["capacity"] and method == "POST":
            body = request.json()
            capacity = self.capacity()
            regions = set(capacity[body["instance_type"]])
            if body.get("available", True):
                regions.add(body["region"])
            else:
                regions.discard(body["region"])
            overrides = self.store.get_meta("capacity", {})
            overrides[body["instance_type"]] = sorted(regions)
            self.store.put_meta("capacity", overrides)
            return 200, self.capacity()
        if len(parts) == 2 and parts[0] == "instances" and method == "POST":
            instance = self.instance(parts[1])
            instance["status"] = request.json()["status"]
            self.store.put("instance", instance["id"], instance)
            return 200, self.render(instance)
        raise HTTPError(404, {"error": "unknown control endpoint"})
