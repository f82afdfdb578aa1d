"""Serve the Fly Machines API emulator: python -m emulators.fly --port 4280 --data-dir DIR."""

from __future__ import annotations

import argparse

from emulators.common.server import serve
from emulators.common.store import Store
from emulators.fly.service import FlyService


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulators.fly", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4280)
    parser.add_argument("--data-dir", required=True, help="where the state (SQLite) is kept")
    parser.add_argument("--token", required=True, help="the API token clients must present")
    parser.add_argument("--transition-seconds", type=float,
                        help="how long each transient machine state lasts (default 0.2)")
    parser.add_argument("--capture-file", help="append every /v1 answer, whole, to this JSONL file")
    args = parser.parse_args(argv)

    service = FlyService(Store(args.data_dir), args.token, capture_path=args.capture_file)
    if args.transition_seconds is not None:
        service.settings["transition_seconds"] = args.transition_seconds
        service.apply_settings()
    print("fly emulator on http://%s:%d/v1" % (args.host, args.port), flush=True)
    serve(service, args.host, args.port)


if __name__ == "__main__":
    main()
