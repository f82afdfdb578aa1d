"""Plumbing shared by the emulators: HTTP serving, state, faults, rate limits, request log."""
