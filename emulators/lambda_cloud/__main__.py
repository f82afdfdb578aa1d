"""Serve the Lambda Cloud API emulator: python -m emulators.lambda_cloud --port 4290 --data-dir DIR --token T.

``--backend docker --stack S`` boots every launched instance as a GPU-node container (docker_backend.py);
the default backend keeps instances as records only."""

from emulators.common.cli import main
from emulators.lambda_cloud.service import LambdaService

if __name__ == "__main__":
    main(LambdaService, "lambda_cloud", 4290, setting_flags={
        "boot_seconds": "how long an instance stays booting; default 1.0"})
