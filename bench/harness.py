"""The sophia.ops benchmark: bench/run [--only NAME[,NAME...]] [--quick] [--keep].

Starts its own Fly.io and Lambda Cloud emulators on free ports in a temp dir,
with the issue's conditions (80 ms per API call, machines healthy ~3 s after
create, the documented rate limits on), then runs every scenario twice: the
sophia.ops way, and right after, on an emulator of its own, the same job
written naively with ansible.builtin.uri. It prints one Markdown table; a full
run (no --only, no --quick) also writes it to docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

import floors
from measure import LATENCY_MS, METHODS, REPO, Emulator, Run, measure, tail

BENCH = REPO / "bench"
BIN = REPO / ".venv" / "bin"
DOC = REPO / "docs" / "performance.md"
DOC_BEGIN, DOC_END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
HOSTS = yaml.safe_load((BENCH / "inventory" / "hosts.yml").read_text(encoding="utf-8"))
SERVICES = HOSTS["all"]["children"]["fly_services"]["hosts"]
VARS = HOSTS["all"]["vars"]
VERSION, NEW_VERSION = VARS["service_version"], "1.1.0"
BIG_APP = max(SERVICES, key=lambda app: SERVICES[app]["machine_count"])
MAX_UNAVAILABLE = 0.33
INVENTORY_MACHINES, INVENTORY_INSTANCES = 1000, 100
TIMEOUT = 900  # seconds any one measured command may take
CONVERGE = {False: "converge.yml", True: "converge_uri.yml"}


class NotPrepared(Exception):
    """The state a scenario starts from could not be made."""


@dataclass
class Row:
    title: str
    floor: floors.Floor
    ours: Run | None
    naive: Run | None
    note: str = ""
    variant: str = ""  # a second row of a scenario, for the targets: converge-naive


class Bench:
    """The run's emulators (started when first needed, always stopped) and how commands are run."""

    def __init__(self, work_dir, naive):
        self.work_dir = Path(work_dir)
        self.naive = naive
        self.emulators = {}
        self.runs = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for emulator in self.emulators.values():
            emulator.stop()
        return False

    def emulator(self, kind, naive):
        """The Fly (``kind='fly'``) or Lambda emulator of the sophia.ops runs, or of the naive ones."""
        name = "%s-%s" % (kind, "uri" if naive else "sophia")
        if name not in self.emulators:
            clock = (["--transition-seconds", str(floors.TRANSITION)] if kind == "fly"
                     else ["--boot-seconds", str(floors.BOOT)])
            emulator = Emulator(kind, self.work_dir, name, clock)
            emulator.start()
            self.emulators[name] = emulator
            emulator.fresh()
        return self.emulators[name]

    def command(self, cmd, emulators, label):
        """Measure one command against ``emulators``, with their URLs and tokens in its environment."""
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_DEPRECATION_WARNINGS="0")
        for emulator in emulators:
            if emulator.kind == "fly":
                env.update(FLY_API_URL=emulator.url, FLY_API_TOKEN=emulator.token)
            else:
                env.update(LAMBDA_API_URL=emulator.url, LAMBDA_API_KEY=emulator.token)
        self.runs += 1
        log = self.work_dir / ("%02d-%s.log" % (self.runs, label))
        print("  %-40s" % label, end="", flush=True)
        run = measure(cmd, env, emulators, log, TIMEOUT)
        print("%7.1f s %5d requests%s" % (run.wall, run.total, "" if run.ok else "  FAILED: see " + str(log)))
        return run

    def playbook(self, playbook, emulators, *args, label=None):
        # One fork per service host: the six services converge at once.
        cmd = [str(BIN / "ansible-playbook"), "-i", str(BENCH / "inventory" / "hosts.yml"),
               "--forks", str(len(SERVICES)), str(BENCH / "playbooks" / playbook)] + list(args)
        return self.command(cmd, emulators, label or playbook.rsplit(".", 1)[0])

    def converged(self, naive):
        """The Fly emulator of one side, holding the converged fleet (converged now if it does not)."""
        fly = self.emulator("fly", naive)
        if fly.state != "converged":
            fly.fresh()
            run = self.playbook(CONVERGE[naive], [fly], label="prepare-" + CONVERGE[naive].split(".")[0])
            check_fleet(fly, run, VERSION, SERVICES)
            if not run.ok:
                raise NotPrepared("converging the fleet to start from failed (%s); see %s"
                                  % ("; ".join(run.problems), run.log))
            fly.state = "converged"
        return fly


# --------------------------------------------------------------------------- checks
def image(app, version):
    return "registry.fly.io/%s:%s" % (app, version)


def is_healthy(machine):
    return machine["state"] == "started" and all(c["status"] == "passing" for c in machine.get("checks") or [])


def check_fleet(fly, run, version, apps):
    """Did the run leave every app of ``apps`` with its machines healthy on ``version``, one volume each?"""
    with fly.unthrottled():
        for app in apps:
            wanted = SERVICES[app]["machine_count"]
            try:
                machines = fly.api("GET", "/apps/%s/machines" % app)
                volumes = fly.api("GET", "/apps/%s/volumes" % app)
            except requests.RequestException as exc:
                run.problems.append("%s: %s" % (app, exc))
                continue
            healthy = [m for m in machines if is_healthy(m) and m["config"]["image"] == image(app, version)]
            mounted = set(mount["volume"] for m in machines for mount in m["config"].get("mounts") or [])
            if len(machines) != wanted or len(healthy) != wanted or len(mounted) != wanted or len(volumes) != wanted:
                run.problems.append("%s: %d machines, %d healthy on %s, %d volumes (%d mounted); wanted %d of each"
                                    % (app, len(machines), len(healthy), version, len(volumes), len(mounted), wanted))


def check_read_only(run):
    writes = sum(run.requests[m] for m in run.requests if m != "GET")
    if writes:
        run.problems.append("%d write request(s) where nothing was to change" % writes)


def check_pool(lam, run):
    with lam.unthrottled():
        instances = lam.api("GET", "/instances")["data"]
    members = [i for i in instances if {"key": "sophia-ops:pool", "value": VARS["lambda_pool_name"]} in i["tags"]]
    active = [i for i in members if i["status"] == "active"]
    if len(members) != VARS["lambda_pool_size"] or len(active) != len(members):
        run.problems.append("%d pool members, %d active; wanted %d" % (len(members), len(active),
                                                                       VARS["lambda_pool_size"]))


def check_inventory(path, run):
    try:
        listing = json.loads(Path(path).read_text(encoding="utf-8"))
        found = (len(listing["fly_machines"]["hosts"]), len(listing["lambda_instances"]["hosts"]))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        run.problems.append("no inventory listing: %s" % exc)
        return
    if found != (INVENTORY_MACHINES, INVENTORY_INSTANCES):
        run.problems.append("inventory lists %d machines and %d instances" % found)


# ------------------------------------------------------------------------ scenarios
def both(bench, track):
    """``track(bench, naive)`` the sophia.ops way, then (unless --quick) the naive way."""
    ours = track(bench, False)
    return ours, track(bench, True) if bench.naive else None


def converge(bench):
    def track(bench, naive, *args):
        fly = bench.emulator("fly", naive)
        fly.fresh()
        run = bench.playbook(CONVERGE[naive], [fly], *args,
                             label=CONVERGE[naive].split(".")[0] + ("-one-app-at-a-time" if args else ""))
        check_fleet(fly, run, VERSION, SERVICES)
        fly.state = "converged" if run.ok else "broken"
        return run

    counts = [s["machine_count"] for s in SERVICES.values()]
    title = "converge %d machines from empty" % sum(counts)
    ours, side_by_side = both(bench, track)
    rows = [Row(title, floors.converge(counts), ours, side_by_side,
                note="the uri version runs the apps side by side, one fork per service host, as this project does")]
    if bench.naive:
        # The naive playbook as people first write it converges one app after another: the same uri
        # tasks with one fork.
        one_at_a_time = track(bench, True, "--forks", "1")
        rows.append(Row(title + ", uri one app at a time", floors.converge(counts), ours, one_at_a_time,
                        note="the same sophia.ops run against the uri playbook with --forks 1", variant="naive"))
    return rows


def no_op(bench):
    def track(bench, naive):
        fly = bench.converged(naive)
        run = bench.playbook(CONVERGE[naive], [fly], label=CONVERGE[naive].split(".")[0] + "-again")
        check_read_only(run)
        check_fleet(fly, run, VERSION, SERVICES)
        return run

    return [Row("no-op (converged fleet)", floors.unchanged(len(SERVICES)), *both(bench, track))]


def check_mode(bench):
    def track(bench, naive):
        fly = bench.converged(naive)
        run = bench.playbook(CONVERGE[naive], [fly], "--check", label=CONVERGE[naive].split(".")[0] + "-check")
        check_read_only(run)
        return run

    return [Row("check mode (converged fleet)", floors.unchanged(len(SERVICES)), *both(bench, track))]


def rolling(bench):
    def track(bench, naive):
        fly = bench.converged(naive)
        run = bench.playbook("rolling_uri.yml" if naive else "converge.yml", [fly], "--limit", BIG_APP,
                             "-e", "service_version=%s" % NEW_VERSION,
                             "-e", "rollout_max_unavailable=%s" % MAX_UNAVAILABLE,
                             label="rolling" + ("-uri" if naive else ""))
        check_fleet(fly, run, NEW_VERSION, [BIG_APP])
        fly.state = "updated"
        return run

    size = SERVICES[BIG_APP]["machine_count"]
    return [Row("rolling image update, %d machines, max_unavailable %d %%" % (size, MAX_UNAVAILABLE * 100),
                floors.rolling_update(size, MAX_UNAVAILABLE), *both(bench, track))]


def inventory(bench):
    fly, lam = bench.emulator("fly", False), bench.emulator("lambda", False)
    for emulator in (fly, lam):
        emulator.fresh()
    print("  seeding %d Fly machines and %d Lambda instances" % (INVENTORY_MACHINES, INVENTORY_INSTANCES))
    seed_fly(fly, INVENTORY_MACHINES)
    seed_lambda(lam, INVENTORY_INSTANCES)
    config = write_fleet_config(bench.work_dir)
    measured = []
    for label in ("inventory-cold", "inventory-cached"):
        listing = bench.work_dir / (label + ".json")
        run = bench.command([str(BIN / "ansible-inventory"), "-i", str(config), "--list", "--output", str(listing)],
                            [fly, lam], label)
        check_inventory(listing, run)
        measured.append(run)
    naive = None
    if bench.naive:
        naive = bench.playbook("inventory_uri.yml", [fly, lam], "-e", "expected_fly_machines=%d" % INVENTORY_MACHINES,
                               "-e", "expected_lambda_instances=%d" % INVENTORY_INSTANCES)
    what = "inventory, %d Fly machines + %d Lambda instances" % (INVENTORY_MACHINES, INVENTORY_INSTANCES)
    return [Row(what + ", cold", floors.inventory_cold(len(SERVICES)), measured[0], naive),
            Row(what + ", cached", floors.inventory_cached(), measured[1], naive,
                note="the uri version has no cache: its one run is compared with both")]


def lambda_pool(bench):
    def track(bench, naive):
        lam = bench.emulator("lambda", naive)
        lam.fresh()
        run = bench.playbook("lambda_pool_uri.yml" if naive else "lambda_pool.yml", [lam])
        check_pool(lam, run)
        return run

    size = VARS["lambda_pool_size"]
    return [Row("Lambda pool of %d, 1 launch per %d s" % (size, floors.LAUNCH_INTERVAL), floors.lambda_pool(size),
                *both(bench, track))]


SCENARIOS = {"converge": converge, "noop": no_op, "check": check_mode, "rolling": rolling,
             "inventory": inventory, "lambda": lambda_pool}


# -------------------------------------------------------------------------- seeding
def seed_fly(fly, total):
    """``total`` started machines over the service apps, in the topology's proportions."""
    counts = dict((app, s["machine_count"]) for app, s in SERVICES.items())
    scaled = dict((app, total * n // sum(counts.values())) for app, n in counts.items())
    scaled[BIG_APP] += total - sum(scaled.values())
    with fly.unthrottled():
        for app, count in scaled.items():
            fly.api("POST", "/apps", {"app_name": app, "org_slug": VARS["fly_org_slug"]})
            service = SERVICES[app]
            for number in range(count):
                config = {"image": image(app, VERSION), "guest": service["guest"],
                          "checks": {"http": {"type": "http", "port": service["http_port"], "method": "GET",
                                              "path": service["health_path"]}},
                          "metadata": {"sophia_service": app, "fly_process_group": "app"}}
                region = service["regions"][number % len(service["regions"])]
                fly.api("POST", "/apps/%s/machines" % app, {"name": "%s-%04d" % (app, number), "region": region,
                                                            "config": config})


def seed_lambda(lam, total):
    """``total`` instances over the GPU types and regions, in pools of ten."""
    types = ["gpu_1x_a100_sxm4", "gpu_1x_h100_pcie", "gpu_1x_a10", "gpu_8x_a100_80gb_sxm4"]
    regions = ["us-east-1", "us-west-1", "us-south-1", "europe-central-1"]
    with lam.unthrottled():
        lam.control("POST", "settings", {"instance_quota": total + VARS["lambda_pool_size"]})
        lam.api("POST", "/ssh-keys", {"name": VARS["lambda_key_name"], "public_key": VARS["lambda_public_key"]})
        for number in range(total):
            lam.api("POST", "/instance-operations/launch", {
                "name": "seed-%03d" % number, "instance_type_name": types[number % len(types)],
                "region_name": regions[number % len(regions)], "ssh_key_names": [VARS["lambda_key_name"]],
                "tags": [{"key": "sophia-ops:pool", "value": "seed-pool-%d" % (number // 10)}]})


def write_fleet_config(work_dir):
    """The local inventory's fleet config as it is, with its cache in the run's temp dir."""
    config = yaml.safe_load((REPO / "inventories" / "local" / "fleet.yml").read_text(encoding="utf-8"))
    config["cache_connection"] = str(Path(work_dir) / "inventory-cache")
    path = Path(work_dir) / "fleet" / "fleet.yml"  # the plugin only reads files of that name
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- report
def ratio(measured, floor):
    if not floor:  # nothing to do: at the floor only when nothing was done
        return "1.00" if not measured else "—"
    return "%.2f" % (measured / floor)


def seconds(value):
    return "%.2f" % value if value < 1 else "%.1f" % value


def by_method(counts):
    return "%d (%s)" % (sum(counts.values()), "/".join(str(counts.get(m, 0)) for m in METHODS))


def table(rows):
    lines = ["| scenario | wall s | time floor s | ×time floor | requests (GET/POST/PUT/DELETE) | request floor "
             "| ×request floor | peak MB | uri wall s | uri requests | speedup vs uri |",
             "|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|"]
    for row in rows:
        ours, naive, floor = row.ours, row.naive, row.floor
        cells = [row.title]
        if ours is None:
            cells += ["not run"] + ["—"] * 9
        else:
            failed = "" if ours.ok else " (failed)"
            cells += ["%.1f%s" % (ours.wall, failed), seconds(floor.seconds), ratio(ours.wall, floor.seconds),
                      by_method(ours.requests), by_method(floor.requests), ratio(ours.total, floor.total),
                      "%.0f" % ours.peak_mb]
            if naive is None:
                cells += ["—", "—", "—"]
            else:
                cells += ["%.1f%s" % (naive.wall, "" if naive.ok else " (failed)"), by_method(naive.requests),
                          "%.1f×" % (naive.wall / ours.wall)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The targets: (scenario, what, value of a row, limit, whether the value must reach the limit).
TARGETS = [
    ("converge", "converge, × request floor", lambda row: row.ours.total / row.floor.total, 1.2, False),
    ("converge", "converge, × time floor", lambda row: row.ours.wall / row.floor.seconds, 1.5, False),
    ("converge-naive", "converge, speedup vs the naive uri playbook (one app at a time)",
     lambda row: row.naive.wall / row.ours.wall, 3.0, True),
    ("rolling", "rolling update, × time floor", lambda row: row.ours.wall / row.floor.seconds, 1.3, False),
    ("noop", "no-op, × request floor", lambda row: row.ours.total / row.floor.total, 1.0, False),
]


def targets(rows):
    """Each target with what was measured, for the scenarios that ran."""
    found = dict((name, row) for name, row in rows)
    lines = []
    for name, what, value, limit, at_least in TARGETS:
        row = found.get(name)
        if row is None or row.ours is None or (at_least and row.naive is None):
            continue
        measured = value(row)
        met = measured >= limit if at_least else measured <= limit
        lines.append("- %s: %.2f (target %s %.1f): %s" % (what, measured, "≥" if at_least else "≤", limit,
                                                          "met" if met else "**missed**"))
    return lines


def runs(rows):
    """(row, side, run) of every run, once: one uri run serves both inventory rows."""
    found, seen = [], set()
    for dummy, row in rows:
        for side, run in (("sophia.ops", row.ours), ("uri", row.naive)):
            if run is not None and id(run) not in seen:
                seen.add(id(run))
                found.append((row, side, run))
    return found


def notes(rows):
    lines = ["- %s: %s" % (row.title, row.note) for dummy, row in rows if row.note]
    for row, side, run in runs(rows):
        if run.throttled:
            lines.append("- %s, %s: %d of the requests were answered 429 (rate limited)"
                         % (row.title, side, run.throttled))
        for problem in run.problems:
            lines.append("- %s, %s: **did not do the job**: %s" % (row.title, side, problem))
    return lines


def machine_description():
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                 platform.machine())
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return ("%d CPUs (nproc; %s), %.1f GiB RAM, %s %s, Python %s, ansible-core %s"
            % (len(os.sched_getaffinity(0)), model, mem_kb / 2 ** 20, platform.system(), platform.release(),
               platform.python_version(), ANSIBLE_CORE_VERSION))


def report(rows, overhead, took, load, command):
    """The results as Markdown: when and where, the table, the targets, the notes."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    lines = ["Run of %s UTC; the whole benchmark took %d min %02d s." % (now, took // 60, took % 60), "",
             "Machine: %s. Load average (1 min) before and after the run: %.2f, %.2f; anything else running "
             "shares the CPUs with the runs." % ((machine_description(),) + load), "", "Command: `%s`" % command, "",
             table([row for dummy, row in rows]), "",
             "ansible-playbook itself on this machine (two `ansible.builtin.ping` tasks on the six hosts, no API "
             "call): %.1f s, peak %.0f MB." % (overhead.wall, overhead.peak_mb), ""]
    for title, items in (("Targets:", targets(rows)), ("Notes:", notes(rows))):
        if items:
            lines += [title, ""] + items + [""]
    return "\n".join(lines)


def write_doc(text):
    doc = DOC.read_text(encoding="utf-8")
    if DOC_BEGIN not in doc or DOC_END not in doc:
        raise SystemExit("%s has no %s ... %s section to put the results in" % (DOC, DOC_BEGIN, DOC_END))
    head, rest = doc.split(DOC_BEGIN, 1)
    DOC.write_text(head + DOC_BEGIN + "\n" + text + "\n" + DOC_END + rest.split(DOC_END, 1)[1], encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated scenarios: %s" % ", ".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="skip the naive ansible.builtin.uri runs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (emulator state, playbook logs)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error("unknown scenario(s) %s; choose from %s" % (", ".join(unknown), ", ".join(SCENARIOS)))
    full = not args.only and not args.quick
    # A plain kill ends the run like Ctrl-C does: through the finally blocks that stop what it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    began, load_before = time.monotonic(), os.getloadavg()[0]
    work_dir = tempfile.mkdtemp(prefix="sophia-bench-")
    rows = []  # (scenario name, row)
    with Bench(work_dir, naive=not args.quick) as bench:
        print("sophia.ops benchmark: %d ms per API call, emulators in %s" % (LATENCY_MS, work_dir))
        overhead = bench.playbook("overhead.yml", [])
        for name in names:
            print(name)
            try:
                rows += [("-".join(filter(None, (name, row.variant))), row) for row in SCENARIOS[name](bench)]
            except NotPrepared as exc:
                rows.append((name, Row(name, floors.Floor({}, 0.0), None, None, note="not run: %s" % exc)))
    text = report(rows, overhead, int(time.monotonic() - began), (load_before, os.getloadavg()[0]), "bench/run")
    print("\n" + text)
    failed = [(row, side, run) for row, side, run in runs(rows) if not run.ok]
    for row, side, run in failed:
        print("--- %s, %s (%s); last lines of %s:" % (row.title, side, "; ".join(run.problems), run.log))
        print(tail(run.log))
    failed += [row for dummy, row in rows if row.ours is None]
    if full:
        write_doc(text)
        print("written to %s" % DOC.relative_to(REPO))
    if failed or args.keep:
        print("logs and emulator state kept in %s" % work_dir)
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
