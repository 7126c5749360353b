"""The Pulumi CLI processes this benchmark started, and letting them end cleanly.

The Automation API runs `pulumi up` as a child process and waits for it; an interrupt
(Ctrl-C, or SIGTERM, which the benchmark turns into one) ends the wait, not the child. A
child still deploying would go on creating containers after the stack is taken down, and
hold the stack's lock, so `pulumi destroy` would fail. So before a take-down the benchmark
waits for its own CLI children to end. Ctrl-C at a terminal reaches them directly (the
same foreground process group); SIGTERM reaches only the benchmark, which hands it on as
one SIGINT: the CLI's graceful cancel, which lets the resource operations under way finish
and records them (a second SIGINT would abandon them).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CLI_NAME = "pulumi"


def parse_stat(stat: str) -> tuple[str, str, int]:
    """(command name, state, parent pid) of a /proc/<pid>/stat line (proc_pid_stat(5))."""
    # The command name (field 2, in parentheses) may hold spaces and parentheses itself.
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, fields[0], int(fields[1])


def own_cli_pids(parent: int | None = None) -> list[int]:
    """The pids of the running `pulumi` processes whose parent is `parent` (default: this
    one). Not the zombies: a child that has ended stays one until waited for, which the
    Automation API does not do once interrupted."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, state, ppid = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        if ppid == parent and name == CLI_NAME and state != "Z":
            found.append(int(entry.name))
    return found


def cancel_own_cli() -> None:
    """One SIGINT to each of this process's `pulumi` children, by pid."""
    for pid in own_cli_pids():
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def wait_for_own_cli(timeout_s: float = 120.0) -> list[int]:
    """Wait (bounded) until this process's `pulumi` children have ended; those left."""
    deadline = time.monotonic() + timeout_s
    left = own_cli_pids()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = own_cli_pids()
    return left
