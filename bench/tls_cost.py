"""The TLS cost: HTTPS against plain HTTP through the same proxy, as a ratio per proxy.

Pure functions of the results. The TLS variant (bench/plan.py) deploys one pair per proxy
with `tls.mode: self-signed` and loads one minimal view over HTTP and then over HTTPS on that
one stack, with keep-alive (wrk's default: the handshake is paid once per connection, every
request pays the record encryption), the same runs, medians and rejections as every other
cell. Its results have a section of their own in docs/benchmarks.md (`bench:tls`), so a run
of the TLS variant alone does not overwrite the other figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.fmt import (
    deployment_line,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    machine_lines,
    source_line,
)
from bench.plan import TLS_SCENARIO, CellKey, Target, Variant
from bench.stats import CellSummary, Results, ratio


def is_tls_cell(key: CellKey) -> bool:
    return key.variant == Variant.TLS.value


def _cell(results: Results, *, pair: str, target: Target) -> tuple[int, CellSummary] | None:
    for key, summary in results.items():
        if is_tls_cell(key) and key.pair == pair and key.target == target.value:
            return key.connections, summary
    return None


def _rate(found: tuple[int, CellSummary] | None) -> float | None:
    return found[1].requests_per_s if found and found[1].measured else None


def tls_pairs_measured(results: Results, pairs: Sequence[str]) -> list[str]:
    """The pairs with TLS cells, in the plan's order."""
    measured = {k.pair for k in results if is_tls_cell(k)}
    return [p for p in pairs if p in measured]


def tls_cost_table(results: Results, *, pairs: Sequence[str]) -> str:
    """Per TLS pair: req/s, p50, p99 and the proxy's cores over HTTP and HTTPS; the ratio."""
    rows = []
    for pair in tls_pairs_measured(results, pairs):
        http = _cell(results, pair=pair, target=Target.PROXY)
        https = _cell(results, pair=pair, target=Target.PROXY_TLS)
        row = [pair, str((http or https or (0,))[0])]
        # A cell that ran and had every run rejected, or one that never ran (n/a).
        row += [
            fmt_rate(_rate(c)) if _rate(c) is not None else ("rejected" if c else "n/a")
            for c in (http, https)
        ]
        row.append(fmt_ratio(ratio(_rate(https), _rate(http))))
        for field in ("p50_ms", "p99_ms"):
            row += [fmt_ms(getattr(c[1], field) if c else None) for c in (http, https)]
        row += [
            f"{c[1].cpu.get('proxy', 0.0):.2f}" if c and c[1].measured else "n/a"
            for c in (http, https)
        ]
        rows.append(row)
    headers = [
        "pair",
        "conns",
        "HTTP req/s",
        "HTTPS req/s",
        "HTTPS / HTTP",
        "p50 HTTP",
        "p50 HTTPS",
        "p99 HTTP",
        "p99 HTTPS",
        "proxy cores HTTP",
        "proxy cores HTTPS",
    ]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("| " + " | ".join(["---"] + ["---:"] * (len(headers) - 1)) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_tls_section(
    *, meta: Mapping[str, Any], results: Results, rejected: Sequence[str]
) -> str:
    """The block docs/benchmarks.md holds between the tls markers."""
    plan = meta["plan"]
    tls_results = {k: v for k, v in results.items() if is_tls_cell(k)}
    lines = [
        f"Run on {meta['date']}, took {fmt_seconds(meta.get('elapsed_s'))}:",
        "",
        f"    {meta['command']}",
        "",
        *machine_lines(meta["machine"]),
        source_line(meta.get("source", {})),
        deployment_line(meta),
        f"- {plan['runs']} runs of {plan['duration_s']:g} s after a {plan['warmup_s']:g} s "
        f"warm-up per cell, median shown; {TLS_SCENARIO.title}, HTTP on the proxy's port "
        "8080, then HTTPS on its port 8443, on the same stack.",
        f"- Load generator: {meta.get('client', '?')}.",
    ]
    if meta.get("foreign_cpu_max") is not None:
        lines.append(
            f"- Other work during the measured runs: other containers and image builds used "
            f"median {meta.get('foreign_cpu_median', 0):.2f}, max {meta['foreign_cpu_max']:.2f} "
            "cores."
        )
    lines += ["", tls_cost_table(tls_results, pairs=plan["pairs"]), "", "Rejected runs:", ""]
    lines += [f"- {line}" for line in rejected] or ["None."]
    return "\n".join(lines).rstrip() + "\n"
