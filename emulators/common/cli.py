"""The command line every emulator shares: python -m emulators.<name> --port P --data-dir D --token T."""

from __future__ import annotations

import argparse
import signal

from emulators.common.server import serve
from emulators.common.store import Store


def interrupted(signum, frame):
    raise KeyboardInterrupt  # serve() ends on it, as on Ctrl-C


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
    parser.add_argument("--backend", choices=("record", "docker"), default="record",
                        help="record: resources are records only (the default); docker: they run as containers")
    parser.add_argument("--stack", help="with --backend docker: the name (and sophia.stack label) of every "
                                        "Docker object made")
    for setting, help_text in (setting_flags or {}).items():
        parser.add_argument("--" + setting.replace("_", "-"), dest=setting, type=float, help=help_text)
    args = parser.parse_args(argv)

    service = service_class(Store(args.data_dir), args.token, capture_path=args.capture_file)
    if args.backend == "docker":
        if not args.stack:
            parser.error("--backend docker needs --stack NAME")
        if not hasattr(service, "use_docker"):
            parser.error("the %s emulator has no Docker backend" % name)
        service.use_docker(args.stack, args.data_dir)
        # A terminated emulator lets its backend clean up (listeners, addresses) on the way out.
        signal.signal(signal.SIGTERM, interrupted)
    service.start_with({setting: getattr(args, setting) for setting in setting_flags or {}
                        if getattr(args, setting) is not None})
    print("%s emulator on http://%s:%d%s" % (name, args.host, args.port, service.prefix), flush=True)
    try:
        serve(service, args.host, args.port)
    finally:
        if hasattr(service, "close"):
            service.close()
