"""What Lambda sells, which never changes: instance types, regions, images (``/instance-types``, ``/regions``,
``/images``); and which types have capacity where, which the control surface changes (``capacity``)."""

from __future__ import annotations

import hashlib

from emulators.common.server import HTTPError

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


def region(name):
    return {"name": name, "description": REGIONS[name]}


def instance_type(name):
    description, gpu, price, (vcpus, memory, storage, gpus) = CATALOG[name]
    return {"name": name, "description": description, "gpu_description": gpu, "price_cents_per_hour": price,
            "specs": {"vcpus": vcpus, "memory_gib": memory, "storage_gib": storage, "gpus": gpus}}


def image_id(region_name, family):
    return hashlib.md5((region_name + family).encode()).hexdigest()


def images():
    found = []
    for name in sorted(REGIONS):
        for family, version in IMAGE_FAMILIES:
            found.append({"id": image_id(name, family), "name": family,
                          "created_time": "2025-01-01T00:00:00+00:00", "updated_time": "2025-06-01T00:00:00+00:00",
                          "description": family.replace("-", " "), "family": family, "version": version,
                          "architecture": "x86_64", "region": region(name)})
    return found


def capacity(state):
    """instance type -> regions with capacity now (changed through the control surface)."""
    default = dict((name, sorted(REGIONS)) for name in CATALOG)
    return dict(default, **state.store.get_meta("capacity", {}))


def list_instance_types(state, request):
    now = capacity(state)
    return 200, {"data": dict((name, {"instance_type": instance_type(name),
                                      "regions_with_capacity_available": [region(r) for r in now[name]]})
                              for name in CATALOG)}


def list_regions(state, request):
    return 200, {"data": [region(name) for name in sorted(REGIONS)]}


def list_images(state, request):
    return 200, {"data": images()}


def set_capacity(state, request):
    """Control: ``{"instance_type", "region", "available"}`` puts a type in or out of stock in a region."""
    body = request.json()
    now = capacity(state)
    if body.get("instance_type") not in now or body.get("region") not in REGIONS:
        raise HTTPError(400, {"error": "capacity takes a known instance_type and region"})
    regions = set(now[body["instance_type"]])
    if body.get("available", True):
        regions.add(body["region"])
    else:
        regions.discard(body["region"])
    overrides = state.store.get_meta("capacity", {})
    overrides[body["instance_type"]] = sorted(regions)
    state.store.put_meta("capacity", overrides)
    return 200, capacity(state)


ROUTES = [
    ("GET", r"/instance-types", list_instance_types, "instance_types", {}),
    ("GET", r"/regions", list_regions, "regions", {}),
    ("GET", r"/images", list_images, "images", {}),
]
CONTROL_ROUTES = [("POST", r"/capacity", set_capacity)]
