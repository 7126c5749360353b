"""Runs this project's program under the real Pulumi engine (the Automation API)."""
