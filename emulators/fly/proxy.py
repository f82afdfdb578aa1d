"""Fly's proxy, in small, for the Docker backend (docker_backend.py).

For each app, each ``config.services[].ports[].port`` of its machines gets one listener on
``127.0.0.1:<free port>`` (the app's public address) and, when the app has a ``private_v6`` (flycast)
assignment, one on an IPv4 address of its organisation's network bridge, the port as configured
(machines find it as ``<app>.flycast``). Each connection goes to one of the app's started, uncordoned
machines of that service, the one with the fewest connections in flight.

- autostart: when every started machine is at its ``concurrency.soft_limit`` (or none is started) and a
  stopped or suspended machine of the service may be autostarted, it is started the way the API starts it
  (its record, an event from ``flyd``) and the connection goes there once its port answers (bounded wait).
- autostop (``autostop`` stop/suspend): a started machine with nothing in flight and no connection for
  ``proxy_autostop_seconds`` (an emulator setting; Fly's period is minutes) is stopped or suspended,
  never leaving fewer than ``min_machines_running`` started.

What it leaves out (docs/emulator-spec-deviations.md): TLS and the http handler (bytes are passed through as
they come, so balancing is per connection, not per request), port ranges, hard limits, regions.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import subprocess
import threading
import time

from emulators.fly.lifecycle import STARTABLE, entered_at, now, state_at

TICK_SECONDS = 0.5
# How long a connection waits for an autostarted machine's port, and for any upstream connect.
AUTOSTART_WAIT_SECONDS = 20.0
CONNECT_SECONDS = 5.0
IDLE_SECONDS = 300.0
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def service_for(machine, port):
    """The machine's service that publishes ``port``, or None."""
    for service in machine["config"].get("services") or []:
        if any(entry.get("port") == port for entry in service.get("ports") or []):
            return service
    return None


def subnet_of(network):
    """The Docker network's IPv4 subnet (an ipaddress network), or None."""
    for config in (network.get("IPAM") or {}).get("Config") or []:
        try:
            subnet = ipaddress.ip_network(config.get("Subnet") or "", strict=False)
        except ValueError:
            continue
        if subnet.version == 4:
            return subnet
    return None


def autostop_mode(service):
    mode = service.get("autostop")
    if mode is True:
        return "stop"
    return mode if mode in ("stop", "suspend") else None


class Listener:
    """One listening socket; each accepted connection is handed to ``handle`` on a thread of its own."""

    def __init__(self, host, port, handle):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(256)
        self.address = "%s:%d" % self.sock.getsockname()
        self.handle = handle
        self.closed = False
        threading.Thread(target=self.accept_loop, name="proxy-%s" % self.address, daemon=True).start()

    def accept_loop(self):
        while not self.closed:
            try:
                client, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def pump(client, upstream):
    """Pass bytes both ways until both sides have closed (or nothing moved for IDLE_SECONDS)."""
    open_ends = {client: upstream, upstream: client}
    while open_ends:
        readable, dummy, dummy = select.select(list(open_ends), [], [], IDLE_SECONDS)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            target = open_ends[source]
            if data:
                try:
                    target.sendall(data)
                    continue
                except OSError:
                    return
            del open_ends[source]  # this side is done sending: pass the half-close on
            try:
                target.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class Proxy:
    def __init__(self, service, backend):
        self.service = service
        self.backend = backend
        self.lock = threading.Lock()
        self.listeners = {}  # (app, "public" | "flycast", port) -> Listener
        self.flycast = {}  # app -> (address, bridge device, org)
        self.in_flight = {}  # machine id -> connections open
        self.last_seen = {}  # machine id -> when its last connection came (epoch seconds)
        self.stopped = threading.Event()

    # --- the loop: listeners follow the records; autostop -------------------------------------------
    def loop(self):
        while not self.stopped.wait(TICK_SECONDS):
            try:
                self.refresh()
                self.autostop()
            except Exception as error:  # the proxy keeps serving whatever one tick ran into
                print("fly proxy: %r" % (error,), flush=True)

    def refresh(self):
        wanted = {}  # (app, kind, port) -> host
        with self.service.lock:
            for app in self.service.store.list("app"):
                ports = set()
                for machine in self.service.live_machines(app["name"]):
                    for service in machine["config"].get("services") or []:
                        ports.update(entry["port"] for entry in service.get("ports") or [] if entry.get("port"))
                kinds = {ip.get("type") for ip in self.service.store.list("ip", app["name"])}
                flycast = "private_v6" in kinds
                # Only an app with a public address answers from outside (Fly's proxy at its edge).
                public = bool(kinds & {"v4", "shared_v4", "v6"})
                address = self.ensure_flycast(app["name"], app["org_slug"]) if flycast else None
                if not flycast:
                    self.drop_flycast(app["name"])
                for port in ports:
                    if public:
                        wanted[(app["name"], "public", port)] = "127.0.0.1"
                    if address:
                        wanted[(app["name"], "flycast", port)] = address
        with self.lock:
            for key in [key for key in self.listeners if key not in wanted]:
                self.listeners.pop(key).close()
            missing = [(key, host) for key, host in wanted.items() if key not in self.listeners]
        for (app_name, kind, port), host in missing:
            try:
                listener = Listener(host, 0 if kind == "public" else port,
                                    lambda client, a=app_name, p=port: self.handle(a, p, client))
            except OSError as error:
                print("fly proxy: cannot listen for %s on %s:%s: %s" % (app_name, host, port, error), flush=True)
                continue
            with self.lock:
                if (app_name, kind, port) in self.listeners:
                    listener.close()
                else:
                    self.listeners[(app_name, kind, port)] = listener

    def view(self):
        self.refresh()
        apps = {}
        with self.lock:
            for (app_name, kind, port), listener in sorted(self.listeners.items()):
                entry = apps.setdefault(app_name, {"public": {}, "flycast": {}})
                entry[kind][str(port)] = listener.address
        return {"apps": apps}

    # --- flycast addresses ----------------------------------------------------------------------------
    def ensure_flycast(self, app_name, org_slug):
        """The app's flycast address: an IPv4 address from the top of its org network's subnet, added to
        the network's bridge on the host side, so that machines reach this proxy there."""
        with self.lock:
            if app_name in self.flycast:
                return self.flycast[app_name][0]
        network = self.backend.org_network(org_slug)
        subnet = subnet_of(network)
        if subnet is None:
            return None
        bridge = "br-" + network["Id"][:12]
        with self.lock:
            taken = {entry[0] for entry in self.flycast.values()}
        taken.update(container.get("IPv4Address", "").split("/")[0]
                     for container in (network.get("Containers") or {}).values())
        address = None
        for offset in range(2, 64):  # from the top of the subnet down, past the broadcast address
            candidate = str(subnet.broadcast_address - offset + 1)
            if candidate not in taken and ipaddress.ip_address(candidate) in subnet:
                address = candidate
                break
        if address is None:
            return None
        done = subprocess.run(["ip", "addr", "add", address + "/32", "dev", bridge], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0 and "File exists" not in done.stderr:
            print("fly proxy: cannot add flycast address %s to %s: %s" % (address, bridge, done.stderr.strip()),
                  flush=True)
            return None
        with self.lock:
            self.flycast[app_name] = (address, bridge, org_slug)
        return address

    def flycast_hosts(self, org_slug):
        """``{"<app>.flycast": address}`` for the org's apps with a flycast assignment (for /etc/hosts)."""
        hosts = {}
        for app in self.service.org_apps(org_slug):
            if any(ip.get("type") == "private_v6" for ip in self.service.store.list("ip", app["name"])):
                address = self.ensure_flycast(app["name"], org_slug)
                if address:
                    hosts["%s.flycast" % app["name"]] = address
        return hosts

    def drop_flycast(self, app_name):
        with self.lock:
            entry = self.flycast.pop(app_name, None)
            for key in [key for key in self.listeners if key[0] == app_name and key[1] == "flycast"]:
                self.listeners.pop(key).close()
        if entry:
            subprocess.run(["ip", "addr", "del", entry[0] + "/32", "dev", entry[1]], capture_output=True, check=False)

    def forget_app(self, app_name):
        self.drop_flycast(app_name)
        with self.lock:
            for key in [key for key in self.listeners if key[0] == app_name]:
                self.listeners.pop(key).close()

    def reset(self):
        for app_name in list(self.flycast):
            self.drop_flycast(app_name)
        with self.lock:
            for listener in self.listeners.values():
                listener.close()
            self.listeners.clear()
            self.in_flight.clear()
            self.last_seen.clear()

    def close(self):
        self.stopped.set()
        self.reset()

    # --- a connection -----------------------------------------------------------------------------------
    def handle(self, app_name, port, client):
        chosen = None
        try:
            chosen, address, internal_port, fresh = self.pick(app_name, port)
            if chosen is None:
                client.sendall(UNAVAILABLE)
                return
            upstream = self.connect(address, internal_port, AUTOSTART_WAIT_SECONDS if fresh else CONNECT_SECONDS)
            if upstream is None:
                client.sendall(BAD_GATEWAY)
                return
            with upstream:
                pump(client, upstream)
        except OSError:
            pass
        finally:
            if chosen is not None:
                with self.lock:
                    self.in_flight[chosen] = max(0, self.in_flight.get(chosen, 1) - 1)
                    self.last_seen[chosen] = now()
            client.close()

    @staticmethod
    def connect(address, port, wait_seconds):
        """A connection to the machine's port, retried until it answers or ``wait_seconds`` pass."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return socket.create_connection((address, port), timeout=CONNECT_SECONDS)
            except OSError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.1)

    def pick(self, app_name, port):
        """(machine id, address, internal port, started just now) for a new connection, or Nones."""
        with self.service.lock:
            machines = [m for m in self.service.live_machines(app_name)
                        if service_for(m, port) is not None and not m.get("cordoned")]
            started = [m for m in machines if state_at(m) == "started"]
            with self.lock:
                # Fewest in flight first; among equals the one used least recently, so that even
                # one connection at a time spreads over the machines.
                load = {m["id"]: (self.in_flight.get(m["id"], 0), self.last_seen.get(m["id"], 0)) for m in machines}

            def has_room(machine):
                soft = (service_for(machine, port).get("concurrency") or {}).get("soft_limit")
                return not soft or load[machine["id"]][0] < soft

            roomy = [m for m in started if has_room(m)]
            fresh = False
            if roomy:
                chosen = min(roomy, key=lambda m: load[m["id"]])
            else:
                sleeping = [m for m in machines if state_at(m) in ("stopped", "suspended")
                            and service_for(m, port).get("autostart", True) is not False
                            and not m["config"].get("disable_machine_autostart")]
                if sleeping:
                    chosen = sleeping[0]
                    self.start(chosen)
                    fresh = state_at(chosen) == "started"
                    if not fresh:
                        chosen = min(started, key=lambda m: load[m["id"]]) if started else None
                else:
                    chosen = min(started, key=lambda m: load[m["id"]]) if started else None
            if chosen is None:
                return None, None, None, False
            with self.lock:
                self.in_flight[chosen["id"]] = self.in_flight.get(chosen["id"], 0) + 1
                self.last_seen[chosen["id"]] = now()
            address = self.backend.address(chosen)
            internal_port = service_for(chosen, port).get("internal_port") or port
        return chosen["id"], address, internal_port, fresh

    # --- starting and stopping, the way the API does ------------------------------------------------------
    def start(self, machine):
        """Start a stopped or suspended machine as the start endpoint does (called under the service lock)."""
        state = state_at(machine)
        if state not in STARTABLE:
            return
        machine["timeline"] = self.backend.start(machine)
        self.service.event(machine, "start", state_at(machine), "flyd")
        self.service.save_machine(machine)

    def autostop(self):
        period = float(self.service.settings.get("proxy_autostop_seconds") or 5)
        at = now()
        with self.service.lock:
            for app in self.service.store.list("app"):
                groups = {}  # one group per service (its ports), as the proxy counts min_machines_running
                for machine in self.service.live_machines(app["name"]):
                    for service in machine["config"].get("services") or []:
                        ports = tuple(sorted(entry.get("port") or 0 for entry in service.get("ports") or []))
                        groups.setdefault(ports, []).append((machine, service))
                for members in groups.values():
                    self.stop_idle(members, period, at)

    def stop_idle(self, members, period, at):
        started = [(m, s) for m, s in members if state_at(m, at) == "started" and not m.get("cordoned")]
        keep = max(int(s.get("min_machines_running") or 0) for dummy, s in members) if members else 0
        excess = len(started) - keep
        if excess <= 0:
            return
        with self.lock:
            idle = []
            for machine, service in started:
                if not autostop_mode(service) or self.in_flight.get(machine["id"], 0):
                    continue
                active = max(self.last_seen.get(machine["id"], 0), entered_at(machine, "started") or 0)
                if at - active >= period:
                    idle.append((active, machine, service))
        for dummy, machine, service in sorted(idle, key=lambda item: item[0])[:excess]:
            mode = autostop_mode(service)
            machine["timeline"] = getattr(self.backend, mode)(machine)
            self.service.event(machine, mode, state_at(machine), "flyd")
            self.service.save_machine(machine)
