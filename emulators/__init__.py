"""Local, faithful emulators of the cloud APIs sophia-ops drives (tests and local runs)."""
