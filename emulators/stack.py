"""The one way to start the stand-ins, for the tests, the benchmark and the command line.

``Emulator`` is one API emulator process (``python -m emulators.<name>``) on a port of 127.0.0.1, free
unless given, waited for (bounded) until the socket answering is its own, and stopped. The tests and the
benchmark hold one per emulator they need.

The command line runs the local stack the ``local`` inventory points at: the Fly (4280) and Lambda
Cloud (4290) emulators and the loopback databases that stand in for Neon and Redis Cloud: PostgreSQL
(4232, database and user ``sophia``) and Redis (4279), their passwords read from the local vault::

    python -m emulators.stack start|stop|status|restart|env|destroy [fly|lambda|postgres|redis ...]

Where each one runs is kept in the state directory (SOPHIA_EMULATOR_DIR, else .cache/emulators):
``<name>.port`` and ``<name>.pid``, ``backend``, and with the Docker backend ``public-subnet``; the
lookup ``sophia.ops.local_stack`` reads them, and ``env`` prints them as shell assignments.
SOPHIA_LOCAL_BACKEND=docker runs every Fly machine and Lambda instance as a container and the databases
as containers of the stack (SOPHIA_STACK, else named after the state directory's real path), with a Loki
stand-in; ``destroy`` removes every Docker object of the stack. FLY_EMULATOR_PORT, LAMBDA_EMULATOR_PORT,
SOPHIA_POSTGRES_PORT and SOPHIA_REDIS_PORT move them; 0 takes a free port. A port another process holds
is refused, naming the variable. PYTHON is the interpreter the emulators run with.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMES = ("fly", "lambda", "postgres", "redis")
# name -> (package under emulators/, token variable, default token)
API_EMULATORS = {
    "fly": ("fly", "FLY_API_TOKEN", "local-dev-fly-token"),
    "lambda": ("lambda_cloud", "LAMBDA_API_KEY", "local-dev-lambda-key"),
}
PORT_VARIABLES = {"fly": "FLY_EMULATOR_PORT", "lambda": "LAMBDA_EMULATOR_PORT", "postgres": "SOPHIA_POSTGRES_PORT",
                  "redis": "SOPHIA_REDIS_PORT", "logsink": "SOPHIA_LOGSINK_PORT"}
DEFAULT_PORTS = {"fly": 4280, "lambda": 4290, "postgres": 4232, "redis": 4279, "logsink": 0}
# What a pid file's process runs when it is ours (a pid reused after a reboot is not).
COMMAND_LINES = {"fly": b"emulators.fly", "lambda": b"emulators.lambda_cloud", "redis": b"redis-server"}


class StackError(Exception):
    """A stand-in that could not be started or stopped; the message says what to do."""


class StartError(StackError, RuntimeError):
    """An emulator that exited or never answered on its own port."""


# --- ports on 127.0.0.1, read from the kernel's own tables (Linux only, like the rest of the stack) ----------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_inodes(port):
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def holds(pid, inodes):
    """True/False when pid's sockets can be read, None when they cannot (another user's process)."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except PermissionError:
        return None
    except OSError:  # gone: it holds nothing
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd))[8:-1] in inodes:  # "socket:[inode]"
                return True
        except OSError:
            pass
    return False


def holder(port):
    """Who listens on the port, for the message that refuses it."""
    inodes = listening_inodes(port)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and holds(int(entry), inodes):
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    cmd = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = "?"
            return "pid %s: %s" % (entry, " ".join(cmd.split())[:100])
    return "another process"


def port_is_free(port):
    # SO_REUSEADDR: a port in TIME_WAIT after our own restart is free; one with a listener is not.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not listening_inodes(port)  # a listener on another address of the same port counts too


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A zombie (exited, not yet reaped by its parent) is not alive either.
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def owns(pid, port):
    return alive(pid) and holds(pid, listening_inodes(port)) is not False


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            response.read()
    except OSError:
        return False
    return True


def stop_pid(pid, seconds=10):
    """SIGTERM, then a bounded wait, so that a start right after finds the port free."""
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)


# --- one emulator process ------------------------------------------------------------------------------------
class Emulator:
    """``python -m emulators.<name>`` on 127.0.0.1: ``port`` (a free one when not given), state in
    ``data_dir``, output appended to ``log_path``. ``token`` and ``extra_args`` may change before start."""

    def __init__(self, name, data_dir, token, port=None, extra_args=(), log_path=None, python=None, label=None):
        self.name = name
        self.module = "emulators." + name
        self.label = label or name
        self.token = token
        self.port = port or free_port()
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.data_dir = os.fspath(data_dir)
        self.log_path = os.fspath(log_path or os.path.join(self.data_dir, "%s.log" % name))
        self.extra_args = list(extra_args)
        self.python = python or sys.executable
        self.process = None

    def command(self):
        return [self.python, "-m", self.module, "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", self.data_dir, "--token", self.token] + self.extra_args

    def start(self, deadline_seconds=20, detach=False):
        """Started and answering; ``detach`` leaves it running in a session of its own (the command line)."""
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=detach)
        try:
            self._wait_healthy(deadline_seconds)
        except StartError:
            self.stop()
            raise
        return self

    def _wait_healthy(self, deadline_seconds):
        # Healthy is not enough: another process on the port would answer too (the health check once passed
        # on a stranger's server while ours had died). The answering socket must be our process's own.
        pid, url = self.process.pid, self.base_url + "/_emulator/health"
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartError("%s emulator (pid %d) exited during start-up; log: %s" % (self.label, pid, self.log_path))
            # The kernel's socket table is slow to read (tens of ms): read once something answers.
            if answers(url) and holds(pid, listening_inodes(self.port)) is not False and self.process.poll() is None:
                return
            time.sleep(0.1)
        raise StartError("%s emulator (pid %d) did not become healthy on port %d within %d s; log: %s"
                         % (self.label, pid, self.port, deadline_seconds, self.log_path))

    def log_tail(self, size=4000):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()[-size:]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --- the local stack -----------------------------------------------------------------------------------------
class LocalStack:
    """The stand-ins of the ``local`` inventory, as the command line runs them; ``say`` prints progress."""

    def __init__(self, env=None, say=print):
        self.env = dict(os.environ if env is None else env)
        self.say = say
        self.state_dir = Path(self.env.get("SOPHIA_EMULATOR_DIR") or REPO / ".cache" / "emulators")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.python = self.env.get("PYTHON") or sys.executable
        self.backend = self.env.get("SOPHIA_LOCAL_BACKEND") or self.read("backend") or "record"
        self.stack = self.env.get("SOPHIA_STACK") or \
            "sophia-" + hashlib.sha1(os.path.realpath(self.state_dir).encode()).hexdigest()[:10]
        self.public_network = self.stack + "-public"
        self.docker_checked = False

    # state files
    def path(self, name):
        return self.state_dir / name

    def read(self, name):
        try:
            return self.path(name).read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def write(self, name, value):
        self.path(name).write_text("%s\n" % value, encoding="utf-8")

    def remove(self, *names):
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def asked_port(self, name):
        return int(self.env.get(PORT_VARIABLES[name]) or DEFAULT_PORTS[name])

    def choose_port(self, name, port):
        """A free one for 0, else the one asked for, refused when another process holds it."""
        if port == 0:
            return free_port()
        if not port_is_free(port):
            raise StackError("%s: port %d on 127.0.0.1 is already taken (%s); set %s to a free port, or to 0 for any "
                             "free one" % (name, port, holder(port), PORT_VARIABLES[name]))
        return port

    def running(self, name):
        """The pid file's process is alive and is the program we start."""
        if name == "postgres":
            return self.pg_running()
        pid = self.read(name + ".pid")
        if not pid:
            return False
        try:
            os.kill(int(pid), 0)
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                return COMMAND_LINES[name] in handle.read()
        except (OSError, ValueError):
            return False

    @staticmethod
    def run(cmd, check=False, **kwargs):
        return subprocess.run(cmd, check=check, **kwargs)

    # --- the API emulators
    def start_emulator(self, name):
        package, token_variable, default_token = API_EMULATORS[name]
        args = []
        if self.backend == "docker":
            self.docker_ready()
            args = ["--backend", "docker", "--stack", self.stack]
            if name == "fly":
                # Fly's proxy stops a machine after minutes without traffic; half a minute keeps a local run
                # observable without stopping machines in the middle of a rollout.
                args += ["--proxy-autostop-seconds", self.env.get("FLY_PROXY_AUTOSTOP_SECONDS") or "30"]
        if self.running(name):
            self.say("%s emulator already running (pid %s)" % (name, self.read(name + ".pid")))
            return
        port = self.choose_port(name, self.asked_port(name))
        self.write(name + ".port", port)
        emulator = Emulator(package, self.state_dir / name, self.env.get(token_variable) or default_token, port=port,
                            extra_args=args, log_path=self.state_dir / (name + ".log"), python=self.python,
                            label=name)
        try:
            emulator.start(detach=True)
        except StartError:
            self.remove(name + ".port")
            raise
        self.write(name + ".pid", emulator.process.pid)
        self.say("%s emulator on http://127.0.0.1:%d (pid %d)" % (name, port, emulator.process.pid))

    def stop_emulator(self, name):
        if self.running(name):
            stop_pid(int(self.read(name + ".pid")))
            self.say("%s emulator stopped" % name)
        self.remove(name + ".pid", name + ".port")

    # --- a value of the local vault, decrypted with ansible's own vault code; never written to disk
    def vault_value(self, key):
        import yaml  # pylint: disable=import-outside-toplevel
        from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel

        password = subprocess.run([str(REPO / "scripts" / "vault-password-client"), "--vault-id", "local"],
                                  check=True, capture_output=True, text=True).stdout.strip()
        vault = VaultLib([("local", VaultSecret(password.encode()))])
        # SOPHIA_LOCAL_VAULT names another file encrypted with the local vault id (the secret scan's canaries).
        path = Path(self.env.get("SOPHIA_LOCAL_VAULT") or REPO / "vaults" / "local.yml")
        return str(yaml.safe_load(vault.decrypt(path.read_bytes()))[key])

    # --- PostgreSQL: initdb refuses root, so as root the cluster belongs to Debian's `postgres` user
    def pg_dir(self):
        return self.state_dir / "postgres"

    @staticmethod
    def pg_bin():
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                       key=lambda path: [int(part) if part.isdigit() else 0 for part in path.split("/")[-2].split(".")])
        if not found:
            raise StackError("no PostgreSQL under /usr/lib/postgresql: run scripts/system-packages")
        return found[-1]

    @staticmethod
    def as_root():
        return os.getuid() == 0

    def pg_owner(self):
        return "postgres" if self.as_root() else pwd.getpwuid(os.getuid()).pw_name

    def as_pg_owner(self, cmd):
        return ["runuser", "-u", "postgres", "--"] + cmd if self.as_root() else cmd

    def pg_running(self):
        if not (self.pg_dir() / "PG_VERSION").is_file():
            return False
        status = self.run(self.as_pg_owner([self.pg_bin() + "/pg_ctl", "status", "-D", str(self.pg_dir())]),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return status.returncode == 0

    def start_postgres(self):
        bin_dir, data, owner, log = self.pg_bin(), self.pg_dir(), self.pg_owner(), self.state_dir / "postgres.log"
        if self.pg_running():
            self.say("postgres already running (%s)" % data)
            return
        port = self.choose_port("postgres", self.asked_port("postgres"))
        self.write("postgres.port", port)
        if not (data / "PG_VERSION").is_file():
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            if self.as_root():
                shutil.chown(data, "postgres", "postgres")
                if self.run(self.as_pg_owner(["test", "-x", str(self.state_dir)])).returncode:
                    raise StackError("user postgres cannot reach %s" % self.state_dir)
            # Peer authentication on the socket (inside the data directory) for the owner only; passwords over TCP.
            with open(log, "ab") as out:
                self.run(self.as_pg_owner([bin_dir + "/initdb", "-D", str(data), "-U", owner, "-E", "UTF8", "--no-locale",
                                           "--auth-local=peer", "--auth-host=scram-sha-256"]),
                         stdout=out, stderr=subprocess.STDOUT)
        log.touch()
        if self.as_root():
            shutil.chown(log, "postgres", "postgres")
        started = self.run(self.as_pg_owner([
            bin_dir + "/pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-t", "30",
            "-o", "-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='%s'" % (port, data)]),
            stdout=subprocess.DEVNULL)
        if started.returncode:
            raise StackError("postgres did not start on port %d; log: %s" % (port, log))
        # pg_ctl waited for our own data directory's server; its postmaster must hold the TCP port too.
        postmaster = int((data / "postmaster.pid").read_text().splitlines()[0])
        if not owns(postmaster, port):
            raise StackError("postgres: port %d is not held by our server; set %s to a free port"
                             % (port, PORT_VARIABLES["postgres"]))
        # Role and database `sophia`; the password is set again on every start so the vault stays the truth.
        sql = "\n".join([
            r"\getenv password SOPHIA_PG_PASSWORD",
            r"SELECT 'CREATE ROLE sophia LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sophia') \gexec",
            "-- CREATEDB: the restore drill restores the latest dump into a scratch database (Neon's owner role may too).",
            "ALTER ROLE sophia LOGIN CREATEDB PASSWORD :'password';",
            r"SELECT 'CREATE DATABASE sophia OWNER sophia' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = "
            r"'sophia') \gexec", ""])
        env = dict(os.environ, SOPHIA_PG_PASSWORD=self.vault_value("vault_postgres_password"))
        done = self.run(self.as_pg_owner([bin_dir + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(data),
                                          "-p", str(port), "-U", owner, "-d", "postgres"]),
                        input=sql, text=True, env=env, stdout=subprocess.DEVNULL)
        if done.returncode:
            raise StackError("postgres: the role and database sophia could not be made; log: %s" % log)
        self.say("postgres on 127.0.0.1:%d (database sophia, user sophia; data %s)" % (port, data))

    def stop_postgres(self):
        if self.pg_running():
            self.run(self.as_pg_owner([self.pg_bin() + "/pg_ctl", "stop", "-D", str(self.pg_dir()), "-m", "fast",
                                       "-w", "-t", "30"]), stdout=subprocess.DEVNULL, check=True)
            self.say("postgres stopped")
        self.remove("postgres.port")

    # --- Redis: the configuration (requirepass) comes on stdin, so the password is in no file and no argv
    def start_redis(self):
        if self.running("redis"):
            self.say("redis already running (pid %s)" % self.read("redis.pid"))
            return
        port = self.choose_port("redis", self.asked_port("redis"))
        self.write("redis.port", port)
        (self.state_dir / "redis").mkdir(exist_ok=True)
        self.remove("redis.pid")
        log = self.state_dir / "redis.log"
        # Every byte escaped: the password may hold quotes or spaces.
        password = "".join("\\x%02x" % byte for byte in self.vault_value("vault_redis_password").encode())
        with open(log, "ab") as out:
            done = self.run(["redis-server", "-", "--bind", "127.0.0.1", "--port", str(port), "--dir",
                             str(self.state_dir / "redis"), "--appendonly", "no", "--daemonize", "yes", "--pidfile",
                             str(self.path("redis.pid")), "--logfile", str(log)],
                            input=('requirepass "%s"\n' % password).encode(), stdout=out, stderr=subprocess.STDOUT)
        if done.returncode:
            raise StackError("redis did not start on port %d; log: %s" % (port, log))
        for dummy in range(100):
            pid = self.read("redis.pid")
            if pid and owns(int(pid), port):
                break
            time.sleep(0.1)
        else:
            raise StackError("redis did not open port %d itself; log: %s" % (port, log))
        self.say("redis on 127.0.0.1:%d (data %s)" % (port, self.state_dir / "redis"))

    def stop_redis(self):
        if self.running("redis"):
            # Redis writes its snapshot on the way out: the bounded wait lets a restart find the port free.
            stop_pid(int(self.read("redis.pid")))
            self.remove("redis.pid")
            self.say("redis stopped")
        self.remove("redis.port")

    # --- Docker backend: PostgreSQL, Redis and the Loki stand-in as containers of the stack
    def docker(self, *args, **kwargs):
        return self.run(["docker"] + list(args), capture_output=True, text=True, **kwargs)

    def docker_ready(self):
        """The engine and the images, once per run."""
        if self.docker_checked:
            return
        for script in (["docker-engine"], ["images", "build"]):
            if self.run([str(REPO / "scripts" / script[0])] + script[1:]).returncode:
                raise StackError("scripts/%s failed" % " ".join(script))
        self.docker_checked = True

    def ensure_public_network(self):
        if self.docker("network", "inspect", self.public_network).returncode == 0:
            return
        made = self.docker("network", "create", "--label", "sophia.stack=" + self.stack, self.public_network)
        if made.returncode and self.docker("network", "inspect", self.public_network).returncode:  # another start made it
            raise StackError("docker network %s: %s" % (self.public_network, made.stderr.strip()))

    def public_subnet(self):
        found = self.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", self.public_network)
        return found.stdout.split()[0] if found.returncode == 0 and found.stdout.split() else ""

    def container_running(self, name):
        return self.docker("inspect", "-f", "{{.State.Running}}", "%s-%s" % (self.stack, name)).stdout.strip() == "true"

    def published_port(self, name, service_port):
        for line in self.docker("port", "%s-%s" % (self.stack, name), "%d/tcp" % service_port).stdout.splitlines():
            if line.startswith("127.0.0.1:"):
                return int(line.split(":", 1)[1])
        raise StackError("%s: docker published no port for %d" % (name, service_port))

    DATASTORES = {"postgres": (5432, "postgres.sophia.test"), "redis": (6379, "redis.sophia.test"),
                  "logsink": (3100, "logs.sophia.test")}

    def datastore_ready(self, name, port):
        container = "%s-%s" % (self.stack, name)
        if name == "postgres":
            return self.docker("exec", container, "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").returncode == 0
        if name == "logsink":
            return answers("http://127.0.0.1:%d/ready" % port)
        pong = self.docker("exec", container, "sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping')
        return "PONG" in pong.stdout

    def start_datastore(self, name):
        service_port, alias = self.DATASTORES[name]
        container = "%s-%s" % (self.stack, name)
        if self.container_running(name):
            self.say("%s already running (container %s)" % (name, container))
            return
        self.docker_ready()
        self.ensure_public_network()
        port = self.asked_port(name)
        if port:
            self.choose_port(name, port)
        self.docker("rm", "-f", container)  # a stopped one: the data is in its volume
        # Passwords reach the container through the environment by name only: never in argv or a file.
        env = dict(os.environ)
        if name == "postgres":
            env.update(POSTGRES_PASSWORD=self.vault_value("vault_postgres_password"), POSTGRES_USER="sophia",
                       POSTGRES_DB="sophia")
            options = ["-e", "POSTGRES_PASSWORD", "-e", "POSTGRES_USER", "-e", "POSTGRES_DB", "-v",
                       "%s-postgres-data:/var/lib/postgresql/data" % self.stack]
        elif name == "redis":
            env.update(REDIS_PASSWORD=self.vault_value("vault_redis_password"))
            options = ["-e", "REDIS_PASSWORD", "-v", "%s-redis-data:/data" % self.stack]
        else:  # the Loki stand-in the log shipper delivers to (a test fixture of images/standin)
            options = ["-e", "PORT=3100", "-v", "%s-logsink-data:/data" % self.stack]
        # The data volume carries the stack's label, so that destroy finds it with the rest.
        volume = "%s-%s-data" % (self.stack, name)
        if self.docker("volume", "inspect", volume).returncode:
            self.docker("volume", "create", "--label", "sophia.stack=" + self.stack, volume, check=True)
        image, command = "sophia-local/%s:latest" % name, []
        if name == "logsink":
            image, command = "sophia-local/standin:latest", ["python3", "/usr/local/bin/sophia_log_sink.py"]
        made = self.docker("run", "-d", "--name", container, "--label", "sophia.stack=" + self.stack, "--network",
                           self.public_network, "--network-alias", alias, "-p",
                           "127.0.0.1:%s:%d" % (port or "", service_port), *options, image, *command, env=env)
        if made.returncode:
            raise StackError("%s: docker run failed: %s" % (name, made.stderr.strip()))
        port = self.published_port(name, service_port)
        self.write(name + ".port", port)
        for dummy in range(60):
            if self.datastore_ready(name, port):
                break
            time.sleep(0.5)
        else:
            raise StackError("%s did not answer within 30 s; docker logs %s" % (name, container))
        self.say("%s on 127.0.0.1:%d (container %s, %s on %s)" % (name, port, container, alias, self.public_network))

    def stop_datastore(self, name):
        if self.container_running(name):
            self.docker("stop", "-t", "30", "%s-%s" % (self.stack, name), check=True)
            self.say("%s stopped (container %s-%s kept with its data)" % (name, self.stack, name))
        self.remove(name + ".port")

    def destroy_docker(self):
        """Everything of the stack: containers (machines, instances, databases), volumes, networks."""
        label = "label=sophia.stack=" + self.stack
        # One container at a time: `docker rm` of many removes them side by side, and once (not reproduced) that
        # left the engine an endpoint on an org network with no container behind it, so the network stayed.
        for container in self.docker("ps", "-aq", "--filter", label).stdout.split():
            self.docker("rm", "-f", "-v", container, check=True)
        volumes = self.docker("volume", "ls", "-q", "--filter", label).stdout.split()
        if volumes:
            self.docker("volume", "rm", "-f", *volumes, check=True)
        networks = self.docker("network", "ls", "-q", "--filter", label).stdout.split()
        if networks and self.docker("network", "rm", *networks).returncode:
            raise StackError("a network of stack %s is held by an endpoint with no container: restarting the Docker "
                             "engine clears it, then run destroy again" % self.stack)
        shutil.rmtree(self.state_dir / "fly", ignore_errors=True)
        shutil.rmtree(self.state_dir / "lambda", ignore_errors=True)
        self.remove("backend")
        self.say("stack %s removed (containers, volumes, networks)" % self.stack)

    # --- one stand-in, whichever backend
    def act_on(self, verb, name):
        """``start`` or ``stop`` one stand-in: an API emulator, a container of the stack, or a local process."""
        if name in API_EMULATORS:
            getattr(self, verb + "_emulator")(name)
        elif self.backend == "docker":
            getattr(self, verb + "_datastore")(name)
        else:
            getattr(self, verb + "_" + name)()

    def status_one(self, name):
        port = self.read(name + ".port") or "?"
        if self.backend == "docker" and name not in API_EMULATORS:
            running = self.container_running(name)
            where = "container %s-%s" % (self.stack, name)
        else:
            running = self.running(name)
            where = "" if name == "postgres" else "pid " + self.read(name + ".pid")
        if not running:
            return "%s: stopped" % name
        return "%s: running (127.0.0.1:%s%s)" % (name, port, ", " + where if where else "")

    def env_lines(self, names):
        """Shell assignments that point inventories/local at the running stand-ins (make site evals them)."""
        lines = []
        templates = {"fly": "export FLY_API_URL=http://127.0.0.1:%s/v1",
                     "lambda": "export LAMBDA_API_URL=http://127.0.0.1:%s/api/v1",
                     "postgres": "export SOPHIA_POSTGRES_HOST=127.0.0.1 SOPHIA_POSTGRES_PORT=%s",
                     "redis": "export SOPHIA_REDIS_HOST=127.0.0.1 SOPHIA_REDIS_PORT=%s"}
        for name in names:
            port = self.read(name + ".port")
            if port:
                lines.append(templates[name] % port)
        if self.backend == "docker":
            # SSH to the GPU nodes arrives from the public network's gateway (Docker's port publishing), and the
            # monitoring app scrapes them from that network.
            lines.append("export SOPHIA_STACK=%s SOPHIA_LOCAL_BACKEND=docker" % self.stack)
            subnet = self.public_subnet()
            if subnet:
                lines.append("export LAMBDA_SSH_ALLOWED_CIDRS=127.0.0.1/32,%s SOPHIA_MONITORING_CIDRS=%s" % (subnet, subnet))
        return lines

    # --- the commands
    def start(self, names):
        # Records of the other backend describe machines that do not run here (or containers the records lack):
        # a switch starts the API emulators' state afresh (the databases keep theirs).
        previous = self.read("backend") or self.backend
        if previous != self.backend:
            quiet, self.say = self.say, lambda message: None
            try:
                for name in API_EMULATORS:
                    self.stop_emulator(name)
            finally:
                self.say = quiet
            for name in API_EMULATORS:
                shutil.rmtree(self.state_dir / name, ignore_errors=True)
            self.say("backend %s -> %s: the emulators' state starts afresh" % (previous, self.backend))
        self.write("backend", self.backend)
        for name in names:
            self.act_on("start", name)
        if self.backend == "docker":  # for the inventory (sophia.ops.local_stack): SSH and scrapes come from there
            self.start_datastore("logsink")
            self.ensure_public_network()
            self.write("public-subnet", self.public_subnet())

    def stop(self, names):
        for name in names:
            self.act_on("stop", name)
        if self.backend == "docker":
            self.stop_datastore("logsink")

    def restart(self, names):
        for name in names:
            self.act_on("stop", name)
        for name in names:
            self.act_on("start", name)

    def destroy(self, names):
        self.stop(names)
        if self.backend == "docker":
            self.destroy_docker()


USAGE = "usage: python -m emulators.stack start|stop|status|restart|env|destroy [fly|lambda|postgres|redis ...]"


def main(argv=None, env=None):
    argv = sys.argv[1:] if argv is None else argv
    env = dict(os.environ if env is None else env)
    command, names = (argv[0] if argv else ""), (argv[1:] or list(NAMES))
    # The backend is chosen at start and kept with the state, so stop/env/status act on what runs.
    if command == "start" and env.get("SOPHIA_LOCAL_BACKEND") not in (None, "", "record", "docker"):
        print("SOPHIA_LOCAL_BACKEND must be record or docker, not %s" % env["SOPHIA_LOCAL_BACKEND"], file=sys.stderr)
        return 2
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        print("unknown service: %s" % unknown[0], file=sys.stderr)
        return 2
    if command not in ("start", "stop", "status", "restart", "env", "destroy"):
        print(USAGE, file=sys.stderr)
        return 2
    stack = LocalStack(env, say=lambda message: print(message, flush=True))
    try:
        if command == "status":
            for name in names:
                print(stack.status_one(name))
        elif command == "env":
            for line in stack.env_lines(names):
                print(line)
        else:
            getattr(stack, command)(names)
    except (StackError, subprocess.CalledProcessError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
