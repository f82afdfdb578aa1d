"""Machine logs as Fly ships them, for the Docker backend: every line a machine's container writes is
published on NATS under ``logs.<app>.<region>.<machine_id>``, in the JSON shape of Fly's log stream, where
the organisation's log shipper (roles/log_shipper) subscribes to ``logs.>``.

Fly serves the stream at ``[fdaa::3]:4223`` on the organisation's private network. Here Debian's
``nats-server`` runs beside the emulator on the org network's gateway address, port 4223, and machines find
it as ``nats.flyio.internal`` (an /etc/hosts entry the backend gives each container). It asks for no
credentials (Fly's takes the organisation and a token): a deviation listed in docs/emulator-spec-deviations.md.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time

from emulators.common.docker_engine import API_VERSION, _UnixConnection

NATS_PORT = 4223
NATS_HOSTNAME = "nats.flyio.internal"


def follow_container(socket_path, container, on_line, stop):
    """Call ``on_line(stream, text)`` for each line the container writes from now on, until its output
    ends (the container stopped) or ``stop`` is set. Docker's multiplexed frames are split into lines."""
    connection = _UnixConnection(socket_path, timeout=None)
    try:
        connection.request("GET", "/%s/containers/%s/logs?follow=true&stdout=true&stderr=true&since=%d"
                           % (API_VERSION, container, int(time.time()) - 1))
        response = connection.getresponse()
        if response.status != 200:
            return
        partial = {"stdout": b"", "stderr": b""}
        while not stop.is_set():
            header = response.read(8)
            if len(header) < 8:
                return
            stream = "stderr" if header[0] == 2 else "stdout"
            chunk = response.read(int.from_bytes(header[4:8], "big"))
            lines = (partial[stream] + chunk).split(b"\n")
            partial[stream] = lines.pop()
            for line in lines:
                on_line(stream, line.decode("utf-8", "replace").rstrip("\r"))
    except OSError:
        return
    finally:
        connection.close()


class NatsPublisher:
    """A publishing-only NATS client (the text protocol: CONNECT, PUB), reconnecting on failure."""

    def __init__(self, host, port):
        self.address = (host, port)
        self.sock = None
        self.lock = threading.Lock()

    def _connect(self):
        sock = socket.create_connection(self.address, timeout=5)
        sock.recv(4096)  # INFO {...}
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"fly-emulator"}\r\n')
        self.sock = sock

    def publish(self, subject, payload):
        data = payload.encode()
        message = b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(data), data)
        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.sock is None:
                        self._connect()
                    self.sock.sendall(message)
                    return True
                except OSError:
                    self.close_locked()
            return False

    def close_locked(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


class MachineLogs:
    """nats-server on the org network's gateway, and one follower thread per running container."""

    def __init__(self, socket_path, data_dir):
        self.socket_path = socket_path
        self.data_dir = data_dir
        self.servers = {}  # gateway address -> (process, publisher)
        self.followers = {}  # container id -> stop event
        self.lock = threading.Lock()

    def server(self, gateway):
        """The NATS server of the network whose gateway is ``gateway``, started when missing."""
        with self.lock:
            if gateway in self.servers and self.servers[gateway][0].poll() is None:
                return self.servers[gateway][1]
            binary = shutil.which("nats-server")
            if binary is None:
                return None  # logs are not shipped; the machines run all the same
            log = open(os.path.join(self.data_dir, "nats-%s.log" % gateway), "ab")
            process = subprocess.Popen([binary, "-a", gateway, "-p", str(NATS_PORT)], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection((gateway, NATS_PORT), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            publisher = NatsPublisher(gateway, NATS_PORT)
            self.servers[gateway] = (process, publisher)
            return publisher

    def follow(self, container, gateway, app, region, machine_id, instance_id):
        publisher = self.server(gateway)
        if publisher is None:
            return
        subject = "logs.%s.%s.%s" % (app, region, machine_id)

        def on_line(stream, text):
            if not text:
                return
            now = time.time()
            fly = {"app": {"instance": machine_id, "name": app}, "region": region}
            record = {"event": {"provider": "app"}, "fly": fly,
                      "host": instance_id[-4:], "log": {"level": "error" if stream == "stderr" else "info"},
                      "message": text,
                      "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%09dZ" % int(now % 1 * 1e9)}
            publisher.publish(subject, json.dumps(record))

        stop = threading.Event()
        with self.lock:
            previous = self.followers.pop(container, None)
            if previous:
                previous.set()
            self.followers[container] = stop
        threading.Thread(target=follow_container, args=(self.socket_path, container, on_line, stop),
                         name="logs-%s" % machine_id, daemon=True).start()

    def unfollow(self, container):
        with self.lock:
            stop = self.followers.pop(container, None)
        if stop:
            stop.set()

    def close(self):
        with self.lock:
            for stop in self.followers.values():
                stop.set()
            self.followers.clear()
            for process, publisher in self.servers.values():
                with publisher.lock:
                    publisher.close_locked()
                process.terminate()
            for process, dummy in self.servers.values():
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.servers.clear()
