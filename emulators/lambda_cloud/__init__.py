"""Emulator of the Lambda Cloud API (https://cloud.lambda.ai/api/v1)."""
