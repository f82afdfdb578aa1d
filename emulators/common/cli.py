"""The command line every emulator shares: python -m emulators.<name> --port P --data-dir D --token T."""

from __future__ import annotations

import argparse

from emulators.common.server import serve
from emulators.common.store import Store


def main(service_class, name, default_port, setting_flags=None, argv=None):
    """``setting_flags`` maps a numeric setting to its help text; each becomes a flag
    (``transition_seconds`` -> ``--transition-seconds``) whose value outlives resets."""
    parser = argparse.ArgumentParser(prog="python -m emulators.%s" % name,
                                     description="Serve the %s API emulator on 127.0.0.1." % name)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--data-dir", required=True, help="where the state (SQLite) is kept")
    parser.add_argument("--token", required=True, help="the API token clients must present")
    parser.add_argument("--capture-file", help="append every API answer, whole, to this JSONL file")
    for setting, help_text in (setting_flags or {}).items():
        parser.add_argument("--" + setting.replace("_", "-"), dest=setting, type=float, help=help_text)
    args = parser.parse_args(argv)

    service = service_class(Store(args.data_dir), args.token, capture_path=args.capture_file)
    service.start_with({setting: getattr(args, setting) for setting in setting_flags or {}
                        if getattr(args, setting) is not None})
    print("%s emulator on http://%s:%d%s" % (name, args.host, args.port, service.prefix), flush=True)
    serve(service, args.host, args.port)
