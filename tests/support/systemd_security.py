"""Reads `systemd-analyze security`'s verdict: the overall exposure of a unit (0 to 10).

Its JSON form (`--json=short`) lists each setting with its weight but not the total, so the
total is read from the table's last line, "→ Overall exposure level for UNIT: 1.4 OK 🙂".
https://www.freedesktop.org/software/systemd/man/latest/systemd-analyze.html#systemd-analyze%20security%20%5BUNIT...%5D
"""

from __future__ import annotations

import re

# The bar (systemd calls 2.0-4.9 "OK"; the stack's units were 6.0-6.2, "MEDIUM").
MAX_EXPOSURE = 2.5
_OVERALL = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?) ")


def overall_exposure(table: str) -> dict[str, float]:
    """Each unit's overall exposure in the output of `systemd-analyze security UNIT...`."""
    scores = {m.group(1): float(m.group(2)) for m in _OVERALL.finditer(table)}
    if not scores:
        raise ValueError(f"no overall exposure in systemd-analyze's output: {table[-500:]!r}")
    return scores
