"""emulators/stack.py without starting anything: the state directory it keeps is the one the lookup
sophia.ops.local_stack reads, ports are refused or picked as the command line promises, and the
command line's argument errors."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from ansible_collections.sophia.ops.plugins.lookup import local_stack
from emulators import stack


@pytest.fixture
def state(tmp_path, monkeypatch):
    for variable in ("SOPHIA_STACK", "SOPHIA_LOCAL_BACKEND", "FLY_API_URL", "LAMBDA_API_URL", "FLY_EMULATOR_PORT",
                     "LAMBDA_EMULATOR_PORT", "SOPHIA_POSTGRES_PORT", "SOPHIA_REDIS_PORT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SOPHIA_EMULATOR_DIR", str(tmp_path))
    return tmp_path


def local(state, **env):
    return stack.LocalStack(dict(os.environ, SOPHIA_EMULATOR_DIR=str(state), **env), say=lambda message: None)


def test_the_stack_is_named_as_the_lookup_names_it(state):
    assert local(state).stack == local_stack.stack()
    assert local(state, SOPHIA_STACK="mine").stack == "mine"


def test_the_ports_written_are_the_ones_the_lookup_and_env_give(state):
    # Free ports, though nothing listens here: only the numbers go through the files.
    ports = {name: stack.free_port() for name in ("fly", "lambda", "postgres", "redis")}
    for name, port in ports.items():
        (state / ("%s.port" % name)).write_text("%d\n" % port)
    fly_url, lambda_url = "http://127.0.0.1:%d/v1" % ports["fly"], "http://127.0.0.1:%d/api/v1" % ports["lambda"]
    assert local(state).env_lines(["fly", "lambda", "postgres", "redis"]) == [
        "export FLY_API_URL=" + fly_url,
        "export LAMBDA_API_URL=" + lambda_url,
        "export SOPHIA_POSTGRES_HOST=127.0.0.1 SOPHIA_POSTGRES_PORT=%d" % ports["postgres"],
        "export SOPHIA_REDIS_HOST=127.0.0.1 SOPHIA_REDIS_PORT=%d" % ports["redis"],
    ]
    assert local_stack.VALUES["fly_api_url"]() == fly_url
    assert local_stack.VALUES["lambda_api_url"]() == lambda_url
    written = (local_stack.VALUES["postgres_port"](), local_stack.VALUES["redis_port"]())
    assert written == (ports["postgres"], ports["redis"])


def test_a_stand_in_without_a_port_file_is_left_out_of_env(state):
    port = stack.free_port()
    (state / "fly.port").write_text("%d\n" % port)
    assert local(state).env_lines(["fly", "lambda"]) == ["export FLY_API_URL=http://127.0.0.1:%d/v1" % port]


def test_the_backend_chosen_at_start_is_kept_for_the_commands_after(state):
    (state / "backend").write_text("docker\n")
    assert local(state).backend == "docker" == local_stack.VALUES["backend"]()
    assert local(state, SOPHIA_LOCAL_BACKEND="record").backend == "record"


def test_a_pid_file_whose_process_is_not_the_emulator_is_not_running(state):
    (state / "fly.pid").write_text("%d\n" % os.getpid())  # alive, but pytest, not emulators.fly
    assert local(state).status_one("fly") == "fly: stopped"
    assert local(state).status_one("lambda") == "lambda: stopped"


def test_a_held_port_is_refused_naming_the_variable_and_the_holder(state):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(stack.StackError) as refused:
            local(state).choose_port("redis", port)
    message = str(refused.value)
    assert "port %d" % port in message and "already taken" in message
    assert "SOPHIA_REDIS_PORT" in message and "pid %d" % os.getpid() in message


def test_port_zero_picks_a_free_port(state):
    port = local(state).choose_port("fly", 0)
    assert port > 0 and stack.port_is_free(port)


def test_the_emulator_command_line_is_the_one_emulators_take():
    port = stack.free_port()  # nothing starts: only the command line is read
    emulator = stack.Emulator("lambda_cloud", "/tmp/data", "key", port=port, extra_args=["--boot-seconds", "0.1"])
    assert emulator.base_url == "http://127.0.0.1:%d" % port
    assert emulator.command() == [sys.executable, "-m", "emulators.lambda_cloud", "--host", "127.0.0.1", "--port",
                                  str(port), "--data-dir", "/tmp/data", "--token", "key", "--boot-seconds", "0.1"]
    assert emulator.log_path == "/tmp/data/lambda_cloud.log"
    assert stack.Emulator("fly", "/tmp/data", "t").port > 0  # a free one when none is given


@pytest.mark.parametrize("argv, env, message", [
    ([], {}, "usage:"),
    (["start", "weaviate"], {}, "unknown service: weaviate"),
    (["start"], {"SOPHIA_LOCAL_BACKEND": "podman"}, "must be record or docker, not podman"),
    (["launch"], {}, "usage:"),
])
def test_argument_errors_exit_2_saying_why(state, capsys, argv, env, message):
    assert stack.main(argv, dict(os.environ, **env)) == 2
    assert message in capsys.readouterr().err
