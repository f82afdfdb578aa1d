"""Emulator of the Fly.io Machines API (https://api.machines.dev/v1)."""
