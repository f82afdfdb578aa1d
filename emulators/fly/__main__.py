"""Serve the Fly Machines API emulator: python -m emulators.fly --port 4280 --data-dir DIR --token T
[--backend docker --stack S] (machines as containers: docker_backend.py)."""

from emulators.common.cli import main
from emulators.fly.service import FlyService

if __name__ == "__main__":
    main(FlyService, "fly", 4280, setting_flags={
        "transition_seconds": "how long each transient machine state (starting, stopping, ...) lasts; default 0.2",
        "proxy_autostop_seconds": "with --backend docker: how long a machine may go without a connection "
                                  "before the proxy stops it (autostop); default 5"})
