"""The Lambda emulator's Docker backend (``python -m emulators.lambda_cloud --backend docker --stack S``):
instances that really boot.

- A launched instance is the container ``<stack>-gpu-<instance_id>`` of ``sophia-local/gpu-node:latest``
  (systemd as PID 1, sshd, user ``ubuntu`` with passwordless sudo; no GPU) on the stack's "internet"
  network ``<stack>-public``, with NET_ADMIN for the node's own firewall.
- Its ``ip`` is a loopback address of its own, ``127.0.0.N`` (N from 2 up, the first whose port 22 nobody
  holds), where Docker publishes its sshd on port 22, so that ``ssh ubuntu@<ip>`` works as on Lambda;
  its ``private_ip`` is its address on ``<stack>-public``.
- The launch's SSH public key is written to /home/ubuntu/.ssh/authorized_keys before the container starts.
- The instance stays ``booting`` until sshd answers its banner on ip:22, then it is ``active``; restart
  restarts the container (``booting`` again until sshd answers); terminate removes it.

Docker work runs inside the API handlers, under the service lock (a container create and start take a
fraction of a second); the boot is observed on reads, by a banner probe of a few milliseconds.
"""

from __future__ import annotations

import io
import socket
import tarfile
import time

from emulators.common.docker_engine import DockerEngine, DockerError

IMAGE = "sophia-local/gpu-node:latest"
UBUNTU_UID = 1000
# 127.0.0.1 is the host's own; instances take 127.0.0.2 and up.
FIRST_ADDRESS, LAST_ADDRESS = 2, 254
PROBE_SECONDS = 0.5
STOP_SECONDS = 5


class ImageMissing(Exception):
    pass


def listeners_on_port(port):
    """The local IPv4 addresses with a TCP listener on ``port`` (from the kernel's table)."""
    found = set()
    try:
        with open("/proc/net/tcp", encoding="ascii") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return found
    for row in rows:
        fields = row.split()
        address, dummy, hex_port = fields[1].partition(":")
        if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def authorized_keys_archive(public_keys):
    """A tar of /home/ubuntu/.ssh (0700) and its authorized_keys (0600), owned by ubuntu."""
    data = ("\n".join(key.strip() for key in public_keys) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        directory = tarfile.TarInfo("home/ubuntu/.ssh")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o700
        directory.uid = directory.gid = UBUNTU_UID
        directory.mtime = int(time.time())
        tar.addfile(directory)
        keys = tarfile.TarInfo("home/ubuntu/.ssh/authorized_keys")
        keys.size, keys.mode, keys.mtime = len(data), 0o600, int(time.time())
        keys.uid = keys.gid = UBUNTU_UID
        tar.addfile(keys, io.BytesIO(data))
    return buffer.getvalue()


def sshd_answers(address, timeout=PROBE_SECONDS):
    """True when an SSH server sends its banner on address:22. Docker's proxy accepts the connection
    even while the container's sshd is not up yet; it then closes it without a banner."""
    try:
        with socket.create_connection((address, 22), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


class DockerInstances:
    def __init__(self, stack, engine=None, image=IMAGE):
        self.stack = stack
        self.engine = engine or DockerEngine(stack)
        self.image = image

    # --- names and networks -------------------------------------------------------------------------
    def container_name(self, instance_id):
        return "%s-gpu-%s" % (self.stack, instance_id)

    @property
    def public_network(self):
        return "%s-public" % self.stack

    def ensure_public_network(self):
        try:
            return self.engine.ensure_network(self.public_network, sophia__network="public")
        except DockerError as error:
            if error.status != 409:  # 409: another creator (scripts/local-emulators, Fly) was first
                raise
            return self.engine.call("GET", "/networks/%s" % self.public_network)[1]

    # --- launch ----------------------------------------------------------------------------------
    def check_image(self):
        if not self.engine.image_exists(self.image):
            raise ImageMissing("the GPU node image %s is not built; run scripts/images build gpu-node" % self.image)

    def free_addresses(self, taken):
        """Loopback addresses whose port 22 is free, in order, leaving out those ``taken`` by instances."""
        held = listeners_on_port(22)
        if "0.0.0.0" in held:
            raise DockerError(409, "a process listens on 0.0.0.0:22; the instances' sshd cannot be published "
                                   "on 127.0.0.N:22")
        for last in range(FIRST_ADDRESS, LAST_ADDRESS + 1):
            address = "127.0.0.%d" % last
            if address not in held and address not in taken:
                yield address

    def spec(self, instance, address):
        return {
            "Image": self.image,
            "Hostname": instance["hostname"][:63],
            "Labels": self.engine.labels(sophia__emulator="lambda", sophia__lambda__instance=instance["id"],
                                         sophia__lambda__name=instance["name"]),
            "ExposedPorts": {"22/tcp": {}},
            "HostConfig": {
                # systemd as PID 1 without --privileged; NET_ADMIN for the node's nftables firewall.
                "CapAdd": ["SYS_ADMIN", "NET_ADMIN"],
                "Tmpfs": {"/run": "", "/run/lock": ""},
                "Binds": ["/sys/fs/cgroup:/sys/fs/cgroup:ro"],
                "PortBindings": {"22/tcp": [{"HostIp": address, "HostPort": "22"}]},
                "NetworkMode": self.public_network,
            },
            "NetworkingConfig": {"EndpointsConfig": {self.public_network: {"Aliases": [instance["hostname"]]}}},
        }

    def launch(self, instance, public_keys, taken):
        """Create and start the instance's container; sets ``ip``, ``private_ip`` and ``container``.
        A published address another process took meanwhile (Docker: "port is already allocated",
        "address already in use") is given up for the next free one."""
        self.check_image()
        self.ensure_public_network()
        name = self.container_name(instance["id"])
        archive = authorized_keys_archive(public_keys)
        last_error = None
        for attempt, address in enumerate(self.free_addresses(taken)):
            if attempt >= 20:
                break
            self.engine.remove(name)
            self.engine.create_container(name, self.spec(instance, address))
            self.engine.put_archive(name, "/", archive)
            try:
                self.engine.start(name)
            except DockerError as error:
                last_error = error
                if "allocated" in error.message or "in use" in error.message:
                    continue
                self.engine.remove(name)
                raise
            record = self.engine.inspect(name)
            instance["ip"] = address
            instance["private_ip"] = record["NetworkSettings"]["Networks"][self.public_network]["IPAddress"]
            instance["container"] = name
            return instance
        self.engine.remove(name)
        raise DockerError(503, "no free 127.0.0.N:22 to publish the instance's sshd on (%s)" % last_error)

    # --- lifecycle -----------------------------------------------------------------------------
    def booted(self, instance):
        return sshd_answers(instance["ip"])

    def restart(self, instance):
        self.engine.restart(instance["container"], timeout=STOP_SECONDS)

    def terminate(self, instance):
        self.engine.remove(instance["container"], volumes=True)

    def remove_all(self):
        """Every instance container of this stack (an emulator reset)."""
        for container in self.engine.containers(sophia__emulator="lambda"):
            self.engine.remove(container["Id"], volumes=True)
