"""The load benchmark's chart: one PNG a person can read at a glance.

Top row, one panel per pair: the minimal view's rate over the connection sweep, through the
proxy and directly, tuned and with the tutorial defaults. Bottom: every scenario through the
proxy at the headline connection count (log scale: static files are orders faster), tuned,
and the waiting view with the tutorial defaults too (what tuning is for).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.plan import MINIMAL, SCENARIOS, WAITING, CellKey, Target, Variant
from bench.stats import Results, lookup, rate

# Colour says the variant, the line and marker say the target (filled: through the proxy).
STYLE: dict[tuple[str, str], dict[str, Any]] = {
    (Variant.TUNED.value, Target.PROXY.value): {
        "color": "#1f77b4",
        "linestyle": "-",
        "marker": "o",
    },
    (Variant.TUNED.value, Target.DIRECT.value): {
        "color": "#1f77b4",
        "linestyle": "--",
        "marker": "s",
        "markerfacecolor": "white",
    },
    (Variant.DEFAULTS.value, Target.PROXY.value): {
        "color": "#d62728",
        "linestyle": "-",
        "marker": "o",
    },
    (Variant.DEFAULTS.value, Target.DIRECT.value): {
        "color": "#d62728",
        "linestyle": "--",
        "marker": "s",
        "markerfacecolor": "white",
    },
}
SCENARIO_COLORS = ("#1f77b4", "#ff7f0e", "#d62728", "#e377c2", "#2ca02c", "#9467bd")


def render_chart(
    results: Results,
    *,
    pairs: Sequence[str],
    scenarios: Sequence[str],
    connections: Sequence[int],
    headline: int,
    path: Path,
    subtitle: str,
) -> Path:
    """Draw the chart to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, len(pairs))
    figure = plt.figure(figsize=(4.2 * max(columns, 3), 9.5), dpi=110)
    grid = figure.add_gridspec(2, columns, height_ratios=[1, 1.15], hspace=0.42, wspace=0.28)
    top = max(
        [
            rate(lookup(results, pair=p, variant=v, scenario=MINIMAL, target=t, connections=c))
            or 0.0
            for p in pairs
            for (v, t) in STYLE
            for c in connections
        ]
        + [1.0]
    )
    rejected_label = "rejected (errors)"
    top_axes = []
    for index, pair in enumerate(pairs):
        axis = figure.add_subplot(grid[0, index])
        for (variant, target), style in STYLE.items():
            points = []
            for c in connections:
                key = CellKey(pair, variant, MINIMAL, target, c)
                if key in results and not results[key].measured:
                    axis.plot(
                        [c], [0], "x", color=style["color"], markersize=9, label=rejected_label
                    )
                    rejected_label = "_"
                points.append((c, rate(lookup(results, **key.as_dict()))))
            xs = [c for c, r in points if r is not None]
            ys = [r for _, r in points if r is not None]
            if xs:
                axis.plot(xs, ys, markersize=6, label=f"{target}, {variant}", **style)
        axis.set_xscale("log", base=2)
        axis.set_xticks(list(connections), [str(c) for c in connections])
        axis.set_title(f"{pair}: /health/", fontsize=11)
        axis.set_xlabel("connections")
        axis.grid(True, alpha=0.3)
        axis.set_ylim(bottom=-0.03 * top, top=1.12 * top)
        if index == 0:
            axis.set_ylabel("requests / s (median of runs)")
        top_axes.append(axis)
    legend: dict[str, Any] = {}
    for axis in top_axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if top_axes:
        top_axes[0].legend(list(legend.values()), list(legend), fontsize=7, loc="upper left")

    bars = figure.add_subplot(grid[1, :])
    series = [(scenario, Variant.TUNED, SCENARIOS[scenario].title) for scenario in scenarios]
    if WAITING in scenarios:
        series.insert(
            series.index((WAITING, Variant.TUNED, SCENARIOS[WAITING].title)) + 1,
            (WAITING, Variant.DEFAULTS, f"{SCENARIOS[WAITING].title}, tutorial defaults"),
        )
    width = 0.8 / max(1, len(series))
    for s_index, (scenario, variant, label) in enumerate(series):
        values = [
            rate(
                lookup(
                    results,
                    pair=pair,
                    variant=variant.value,
                    scenario=scenario,
                    target=Target.PROXY.value,
                    connections=headline,
                )
            )
            for pair in pairs
        ]
        positions = [p + (s_index - (len(series) - 1) / 2) * width for p in range(len(pairs))]
        drawn = [(x, v) for x, v in zip(positions, values, strict=True) if v is not None]
        if not drawn:
            continue
        container = bars.bar(
            [x for x, _ in drawn],
            [v for _, v in drawn],
            width=width * 0.95,
            label=label,
            color=SCENARIO_COLORS[s_index % len(SCENARIO_COLORS)],
            hatch="//" if variant is Variant.DEFAULTS else None,
        )
        bars.bar_label(container, labels=[f"{v:,.0f}" for _, v in drawn], fontsize=8, padding=2)
    bars.set_yscale("log")
    bars.set_xticks(range(len(pairs)), list(pairs))
    bars.set_ylabel("requests / s, log scale")
    bars.set_title(
        f"Every scenario through the proxy, tuned (hatched: tutorial defaults), "
        f"{headline} connections",
        fontsize=11,
    )
    bars.grid(True, axis="y", alpha=0.3)
    bars.legend(fontsize=8, loc="upper left", ncols=2)
    low, high = bars.get_ylim()
    bars.set_ylim(low, high * 12)  # room for the legend above the tallest bar
    figure.suptitle(f"django-stack load benchmark - {subtitle}", fontsize=13)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path
