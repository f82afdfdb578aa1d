"""A small client of the Docker Engine API over its unix socket, for the emulators' Docker backends.

The standard library only (http.client over AF_UNIX): the emulators run from a plain
checkout, and the Engine API is a handful of JSON calls (containers, volumes, networks,
archives). Every Docker object a stack creates carries the label ``sophia.stack=<name>``
(``labels()``) so that one stack's objects are found and removed without touching another
checkout's on the same engine.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse

API_VERSION = "v1.41"  # Debian bookworm's docker.io (20.10); newer engines still answer it
STACK_LABEL = "sophia.stack"


class DockerError(Exception):
    def __init__(self, status, message):
        super().__init__("docker engine answered %s: %s" % (status, message))
        self.status = status
        self.message = message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def socket_path():
    """The engine's socket: DOCKER_HOST when it names a unix socket, else the default."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return "/var/run/docker.sock"


class DockerEngine:
    def __init__(self, stack, path=None, timeout=60):
        self.stack = stack
        self.path = path or socket_path()
        self.timeout = timeout

    # --- the wire -------------------------------------------------------------------------------
    def call(self, method, path, body=None, query=None, raw=None, content_type="application/json",
             expect=(200, 201, 204, 304), timeout=None):
        """(status, parsed JSON or bytes). ``raw`` sends bytes (archives); statuses outside
        ``expect`` raise DockerError with the engine's message."""
        url = "/%s%s" % (API_VERSION, path)
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        connection = _UnixConnection(self.path, timeout or self.timeout)
        try:
            headers = {"Content-Type": content_type} if payload is not None else {}
            connection.request(method, url, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        parsed = data
        if response.getheader("Content-Type", "").startswith("application/json") and data:
            parsed = json.loads(data)
        if response.status not in expect:
            message = parsed.get("message") if isinstance(parsed, dict) else data[:300].decode("utf-8", "replace")
            raise DockerError(response.status, message)
        return response.status, parsed

    def ping(self):
        try:
            return self.call("GET", "/_ping", timeout=3)[0] == 200
        except (OSError, DockerError):
            return False

    def labels(self, **extra):
        """The labels every object of this stack carries, plus ``extra`` (values as text)."""
        out = {STACK_LABEL: self.stack}
        out.update({key.replace("__", "."): str(value) for key, value in extra.items()})
        return out

    def label_filter(self, **extra):
        return json.dumps({"label": ["%s=%s" % item for item in self.labels(**extra).items()]})

    # --- images ---------------------------------------------------------------------------------
    def image_exists(self, image):
        try:
            self.call("GET", "/images/%s/json" % urllib.parse.quote(image, safe=""))
            return True
        except DockerError as error:
            if error.status == 404:
                return False
            raise

    # --- containers -----------------------------------------------------------------------------
    def create_container(self, name, spec):
        return self.call("POST", "/containers/create", spec, query={"name": name})[1]["Id"]

    def start(self, container):
        self.call("POST", "/containers/%s/start" % container)

    def stop(self, container, timeout=10):
        self.call("POST", "/containers/%s/stop" % container, query={"t": int(timeout)},
                  timeout=timeout + self.timeout)

    def kill(self, container, signal="SIGKILL"):
        self.call("POST", "/containers/%s/kill" % container, query={"signal": signal}, expect=(204, 409))

    def restart(self, container, timeout=10):
        self.call("POST", "/containers/%s/restart" % container, query={"t": int(timeout)},
                  timeout=timeout + self.timeout)

    def pause(self, container):
        self.call("POST", "/containers/%s/pause" % container)

    def unpause(self, container):
        self.call("POST", "/containers/%s/unpause" % container)

    def connect(self, network, container, aliases=None):
        """Attach a (created) container to one more network; API v1.41 takes one network at create."""
        self.call("POST", "/networks/%s/connect" % network,
                  {"Container": container, "EndpointConfig": {"Aliases": list(aliases or [])}})

    def remove(self, container, volumes=False):
        self.call("DELETE", "/containers/%s" % container, query={"force": "true", "v": str(volumes).lower()},
                  expect=(204, 404))

    def inspect(self, container):
        """The container's record, or None when there is none."""
        try:
            return self.call("GET", "/containers/%s/json" % container)[1]
        except DockerError as error:
            if error.status == 404:
                return None
            raise

    def containers(self, **labels):
        return self.call("GET", "/containers/json", query={"all": "true", "filters": self.label_filter(**labels)})[1]

    def put_archive(self, container, path, tar_bytes):
        self.call("PUT", "/containers/%s/archive" % container, query={"path": path}, raw=tar_bytes,
                  content_type="application/x-tar")

    def get_archive(self, container, path):
        return self.call("GET", "/containers/%s/archive" % container, query={"path": path})[1]

    def logs(self, container, since=0, tail="all"):
        """The container's output since ``since`` (epoch seconds) as (stream, line) pairs."""
        raw = self.call("GET", "/containers/%s/logs" % container,
                        query={"stdout": "true", "stderr": "true", "since": int(since), "tail": tail,
                               "timestamps": "false"})[1]
        return list(demultiplex(raw))

    def exec_run(self, container, command):
        """Run ``command`` in a running container; (exit code, output bytes)."""
        exec_id = self.call("POST", "/containers/%s/exec" % container,
                            {"Cmd": command, "AttachStdout": True, "AttachStderr": True})[1]["Id"]
        raw = self.call("POST", "/exec/%s/start" % exec_id, {"Detach": False, "Tty": False})[1]
        code = self.call("GET", "/exec/%s/json" % exec_id)[1]["ExitCode"]
        return code, b"".join(chunk for dummy, chunk in demultiplex(raw))

    # --- volumes and networks -------------------------------------------------------------------
    def create_volume(self, name, **labels):
        self.call("POST", "/volumes/create", {"Name": name, "Labels": self.labels(**labels)})

    def remove_volume(self, name):
        self.call("DELETE", "/volumes/%s" % name, query={"force": "true"}, expect=(204, 404))

    def volumes(self, **labels):
        return self.call("GET", "/volumes", query={"filters": self.label_filter(**labels)})[1].get("Volumes") or []

    def ensure_network(self, name, **labels):
        """The network's record, created (a bridge with Docker's DNS) when missing."""
        try:
            return self.call("GET", "/networks/%s" % name)[1]
        except DockerError as error:
            if error.status != 404:
                raise
        self.call("POST", "/networks/create", {"Name": name, "CheckDuplicate": True, "Driver": "bridge",
                                               "Labels": self.labels(**labels)})
        return self.call("GET", "/networks/%s" % name)[1]

    def remove_network(self, name):
        self.call("DELETE", "/networks/%s" % name, expect=(204, 404))

    def networks(self, **labels):
        return self.call("GET", "/networks", query={"filters": self.label_filter(**labels)})[1]

    def remove_stack(self):
        """Every container, volume and network of this stack, gone."""
        for container in self.containers():
            self.remove(container["Id"], volumes=True)
        for volume in self.volumes():
            self.remove_volume(volume["Name"])
        for network in self.networks():
            self.remove_network(network["Id"])


def demultiplex(raw):
    """Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0, size) as (stream, bytes) pairs;
    a TTY container's output has no headers and comes back as one stdout chunk."""
    if not raw or raw[0] not in (0, 1, 2) or raw[1:4] != b"\0\0\0":
        if raw:
            yield "stdout", raw
        return
    offset = 0
    while offset + 8 <= len(raw):
        stream = "stderr" if raw[offset] == 2 else "stdout"
        size = int.from_bytes(raw[offset + 4:offset + 8], "big")
        yield stream, raw[offset + 8:offset + 8 + size]
        offset += 8 + size
