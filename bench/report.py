"""Markdown for the results: tables per scenario, ratios, goal verdicts, the machine.

Pure functions of the results; `docs/benchmarks.md` embeds their output between markers
(`replace_section`), so the hand-written analysis around it survives a re-run.
"""

from __future__ import annotations

import re
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
from bench.plan import MINIMAL, SCENARIOS, SLOW, CellKey, Target, Variant
from bench.stats import (
    CellSummary,
    Goal,
    Results,
    lookup,
    rate,
    ratio,
    slow_comparisons,
)

# CPU roles shown in the tables, in cores: the stack's parts, the load generator, the rest.
CPU_COLUMNS = (
    ("proxy", "proxy"),
    ("app", "app"),
    ("db", "db"),
    ("load", "wrk"),
    ("others", "other"),
)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: int = 0) -> str:
    """A GitHub table; the last `right` columns are right-aligned (numbers)."""
    align = ["---"] * (len(headers) - right) + ["---:"] * right
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _order(results: Results, pairs: Sequence[str]) -> list[CellKey]:
    variants = [v.value for v in Variant]
    targets = [t.value for t in Target]
    return sorted(
        results,
        key=lambda k: (
            pairs.index(k.pair) if k.pair in pairs else len(pairs),
            variants.index(k.variant),
            targets.index(k.target),
            k.connections,
        ),
    )


def _cpu(summary: CellSummary) -> str:
    return " / ".join(f"{summary.cpu.get(role, 0.0):.2f}" for role, _ in CPU_COLUMNS)


def _errors(summary: CellSummary) -> str:
    if summary.accepted == summary.runs:
        return "0"
    return f"**{summary.errors}** ({summary.runs - summary.accepted} of {summary.runs} rejected)"


def scenario_table(
    results: Results, *, scenario: str, pairs: Sequence[str], noise_cores: float | None = None
) -> str:
    """Every cell of one scenario: req/s, p50, p99, errors, and where the CPU went.

    A rate measured while other containers used more than `noise_cores` is marked `(noisy)`.
    """
    rows = []
    for key in _order(results, pairs):
        if key.scenario != scenario:
            continue
        s = results[key]
        rows.append(
            [
                key.pair,
                key.variant,
                key.target,
                str(key.connections),
                (fmt_rate(s.requests_per_s) if s.measured else "rejected")
                + (
                    " (noisy)"
                    if noise_cores is not None and s.cpu.get("foreign", 0.0) > noise_cores
                    else ""
                ),
                fmt_ms(s.p50_ms),
                fmt_ms(s.p99_ms),
                _errors(s),
                _cpu(s),
            ]
        )
    cpu_header = "CPU cores " + " / ".join(label for _, label in CPU_COLUMNS)
    headers = ["pair", "variant", "target", "conns", "req/s", "p50", "p99", "errors", cpu_header]
    return markdown_table(headers, rows, right=6)


def proxy_direct_table(results: Results, *, pairs: Sequence[str]) -> str:
    """Through the proxy / directly to one app server, for each view that has both."""
    points = sorted(
        {(k.scenario, k.connections) for k in results if k.target == Target.DIRECT.value},
        key=lambda p: (list(SCENARIOS).index(p[0]), p[1]),
    )
    rows = []
    for pair in pairs:
        for variant in Variant:
            cells = []
            for scenario, conns in points:
                common: dict[str, Any] = {
                    "pair": pair,
                    "variant": variant.value,
                    "scenario": scenario,
                }
                proxy = lookup(results, **common, target=Target.PROXY.value, connections=conns)
                direct = lookup(results, **common, target=Target.DIRECT.value, connections=conns)
                cells.append(fmt_ratio(ratio(rate(proxy), rate(direct))))
            if any(c != "n/a" for c in cells):
                rows.append([pair, variant.value, *cells])
    headers = ["pair", "variant", *(f"{s} @{c}" for s, c in points)]
    return markdown_table(headers, rows, right=len(points))


def tuned_defaults_table(results: Results, *, pairs: Sequence[str]) -> str:
    """Tuned / tutorial defaults, through the proxy, for every point measured in both."""
    points = sorted(
        {
            (k.scenario, k.connections)
            for k in results
            if k.target == Target.PROXY.value and k.variant == Variant.DEFAULTS.value
        },
        key=lambda p: (list(SCENARIOS).index(p[0]), p[1]),
    )
    rows = []
    for pair in pairs:
        cells = []
        for scenario, conns in points:
            common: dict[str, Any] = {
                "pair": pair,
                "scenario": scenario,
                "target": Target.PROXY.value,
                "connections": conns,
            }
            tuned = lookup(results, **common, variant=Variant.TUNED.value)
            defaults = lookup(results, **common, variant=Variant.DEFAULTS.value)
            cells.append(fmt_ratio(ratio(rate(tuned), rate(defaults))))
        if any(c != "n/a" for c in cells):
            rows.append([pair, *cells])
    headers = ["pair", *(f"{s} @{c}" for s, c in points)]
    return markdown_table(headers, rows, right=len(points))


def slow_clients_table(results: Results, *, pairs: Sequence[str]) -> str:
    """The normal load without and beside the slow clients, and what the slow clients got."""
    rows = []
    for c in slow_comparisons(results, pairs=pairs):
        beside = results[c.key]
        seen = beside.slow
        rows.append(
            [
                c.key.pair,
                c.key.variant,
                c.key.target,
                str(c.key.connections),
                fmt_rate(rate(c.without)),
                fmt_rate(rate(c.beside)) if beside.measured else "rejected",
                fmt_ratio(c.kept),
                # No request answered: wrk's percentiles are zeros, not latencies.
                fmt_ms(c.beside.p99_ms) if c.beside and c.beside.requests_per_s else "none",
                str(beside.errors),
                f"{seen.get('connections', 0):.0f}" if seen else "n/a",
                f"{seen.get('answers_started', 0):.0f}" if seen else "n/a",
                f"{seen.get('bytes_read', 0) / 1024:.0f}" if seen else "n/a",
            ]
        )
    headers = [
        "pair",
        "variant",
        "target",
        "conns",
        "req/s without",
        "req/s beside",
        "kept",
        "p99 beside",
        "wrk errors beside",
        "slow conns",
        "slow answers begun",
        "slow KB read",
    ]
    return markdown_table(headers, rows, right=8)


def verdict(goal: Goal) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[goal.met]


def goals_section(goals: Sequence[Goal]) -> str:
    """Each goal's verdict, then every point it was checked at."""
    parts = []
    for goal in goals:
        parts.append(f"- {goal.title}: {verdict(goal)}")
        for check in goal.checks:
            mark = {True: "met", False: "NOT met", None: "n/a"}[check.met]
            parts.append(
                f"  - {check.label}: {fmt_ratio(check.value)} "
                f"(need {'<' if check.expect_below else '>='} {check.threshold:g}x; "
                f"{check.detail}) - {mark}"
            )
    return "\n".join(parts)


def rejected_runs(raw_runs: Mapping[CellKey, Sequence[Any]]) -> list[str]:
    """One line per rejected run, saying why."""
    lines = []
    for key, runs in raw_runs.items():
        for index, run in enumerate(runs, 1):
            if run.rejection:
                lines.append(
                    f"{key.pair} {key.variant} {key.scenario} {key.target} "
                    f"@{key.connections}, run {index}: {run.rejection}"
                )
    return lines


def _fixed_connections(scenarios: Sequence[str]) -> str:
    """`; 32, 128 for wait`: the scenarios that run at their own counts (Scenario.connections)."""
    return "".join(
        f"; {', '.join(map(str, SCENARIOS[s].connections))} for {s}"
        for s in scenarios
        if s in SCENARIOS and SCENARIOS[s].connections
    )


def render_load_section(
    *,
    meta: Mapping[str, Any],
    results: Results,
    goals: Sequence[Goal],
    rejected: Sequence[str],
    chart: str | None,
) -> str:
    """The block docs/benchmarks.md holds between the load markers."""
    plan = meta["plan"]
    pairs = plan["pairs"]
    lines = [
        f"Run on {meta['date']}, took {fmt_seconds(meta.get('elapsed_s'))}:",
        "",
        f"    {meta['command']}",
        "",
        *machine_lines(meta["machine"]),
        source_line(meta.get("source", {})),
        deployment_line(meta),
        f"- Plan: pairs {', '.join(pairs)}; variants {', '.join(plan['variants'])}; "
        f"connections {', '.join(map(str, plan['connections']))} for "
        f"{', '.join(plan['sweep_scenarios'])}{_fixed_connections(plan['scenarios'])}, "
        f"{plan['headline']} for the rest; "
        f"{plan['runs']} runs of {plan['duration_s']:g} s after a {plan['warmup_s']:g} s "
        f"warm-up, median shown.",
        f"- Load generator: {meta.get('client', '?')}.",
    ]
    if meta.get("foreign_cpu_max") is not None:
        lines.append(
            f"- Other work during the measured runs: other containers and image builds used "
            f"median {meta.get('foreign_cpu_median', 0):.2f}, max {meta['foreign_cpu_max']:.2f} "
            f"cores; all CPU not charged to this benchmark's containers (that also counts the "
            f"kernel's packet processing for their own traffic) median "
            f"{meta.get('others_cpu_median', 0):.2f}, max {meta.get('others_cpu_max', 0):.2f}."
        )
    if meta.get("discarded_noisy_runs"):
        lines.append(
            f"- Runs thrown away and repeated because other work used more than "
            f"{meta.get('noise_cores', 0):g} cores meanwhile: {meta['discarded_noisy_runs']}."
        )
    lines += ["", "#### Goals", "", goals_section(goals), ""]
    if chart:
        lines += [f"![requests per second by pair and scenario]({chart})", ""]
    lines += [
        "#### Ratios",
        "",
        "Through the proxy / directly to one app server (`@N` = N connections):",
        "",
        proxy_direct_table(results, pairs=pairs),
        "",
        "Tuned / tutorial defaults, through the proxy:",
        "",
        tuned_defaults_table(results, pairs=pairs),
        "",
    ]
    if any(k.scenario == SLOW for k in results):
        lines += [
            "The normal load (wrk) on the waiting view without and beside the slow clients "
            "(medians over the accepted runs; the slow clients' columns are medians per run; "
            "wrk's errors are its timeouts, counted over every run):",
            "",
            slow_clients_table(results, pairs=pairs),
            "",
        ]
    for scenario in plan["scenarios"]:
        if not any(k.scenario == scenario for k in results):
            continue
        lines += [
            f"#### {SCENARIOS[scenario].title}",
            "",
            scenario_table(
                results, scenario=scenario, pairs=pairs, noise_cores=meta.get("noise_cores")
            ),
            "",
        ]
    lines += ["#### Rejected runs", ""]
    lines += [f"- {line}" for line in rejected] or ["None."]
    return "\n".join(lines).rstrip() + "\n"


def headline_lines(results: Results, *, pairs: Sequence[str], connections: int) -> list[str]:
    """A few lines for the terminal: the minimal view per pair at the headline count."""
    lines = []
    for pair in pairs:
        common: dict[str, Any] = {"pair": pair, "scenario": MINIMAL, "connections": connections}
        proxy = lookup(results, **common, variant=Variant.TUNED.value, target=Target.PROXY.value)
        direct = lookup(results, **common, variant=Variant.TUNED.value, target=Target.DIRECT.value)
        defaults = lookup(
            results, **common, variant=Variant.DEFAULTS.value, target=Target.PROXY.value
        )
        lines.append(
            f"{pair:16} /health/ @{connections}: proxy {fmt_rate(rate(proxy))} req/s, "
            f"direct {fmt_rate(rate(direct))}, defaults {fmt_rate(rate(defaults))} "
            f"(proxy/direct {fmt_ratio(ratio(rate(proxy), rate(direct)))}, "
            f"tuned/defaults {fmt_ratio(ratio(rate(proxy), rate(defaults)))})"
        )
    return lines


def replace_section(document: str, *, name: str, body: str) -> str:
    """`document` with the text between `<!-- bench:NAME:begin -->` and its end replaced."""
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(document):
        raise ValueError(f"the document has no {begin} ... {end} section")
    return pattern.sub(lambda _: f"{begin}\n{body.rstrip()}\n{end}", document, count=1)
