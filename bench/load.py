"""The load benchmark: deploy each pair (tuned, then tutorial defaults), load it, tear it down.

Each stack is deployed by `pulumi up` when the real engine is here, else by the end-to-end
harness (bench/deployment.py), and taken down after its pair, an error, Ctrl-C or SIGTERM
included. Every load generator and extra server carries this invocation's run id, and is
removed after its pair and again on the way out. Images are kept, so the next run builds
nothing that did not change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.chart import render_chart
from bench.deployment import Deployments, method_here, remove_leftover_stacks
from bench.fmt import fmt_ms, fmt_rate
from bench.harness import (
    NoiseBudget,
    StackGoneError,
    StackUnderTest,
    tools_image,
    wait_until_quiet,
)
from bench.machine import describe_machine, describe_source
from bench.own_cli import cancel_own_cli
from bench.plan import REPLICAS, CellKey, Plan, Variant, stack_name, stack_overrides
from bench.report import goals_section, headline_lines, rejected_runs, render_load_section
from bench.stats import CellSummary, RunRecord, evaluate_goals, summarize
from bench.tls_cost import is_tls_cell, render_tls_section, tls_cost_table
from tests.e2e.conftest import free_port
from tests.e2e.engine import EngineError, engine_available, remove_everything

PROJECT_DIR = Path(__file__).resolve().parents[1]
DOC = PROJECT_DIR / "docs" / "benchmarks.md"
RESULTS_DIR = PROJECT_DIR / "bench" / "results"


@dataclass(frozen=True)
class LoadOptions:
    """How one `python -m bench` invocation runs."""

    plan: Plan
    load_cpus: str
    """CPUs the load generator is pinned to (`--cpuset-cpus`)."""
    out_dir: Path
    write_docs: bool
    quiet_cores: float
    """Wait before a pair's runs while other work uses more than this many cores..."""
    quiet_wait_s: float
    """...but no longer than this."""
    noise_cores: float
    """A run during which other work used more than this many cores is run again..."""
    noise_retries: int
    """...at most this many times..."""
    noise_budget_s: float
    """...and for at most this many seconds over the whole invocation."""
    command: str


def _raise_interrupt(signum: int, frame: object) -> None:
    # Ctrl-C reaches a `pulumi up` under way itself; SIGTERM only this process.
    cancel_own_cli()
    raise KeyboardInterrupt(f"signal {signum}")


def _progress(key: CellKey, summary: CellSummary) -> str:
    cpu = " ".join(
        f"{role} {summary.cpu.get(role, 0.0):.2f}" for role in ("proxy", "app", "load", "others")
    )
    status = f"{summary.accepted}/{summary.runs} ok"
    if summary.rejections:
        status += f" ({summary.rejections[0]})"
    return (
        f"  {key.scenario:11} {key.target:6} @{key.connections:<4} "
        f"{fmt_rate(summary.requests_per_s):>8} req/s  p50 {fmt_ms(summary.p50_ms):>8}  "
        f"p99 {fmt_ms(summary.p99_ms):>8}  [{status}]  cores: {cpu}"
    )


def client_description(load_cpus: str) -> str:
    return (
        f"wrk 4.1 (Debian's) with keep-alive, 1 thread, `--timeout 5s`, in a container pinned "
        f"to CPU {load_cpus} (`--cpuset-cpus {load_cpus}`) on the stack's public network for "
        "the proxy (the proxy's own address, not the host's published port) and on its private "
        "network for the direct reference; the stack's containers are limited by `--cpus`, not "
        "pinned, so they share the machine's CPUs with it"
    )


def measure_pair(
    *,
    options: LoadOptions,
    deployments: Deployments,
    run_id: str,
    tools: str,
    pair: Any,
    variant: Any,
    raw: dict[CellKey, list[RunRecord]],
    notes: list[str],
    quiet: list[float],
    budget: NoiseBudget,
    save: Any,
) -> None:
    """Deploy one (pair, variant), measure its cells; one redeploy if the stack vanishes."""
    plan = options.plan
    name = stack_name(pair=pair, variant=variant)
    cells = plan.cells(pair=pair, variant=variant)
    for attempt in (1, 2):
        started = time.monotonic()
        overrides = stack_overrides(pair=pair, variant=variant)
        if variant is Variant.TLS:
            overrides["httpsPort"] = free_port()
        try:
            with deployments.deployed(name=name, overrides=overrides):
                stack = StackUnderTest(
                    name=name,
                    pair=pair,
                    variant=variant,
                    run_id=run_id,
                    load_cpus=options.load_cpus,
                    tools=tools,
                )
                stack.attach(replicas=REPLICAS)
                stack.preflight(cells)
                print(
                    f"{name}: deployed by {deployments.method.deployer.value} in "
                    f"{time.monotonic() - started:.0f} s",
                    flush=True,
                )
                deployments.settle()  # the stack before this one is gone before its runs
                others = wait_until_quiet(
                    stack.roles,
                    stack.engine,
                    limit_cores=options.quiet_cores,
                    max_wait_s=options.quiet_wait_s,
                )
                quiet.append(others)
                if others > options.quiet_cores:
                    notes.append(f"{name}: other work used {others:.2f} cores as its runs began")
                for key in cells:
                    if key in raw:
                        continue  # measured before the stack vanished
                    raw[key] = stack.measure(
                        key,
                        plan.timing,
                        noise_cores=options.noise_cores,
                        noise_retries=options.noise_retries,
                        budget=budget,
                    )
                    print(_progress(key, summarize(raw[key])), flush=True)
                    save()
            return
        except StackGoneError as error:
            notes.append(f"{name}: attempt {attempt}: {error}")
            print(f"{name}: {error}; redeploying", file=sys.stderr, flush=True)
        except EngineError as error:
            notes.append(f"{name}: {str(error)[:400]}")
            print(f"{name}: failed: {error}", file=sys.stderr, flush=True)
            return


def run_load(options: LoadOptions) -> int:
    """The whole load benchmark; returns the process exit code."""
    if not engine_available():
        print(
            "No Docker engine answers: run scripts/start-docker-engine.sh first.", file=sys.stderr
        )
        return 1
    plan = options.plan
    method = method_here()
    print(f"stacks deployed by {method.describe()}", flush=True)
    # A (pair, variant) without cells is not deployed (the TLS variant: one pair per proxy).
    to_deploy = [
        (pair, variant)
        for pair in plan.pairs
        for variant in plan.variants
        if plan.cells(pair=pair, variant=variant)
    ]
    print(
        f"{len(to_deploy)} deployments, {len(plan.all_cells())} cells; "
        f"about {(plan.estimate_s(deploy_s=0) + method.estimate_s(len(to_deploy))) / 60:.0f} min",
        flush=True,
    )
    started = time.monotonic()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    run_id = f"bench-{os.getpid()}"
    raw: dict[CellKey, list[RunRecord]] = {}
    notes: list[str] = []
    quiet: list[float] = []
    options.out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "date": date,
        "command": options.command,
        "machine": describe_machine(),
        "source": describe_source(PROJECT_DIR),
        "plan": plan.describe(),
        "client": client_description(options.load_cpus),
        "run_id": run_id,
        "deployed_by": method.describe(),
    }

    def save() -> None:
        write_results(options.out_dir / "results.json", meta=meta, raw=raw, notes=notes)

    deployments = Deployments(method=method, run_id=run_id, log_dir=options.out_dir, notes=notes)
    budget = NoiseBudget(options.noise_budget_s)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    try:
        left = remove_leftover_stacks()
        if left:
            print(f"removed what killed runs left of {', '.join(left)}", flush=True)
        tools = tools_image()
        for pair, variant in to_deploy:
            measure_pair(
                options=options,
                deployments=deployments,
                run_id=run_id,
                tools=tools,
                pair=pair,
                variant=variant,
                raw=raw,
                notes=notes,
                quiet=quiet,
                budget=budget,
                save=save,
            )
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: removing what this run made", file=sys.stderr, flush=True)
    finally:
        try:
            deployments.settle()
        finally:
            remove_everything(run_id)
            signal.signal(signal.SIGTERM, previous)
    meta["deployments"] = deployments.timings
    meta["elapsed_s"] = time.monotonic() - started
    meta["notes"] = notes
    for role in ("others", "foreign"):
        used = [r.cpu[role] for runs in raw.values() for r in runs if role in r.cpu]
        if used:
            meta[f"{role}_cpu_median"] = statistics.median(used)
            meta[f"{role}_cpu_max"] = max(used)
    meta["quiet_before_pairs"] = quiet
    meta["discarded_noisy_runs"] = sum(r.discarded_noisy for runs in raw.values() for r in runs)
    meta["noise_cores"] = options.noise_cores
    meta["noise_budget_left_s"] = budget.seconds
    save()
    finish_report(
        meta=meta,
        raw=raw,
        out_dir=options.out_dir,
        write_docs=options.write_docs and not interrupted,
    )
    return 130 if interrupted else (1 if notes and not raw else 0)


def write_results(
    path: Path,
    *,
    meta: Mapping[str, Any],
    raw: Mapping[CellKey, Sequence[RunRecord]],
    notes: Sequence[str],
) -> None:
    """Every run of every cell, as JSON: the report can be redrawn from it alone."""
    document = {
        "meta": {**meta, "notes": list(notes)},
        "cells": [
            {
                "key": key.as_dict(),
                "runs": [r.to_dict() for r in runs],
                "summary": asdict(summarize(runs)),
            }
            for key, runs in raw.items()
        ],
    }
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")


def read_results(path: Path) -> tuple[dict[str, Any], dict[CellKey, list[RunRecord]]]:
    document = json.loads(path.read_text())
    raw = {
        CellKey(**cell["key"]): [RunRecord.from_dict(r) for r in cell["runs"]]
        for cell in document["cells"]
    }
    return document["meta"], raw


def finish_report(
    *,
    meta: Mapping[str, Any],
    raw: Mapping[CellKey, Sequence[RunRecord]],
    out_dir: Path,
    write_docs: bool,
) -> None:
    """Tables, goals and the chart, to `out_dir`; with `write_docs`, into docs/ too."""
    plan = meta["plan"]
    results = {key: summarize(runs) for key, runs in raw.items()}
    goals = evaluate_goals(results, pairs=plan["pairs"], connections=plan["connections"])
    chart = render_chart(
        results,
        pairs=plan["pairs"],
        scenarios=plan["scenarios"],
        connections=plan["connections"],
        headline=plan["headline"],
        path=out_dir / "load.png",
        subtitle=f"{meta['machine'].get('nproc')} CPUs, {meta['date']}",
    )
    section = render_load_section(
        meta=meta,
        results=results,
        goals=goals,
        rejected=rejected_runs(raw) + [f"(set-up) {n}" for n in meta.get("notes", [])],
        chart="../bench/results/load.png" if write_docs else chart.name,
    )
    tls_section = (
        render_tls_section(
            meta=meta,
            results=results,
            rejected=rejected_runs({k: runs for k, runs in raw.items() if is_tls_cell(k)}),
        )
        if any(is_tls_cell(k) for k in raw)
        else ""
    )
    tls_part = f"\n#### TLS cost\n\n{tls_section}" if tls_section else ""
    (out_dir / "report.md").write_text(section + tls_part)
    print()
    print("\n".join(headline_lines(results, pairs=plan["pairs"], connections=plan["headline"])))
    print()
    print(goals_section(goals))
    if tls_section:
        print()
        print(tls_cost_table(results, pairs=plan["pairs"]))
    print(f"\nreport: {out_dir / 'report.md'}\nchart:  {chart}")
    if write_docs:
        from bench.report import replace_section

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        document = DOC.read_text()
        # A run of the TLS variant alone leaves the load figures (and their chart) alone.
        if any(not is_tls_cell(k) for k in raw):
            shutil.copyfile(chart, RESULTS_DIR / "load.png")
            shutil.copyfile(out_dir / "results.json", RESULTS_DIR / "load.json")
            document = replace_section(document, name="load", body=section)
        if tls_section:
            shutil.copyfile(out_dir / "results.json", RESULTS_DIR / "tls.json")
            document = replace_section(document, name="tls", body=tls_section)
        DOC.write_text(document)
        print(f"docs:   {DOC.relative_to(PROJECT_DIR)} updated")
