"""Serve the Fly Machines API emulator: python -m emulators.fly --port 4280 --data-dir DIR --token T."""

from emulators.common.cli import main
from emulators.fly.service import FlyService

if __name__ == "__main__":
    main(FlyService, "fly", 4280, setting_flags={
        "transition_seconds": "how long each transient machine state (starting, stopping, ...) lasts; default 0.2"})
