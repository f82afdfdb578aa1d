"""Build the local stack's images, with no registry: one Debian bookworm root from
`debootstrap --variant=minbase`, imported with `docker import`, and every other image
`FROM` it (images/<name>/Dockerfile, `ARG BASE`).

    scripts/images [build] [NAME ...]   build what is missing or out of date (all by default)
    scripts/images list                 each image, its tag and whether it is current
    scripts/images tag REF SERVICE [KEY=VALUE ...]
                                        a stand-in image REF playing SERVICE (a new version of a
                                        service's image, for redeploy tests), with extra ENV if given

An image is current when its label `sophia.source` is the hash of its directory and of the
image it stands on, so a second run builds nothing and a changed Dockerfile rebuilds only
what stands on it. CI, the README's commands and Molecule all call this script.

Then the image refs the local inventory deploys are tagged: images/<name>/images.json maps each ref
to what a thin image on top of sophia-local/<name> sets (ENV, ENTRYPOINT, CMD), e.g. the stand-in as
registry.fly.io/sophia-unified-api:1.0.0, the monitoring image as prom/prometheus:v2.53.2. Those are
current the same way: their label holds the hash of the parent's and of their own settings.
Needs a running Docker engine (scripts/docker-engine) and, for the base, root and debootstrap.
Run through scripts/images (a shell wrapper, as the other scripts are).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "images")
# Overridable only to time a cold build beside the images in use (SOPHIA_IMAGE_REPOSITORY=cold-check).
REPOSITORY = os.environ.get("SOPHIA_IMAGE_REPOSITORY", "sophia-local")
SUITE = "bookworm"
MIRROR = os.environ.get("SOPHIA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Images in build order: each stands on the base (ARG BASE), or on the one its FROM_IMAGE names.
ORDER = ["base", "standin", "gpu-node", "monitoring", "postgres", "redis"]
FROM_IMAGE = {}


def tag(name):
    return "%s/%s:latest" % (REPOSITORY, name)


def run(command, **options):
    return subprocess.run(command, check=True, **options)


def docker_build(command, **options):
    """docker build, quiet unless it fails (the CLI's notices about the legacy builder are noise here;
    the legacy builder is kept because Debian's docker.io may come without buildx)."""
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
                          env=dict(os.environ, DOCKER_BUILDKIT="0"), **options)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode("utf-8", "replace"))
        sys.exit("scripts/images: %s failed (exit %d)" % (" ".join(command[:3]), done.returncode))


def image_id(image):
    found = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True,
                           check=False)
    return found.stdout.strip() if found.returncode == 0 else None


SUPERSEDED = []


def drop_superseded(old_id, image):
    """Note the image a rebuild replaced; remove_superseded() removes it at the end."""
    if old_id and old_id != image_id(image):
        SUPERSEDED.append(old_id)


def remove_superseded():
    """Replaced images, removed when nothing uses them any more (no tag, no container, no child): a plain
    `docker image rm` without force, which refuses otherwise. Children (added later) go first."""
    for old_id in reversed(SUPERSEDED):
        subprocess.run(["docker", "image", "rm", old_id], capture_output=True, check=False)
    del SUPERSEDED[:]


def docker_label(image):
    """The image's sophia.source label, or None when there is no such image."""
    found = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
                           capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return None
    return (json.loads(found.stdout or "null") or {}).get("sophia.source")


def source_hash(name, parent_hash):
    digest = hashlib.sha256((parent_hash or "").encode())
    directory = os.path.join(IMAGES, name)
    for folder, dirs, files in sorted(os.walk(directory)):
        dirs[:] = sorted(folder_name for folder_name in dirs if folder_name != "__pycache__")
        for file_name in sorted(files):
            if file_name.endswith(".pyc"):
                continue
            path = os.path.join(folder, file_name)
            digest.update(os.path.relpath(path, directory).encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    if name == "base":
        digest.update(("%s %s minbase" % (SUITE, MIRROR)).encode())
    return digest.hexdigest()[:16]


def build_base(wanted):
    if shutil.which("debootstrap") is None:
        sys.exit("scripts/images: debootstrap is missing (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="sophia-rootfs-") as root:
        print("images: debootstrap --variant=minbase %s (about half a minute)" % SUITE, flush=True)
        run(["debootstrap", "--variant=minbase", SUITE, root, MIRROR], stdout=subprocess.DEVNULL)
        # The image's apt talks to the same mirror; no recommends, like the rest of the stack.
        with open(os.path.join(root, "etc/apt/apt.conf.d/99sophia"), "w") as handle:
            handle.write('APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        old_id = image_id(tag("base"))
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "--change", "LABEL sophia.source=%s" % wanted,
             "--change", 'CMD ["/bin/bash"]', "-", tag("base")], stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            sys.exit("scripts/images: tar of the bookworm root failed")
        drop_superseded(old_id, tag("base"))


def build(name, wanted):
    parent = tag(FROM_IMAGE.get(name, "base"))
    print("images: building %s" % tag(name), flush=True)
    old_id = image_id(tag(name))
    docker_build(["docker", "build", "--quiet", "--build-arg", "BASE=" + parent, "--label", "sophia.source=" + wanted,
                  "--tag", tag(name), os.path.join(IMAGES, name)])
    drop_superseded(old_id, tag(name))


# --- refs tagged on top of a built image (images/<name>/images.json) --------------------------------

def standin_settings(ref, entry, extra_env=None):
    """A stand-in ref's thin-image settings: its service's ENV (see images/standin/sophia_standin.py), plus
    the entry's own "env" and "cmd" when it has them."""
    env = {"SOPHIA_SERVICE": entry["service"], "PORT": str(entry["port"]),
           "SOPHIA_HEALTH_PATH": entry["health_path"], "SOPHIA_DATA_DIR": entry.get("data_dir") or "/data",
           "SOPHIA_IMAGE": ref}
    if entry.get("metrics_port"):
        env["SOPHIA_METRICS_PORT"] = str(entry["metrics_port"])
    env.update(entry.get("env") or {})
    env.update(extra_env or {})
    settings = {"env": env, "labels": {"sophia.service": entry["service"]},
                "expose": [entry["port"]] + ([entry["metrics_port"]] if entry.get("metrics_port") else [])}
    if entry.get("cmd"):
        settings["cmd"] = entry["cmd"]  # another fixture program of the image (the log shipper's)
    return settings


def derived_refs(name):
    """{ref: settings} of the refs tagged on top of sophia-local/<name>, from its images.json."""
    path = os.path.join(IMAGES, name, "images.json")
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        entries = json.load(handle)
    out = {}
    for ref, entry in entries.items():
        if ref.startswith("_"):
            continue  # comments
        out[ref] = standin_settings(ref, entry) if name == "standin" else entry
    return out


def derived_hash(parent_hash, settings):
    return hashlib.sha256((parent_hash + json.dumps(settings, sort_keys=True)).encode()).hexdigest()[:16]


def derived_dockerfile(parent, settings):
    lines = ["FROM %s" % parent]
    if settings.get("env"):
        lines.append("ENV " + " ".join("%s=%s" % (key, json.dumps(str(value)))
                                       for key, value in sorted(settings["env"].items())))
    for port in settings.get("expose") or []:
        lines.append("EXPOSE %d" % int(port))
    if settings.get("user"):
        lines.append("USER %s" % settings["user"])
    # An ENTRYPOINT resets the parent's CMD, so CMD always follows it.
    if "entrypoint" in settings:
        lines.append("ENTRYPOINT %s" % json.dumps(settings["entrypoint"]))
    if "cmd" in settings:
        lines.append("CMD %s" % json.dumps(settings["cmd"]))
    return "\n".join(lines) + "\n"


def build_derived(name, ref, settings, wanted):
    labels = dict(settings.get("labels") or {}, **{"sophia.source": wanted, "sophia.image": tag(name)})
    command = ["docker", "build", "--quiet", "--tag", ref]
    for key, value in sorted(labels.items()):
        command += ["--label", "%s=%s" % (key, value)]
    print("images: tagging %s (on %s)" % (ref, tag(name)), flush=True)
    old_id = image_id(ref)
    # No context: the Dockerfile comes on stdin and copies nothing.
    docker_build(command + ["-"], input=derived_dockerfile(tag(name), settings).encode())
    drop_superseded(old_id, ref)


def derived_plan(rows):
    """(name, ref, settings, wanted hash, current?) for the refs of the images in rows."""
    out = []
    for name, wanted, dummy in rows:
        for ref, settings in sorted(derived_refs(name).items()):
            ref_hash = derived_hash(wanted, settings)
            out.append((name, ref, settings, ref_hash, docker_label(ref) == ref_hash))
    return out


def tag_standin(ref, service, extra):
    """scripts/images tag REF SERVICE [KEY=VALUE ...]: the stand-in as REF, playing SERVICE."""
    with open(os.path.join(IMAGES, "standin", "images.json")) as handle:
        entries = {key: value for key, value in json.load(handle).items() if not key.startswith("_")}
    template = next((entry for entry in entries.values() if entry["service"] == service), None)
    if template is None:
        services = sorted({entry["service"] for entry in entries.values()})
        sys.exit("scripts/images: no service %s in images/standin/images.json (services: %s)"
                 % (service, ", ".join(services)))
    extra_env = {}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            sys.exit("scripts/images: %r is not KEY=VALUE" % item)
        extra_env[key] = value
    rows = plan(["standin"])
    for name, wanted, current in rows:
        if not current:
            build_base(wanted) if name == "base" else build(name, wanted)
    standin_hash = dict((name, wanted) for name, wanted, dummy in rows)["standin"]
    settings = standin_settings(ref, template, extra_env)
    wanted = derived_hash(standin_hash, settings)
    if docker_label(ref) != wanted:
        build_derived("standin", ref, settings, wanted)
    remove_superseded()
    return 0


def plan(names):
    """(name, wanted hash, current?) for every image, in build order."""
    hashes, rows = {}, []
    for name in ORDER:
        if not os.path.isdir(os.path.join(IMAGES, name)):
            continue
        parent = None if name == "base" else hashes[FROM_IMAGE.get(name, "base")]
        hashes[name] = source_hash(name, parent)
        if names and name not in names and name != "base":
            continue
        rows.append((name, hashes[name], docker_label(tag(name)) == hashes[name]))
    return rows


def main(argv):
    if argv and argv[0] == "tag":
        if len(argv) < 3:
            sys.exit("usage: scripts/images tag REF SERVICE [KEY=VALUE ...]")
        return tag_standin(argv[1], argv[2], argv[3:])
    command = argv[0] if argv and argv[0] in ("build", "list") else "build"
    names = [name for name in argv if name not in ("build", "list")]
    unknown = [name for name in names if name not in ORDER]
    if unknown:
        sys.exit("scripts/images: no image named %s (images: %s)" % (", ".join(unknown), ", ".join(ORDER)))
    rows = plan(names)
    if command == "list":
        for name, wanted, current in rows:
            print("%-44s %s %s" % (tag(name), wanted, "current" if current else "to build"))
        for name, ref, dummy, wanted, current in derived_plan(rows):
            print("%-44s %s %s" % (ref, wanted, "current" if current else "to tag"))
        return 0
    for name, wanted, current in rows:
        if current:
            continue
        build_base(wanted) if name == "base" else build(name, wanted)
    for name, ref, settings, wanted, current in derived_plan(rows):
        if not current:
            build_derived(name, ref, settings, wanted)
    remove_superseded()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
