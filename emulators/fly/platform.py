"""The platform's rules and the ``/platform`` operations: regions, machine sizes (guests),
volume sizes, resource names, and placements.

The same rules as ``plugins/module_utils/fly_platform.py`` (the modules check them
before their first request), from Fly's documentation: the public region list; a
guest's CPU count offered per CPU kind and its memory in 256 MB steps within per-CPU
bounds ("Valid values are 1, 2, 4, 8, or 16, but depends on cpu_kind"; "Memory in
megabytes as multiples of 256"); volumes of 1 to 500 GB.
"""

from __future__ import annotations

import re

from emulators.common.server import HTTPError
from emulators.fly.shared import DEFAULT_REGION, INTEGER, STRING, array_of, obj, one_of_words, route

# code: (name, geographic region, latitude, longitude)
REGIONS = {
    "ams": ("Amsterdam, Netherlands", "eu", 52.37, 4.90),
    "arn": ("Stockholm, Sweden", "eu", 59.65, 17.93),
    "atl": ("Atlanta, Georgia (US)", "na", 33.75, -84.39),
    "bog": ("Bogotá, Colombia", "sa", 4.71, -74.07),
    "bom": ("Mumbai, India", "as", 19.08, 72.88),
    "bos": ("Boston, Massachusetts (US)", "na", 42.36, -71.06),
    "cdg": ("Paris, France", "eu", 48.86, 2.35),
    "den": ("Denver, Colorado (US)", "na", 39.74, -104.99),
    "dfw": ("Dallas, Texas (US)", "na", 32.78, -96.80),
    "ewr": ("Secaucus, NJ (US)", "na", 40.79, -74.06),
    "eze": ("Ezeiza, Argentina", "sa", -34.82, -58.53),
    "fra": ("Frankfurt, Germany", "eu", 50.11, 8.68),
    "gdl": ("Guadalajara, Mexico", "na", 20.67, -103.35),
    "gig": ("Rio de Janeiro, Brazil", "sa", -22.91, -43.17),
    "gru": ("Sao Paulo, Brazil", "sa", -23.55, -46.63),
    "hkg": ("Hong Kong, Hong Kong", "as", 22.32, 114.17),
    "iad": ("Ashburn, Virginia (US)", "na", 39.04, -77.49),
    "jnb": ("Johannesburg, South Africa", "af", -26.20, 28.05),
    "lax": ("Los Angeles, California (US)", "na", 34.05, -118.24),
    "lhr": ("London, United Kingdom", "eu", 51.51, -0.13),
    "mad": ("Madrid, Spain", "eu", 40.42, -3.70),
    "mia": ("Miami, Florida (US)", "na", 25.76, -80.19),
    "nrt": ("Tokyo, Japan", "as", 35.68, 139.69),
    "ord": ("Chicago, Illinois (US)", "na", 41.88, -87.63),
    "otp": ("Bucharest, Romania", "eu", 44.43, 26.10),
    "phx": ("Phoenix, Arizona (US)", "na", 33.45, -112.07),
    "qro": ("Querétaro, Mexico", "na", 20.59, -100.39),
    "scl": ("Santiago, Chile", "sa", -33.45, -70.67),
    "sea": ("Seattle, Washington (US)", "na", 47.61, -122.33),
    "sin": ("Singapore, Singapore", "as", 1.35, 103.82),
    "sjc": ("San Jose, California (US)", "na", 37.34, -121.89),
    "syd": ("Sydney, Australia", "oc", -33.87, 151.21),
    "waw": ("Warsaw, Poland", "eu", 52.23, 21.01),
    "yul": ("Montreal, Canada", "na", 45.50, -73.57),
    "yyz": ("Toronto, Canada", "na", 43.65, -79.38),
}
REGION_LIST = ", ".join(sorted(REGIONS))

# cpu_kind -> (CPU counts offered, least and most memory per CPU in MB)
CPU_KINDS = {"shared": ((1, 2, 4, 6, 8), 256, 2048), "performance": ((1, 2, 4, 8, 16), 2048, 8192)}
MEMORY_STEP_MB = 256
# What the platform gives a machine for each guest field left out.
GUEST_DEFAULTS = {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}

VOLUME_SIZE_GB = (1, 500)
SNAPSHOT_RETENTION_DAYS = (1, 60)

APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
VOLUME_NAME = re.compile(r"^[a-z0-9_]{1,30}$")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")

# Placements: what one organisation may run in one region (the emulator has no capacity limits).
ORG_LIMIT_PER_REGION = 100


# --- rules ------------------------------------------------------------------------------------------
def check_region(region, what="region", also=()):
    """A region code from the list (or one of ``also``); 400 otherwise."""
    if region in REGIONS or region in also:
        return region
    accepted = ", ".join(tuple(also) + tuple(sorted(REGIONS)))
    raise HTTPError(400, "invalid %s: %r is not a Fly.io region; one of %s" % (what, region, accepted))


def guest_problem(guest):
    """Why ``guest`` (fields left out take the platform's defaults) is not a size the platform
    offers, with the accepted values, or None."""
    size = dict(GUEST_DEFAULTS, **{key: value for key, value in guest.items() if value is not None})
    kind, cpus, memory = size["cpu_kind"], size["cpus"], size["memory_mb"]
    if kind not in CPU_KINDS:
        return "cpu_kind %r is not offered; cpu_kind is one of %s" % (kind, ", ".join(CPU_KINDS))
    offered, least, most = CPU_KINDS[kind]
    if cpus not in offered:
        return "%d CPUs are not offered with cpu_kind %s; cpus is one of %s" % (
            cpus, kind, ", ".join(str(n) for n in offered))
    accepted = "memory_mb from %d to %d in steps of %d for %d %s CPU%s" % (
        least * cpus, most * cpus, MEMORY_STEP_MB, cpus, kind, "" if cpus == 1 else "s")
    if memory % MEMORY_STEP_MB:
        return "memory_mb %d is not a multiple of %d; %s" % (memory, MEMORY_STEP_MB, accepted)
    if not least * cpus <= memory <= most * cpus:
        return "memory_mb %d is out of range; %s" % (memory, accepted)
    return None


def check_guest(guest):
    problem = guest_problem(guest or {})
    if problem:
        raise HTTPError(400, "invalid guest: " + problem)
    return guest


def check_volume_size(size_gb, least=VOLUME_SIZE_GB[0]):
    low, high = least, VOLUME_SIZE_GB[1]
    if not low <= size_gb <= high:
        raise HTTPError(400, "invalid size_gb: %d is out of range; size_gb from %d to %d GB" % (size_gb, low, high))
    return size_gb


def check_snapshot_retention(days):
    low, high = SNAPSHOT_RETENTION_DAYS
    if not low <= days <= high:
        raise HTTPError(400, "snapshot_retention must be between %d and %d" % (low, high))
    return days


# --- request schemas --------------------------------------------------------------------------------
# fly.MachineGuest (also a volume's and a placement's ``compute``).
GUEST = obj(cpu_kind=STRING, cpus=INTEGER, gpu_kind=STRING, gpus=INTEGER, host_dedication_id=STRING,
            kernel_args=array_of(STRING), max_memory_mb=INTEGER, memory_mb=INTEGER,
            persist_rootfs=one_of_words("never", "always", "restart"))

# main.getPlacementsRequest
PLACEMENTS_REQUEST = obj(required=["org_slug"], compute=GUEST, count=INTEGER, org_slug=STRING, region=STRING,
                         volume_name=STRING, volume_size_bytes=INTEGER,
                         weights={"type": "object", "additionalProperties": INTEGER})


# --- ``GET /platform/regions`` and ``POST /platform/placements`` -------------------------------------
def list_regions(state, request):
    regions = [{"code": code, "name": name, "geo_region": geo, "latitude": latitude, "longitude": longitude,
                "gateway_available": True, "requires_paid_plan": False, "deprecated": False}
               for code, (name, geo, latitude, longitude) in sorted(REGIONS.items())]
    return 200, {"nearest": DEFAULT_REGION, "regions": regions}


def region_expression(expression):
    """The regions a placement expression names, in order: codes, ``any``, and geographic
    aliases (``eu``, ``na``, ...)."""
    chosen = []
    for word in (part.strip() for part in expression.split(",")):
        if word in REGIONS:
            matched = [word]
        elif word == "any":
            matched = sorted(REGIONS)
        else:
            matched = sorted(code for code, row in REGIONS.items() if row[1] == word)
        if not matched:
            geos = sorted({row[1] for row in REGIONS.values()})
            raise HTTPError(400, "invalid region: %r is neither a Fly.io region nor an alias; regions: %s; "
                                 "aliases: any, %s" % (word, REGION_LIST, ", ".join(geos)))
        chosen.extend(code for code in matched if code not in chosen)
    return chosen


def get_placements(state, request):
    body = request.json()
    if body.get("compute") is not None:
        check_guest(body["compute"])
    count = body.get("count", 0)
    if count < 0:
        raise HTTPError(400, "count must be 0 (the limit in each region) or a number of machines")
    regions = region_expression(body.get("region") or "%s,any" % DEFAULT_REGION)
    if count == 0:
        return 200, {"regions": [{"region": code, "count": ORG_LIMIT_PER_REGION,
                                  "concurrency": ORG_LIMIT_PER_REGION} for code in regions]}
    placed = []
    for code in regions:  # the preferred region first, the next one once it is full
        if count <= 0:
            break
        here = min(count, ORG_LIMIT_PER_REGION)
        placed.append({"region": code, "count": here, "concurrency": here})
        count -= here
    if count > 0:
        raise HTTPError(422, "not enough capacity: %d machines could not be placed in %s"
                             % (count, ", ".join(regions)))
    return 200, {"regions": placed}


ROUTES = [
    route("GET", r"/platform/regions", list_regions),
    route("POST", r"/platform/placements", get_placements, body=PLACEMENTS_REQUEST),
]
