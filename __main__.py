"""Pulumi entry point: only wiring. See components/program.py."""

from pathlib import Path

import pulumi

from components.program import declare_stack

# An entry point to await (see declare_stack for why); its outputs are the stack's exports.
pulumi.run(lambda: declare_stack(Path(__file__).resolve().parent))
