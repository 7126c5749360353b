"""Reading a container command that starts its server under prlimit(1) (container_spec.py)."""

from __future__ import annotations


def under_prlimit(command: list[str]) -> tuple[int, list[str]]:
    """(The nproc limit, the server's own command) of `prlimit --nproc=N:N -- COMMAND...`."""
    assert command[0] == "prlimit" and command[2] == "--", command
    option, _, limits = command[1].partition("=")
    soft, _, hard = limits.partition(":")
    assert option == "--nproc" and soft == hard, command
    return int(soft), command[3:]
