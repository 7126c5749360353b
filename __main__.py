"""Pulumi entry point: only wiring. See components/program.py."""

from pathlib import Path

import pulumi

from components.program import run

for key, value in run(Path(__file__).resolve().parent).items():
    pulumi.export(key, value)
