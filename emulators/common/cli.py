"""The command line every emulator shares: python -m emulators.<name> --port P --data-dir D --token T."""

from __future__ import annotations

import argparse

from emulators.common.server import serve
from emulators.common.store import Store


def main(service_class, name, default_port, argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulators.%s" % name,
                                     description="Serve the %s API emulator on 127.0.0.1." % name)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--data-dir", required=True, help="where the state (SQLite) is kept")
    parser.add_argument("--token", required=True, help="the API token clients must present")
    parser.add_argument("--capture-file", help="append every API answer, whole, to this JSONL file")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=NUMBER",
                        help="start with a setting changed, e.g. transition_seconds=0.05")
    args = parser.parse_args(argv)

    service = service_class(Store(args.data_dir), args.token, capture_path=args.capture_file)
    for setting in args.setting:
        key, _sep, value = setting.partition("=")
        service.settings[key] = float(value)
    service.apply_settings()
    print("%s emulator on http://%s:%d%s" % (name, args.host, args.port, service.prefix), flush=True)
    serve(service, args.host, args.port)
