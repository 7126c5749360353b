"""`python -m bench`: the command line. It only reads options and hands them over.

    python -m bench [load] [--quick] [--pairs gunicorn-nginx,uwsgi-apache] [--connections 8,32,128]
                           [--duration 3] [--runs 3] [--write-docs] ...
    python -m bench program [--quick] [--replicas 1,10,100] [--no-build] [--write-docs]
    python -m bench report .django-stack/bench/<run>/results.json [--write-docs]
    python -m bench engine [--counts 10,100] [--runs 3]

`load` (the default) deploys every app server x proxy pair, tuned and with the tutorial
defaults, and loads each through its proxy and directly, plus one pair per proxy with HTTPS
(the TLS cost: HTTPS against HTTP through that proxy); `program` times the program's
evaluation under mocks and the app image builds; `report` redraws the tables and the chart
from a results file; `engine` times `pulumi preview` of a VM stack on 10 and 100 given hosts
and of the Docker stack with 10 and 100 replicas under the real engine (no machine and no
Docker engine needed). `--write-docs` puts the results into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from bench.plan import (
    ALL_PAIRS,
    SCENARIOS,
    Plan,
    Timing,
    parse_ints,
    parse_list,
    parse_pairs,
    parse_variants,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Full run: every pair, the sweep on the minimal view. --quick: one pair, one count.
FULL: dict[str, Any] = {
    "pairs": "all",
    "connections": "8,32,128",
    "duration": 3.0,
    "warmup": 1.0,
    "runs": 3,
    "variants": "tuned,defaults,tls",
}
QUICK: dict[str, Any] = {
    "pairs": "gunicorn-nginx",
    "connections": "32",
    "duration": 2.0,
    "warmup": 1.0,
    "runs": 3,
    # Without the TLS cost (one more deployment, about 1.5 min): --quick stays under 5 min.
    # `--quick --variants tls` measures it alone.
    "variants": "tuned,defaults",
}


def _default_out(kind: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return PROJECT_DIR / ".django-stack" / "bench" / f"{stamp}-{kind}"


def _command(argv: list[str]) -> str:
    """The command to reproduce a run, without where its output went (`--out`)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            kept.append(arg)
    return shlex.join([".venv/bin/python", "-m", "bench", *kept])


def load_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("load", help="load every pair through its proxy and directly (default)")
    p.add_argument("--quick", action="store_true", help="one pair, 32 connections, 2 s runs")
    p.add_argument("--pairs", help=f"comma list or 'all' ({', '.join(x.key for x in ALL_PAIRS)})")
    p.add_argument(
        "--variants",
        help="tuned, defaults, tls (HTTPS vs HTTP through the proxy, one pair per proxy); "
        "default all three, --quick tuned,defaults",
    )
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=", ".join(SCENARIOS))
    p.add_argument("--connections", help="the connection sweep, e.g. 8,32,128")
    p.add_argument(
        "--sweep-scenarios", default="health", help="scenarios run at every connection count"
    )
    p.add_argument("--headline", type=int, help="connection count of the other scenarios")
    p.add_argument("--duration", type=float, help="seconds per measured run")
    p.add_argument("--warmup", type=float, help="seconds of the warm-up run")
    p.add_argument("--runs", type=int, help="measured runs per cell (the median is shown)")
    p.add_argument(
        "--load-cpus",
        default=str(max(0, len(os.sched_getaffinity(0)) - 1)),
        help="CPUs the load generator is pinned to (default: the last one)",
    )
    p.add_argument("--quiet-cores", type=float, default=0.15, help="see --quiet-wait")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="seconds to wait before a pair while other work uses more than --quiet-cores",
    )
    p.add_argument(
        "--noise-cores",
        type=float,
        default=0.15,
        help="a run during which other containers or image builds used more cores than this "
        "is run again...",
    )
    p.add_argument("--noise-retries", type=int, default=2, help="...at most this many times...")
    p.add_argument(
        "--noise-budget",
        type=float,
        help="...and for at most this many seconds in all (default 240, --quick 60)",
    )
    p.add_argument("--out", type=Path, help="results directory (default .django-stack/bench/)")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    load_parser(sub)
    program = sub.add_parser("program", help="time the program's evaluation and image builds")
    program.add_argument("--quick", action="store_true", help="one run each, no builds")
    program.add_argument("--replicas", default="1,10,100", help="replica counts to evaluate")
    program.add_argument("--runs", type=int, help="evaluations per replica count (default 3)")
    program.add_argument("--no-build", action="store_true", help="skip the image builds")
    program.add_argument("--out", type=Path)
    program.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    engine = sub.add_parser("engine", help="time `pulumi preview` at 10 and 100 app hosts")
    engine.add_argument(
        "--counts",
        "--app-hosts",
        default="10,100",
        help="VM app hosts and Docker replicas to preview",
    )
    engine.add_argument("--runs", type=int, default=3, help="timed previews per count")
    report = sub.add_parser("report", help="redraw tables and chart from a results.json")
    report.add_argument("results", type=Path)
    report.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")

    given = list(argv)
    if not given or given[0] not in ("load", "program", "report", "engine", "-h", "--help"):
        given = ["load", *given]
    options = parser.parse_args(given)
    command = _command(list(argv))

    if options.command == "program":
        from bench.program import ProgramOptions, run_program_bench

        return run_program_bench(
            ProgramOptions(
                replicas=parse_ints(options.replicas),
                runs=options.runs or (1 if options.quick else 3),
                build=not (options.no_build or options.quick),
                out_dir=options.out or _default_out("program"),
                write_docs=options.write_docs,
                command=command,
            )
        )
    if options.command == "engine":
        from bench.engine_scale import run_engine_scale_bench

        return run_engine_scale_bench(counts=parse_ints(options.counts), runs=options.runs)
    if options.command == "report":
        from bench.load import finish_report, read_results

        meta, raw = read_results(options.results)
        finish_report(
            meta=meta, raw=raw, out_dir=options.results.parent, write_docs=options.write_docs
        )
        return 0

    preset = QUICK if options.quick else FULL
    connections = parse_ints(options.connections or preset["connections"])
    try:
        plan = Plan(
            pairs=parse_pairs(options.pairs or preset["pairs"]),
            variants=parse_variants(options.variants or preset["variants"]),
            scenarios=tuple(parse_list(options.scenarios)),
            connections=connections,
            sweep_scenarios=tuple(parse_list(options.sweep_scenarios)),
            headline=options.headline or (32 if 32 in connections else connections[0]),
            timing=Timing(
                duration_s=options.duration or preset["duration"],
                warmup_s=options.warmup if options.warmup is not None else preset["warmup"],
                runs=options.runs or preset["runs"],
            ),
        )
    except ValueError as error:
        parser.error(str(error))
    from bench.load import LoadOptions, run_load

    return run_load(
        LoadOptions(
            plan=plan,
            load_cpus=options.load_cpus,
            out_dir=options.out or _default_out("load"),
            write_docs=options.write_docs,
            quiet_cores=options.quiet_cores,
            quiet_wait_s=options.quiet_wait,
            noise_cores=options.noise_cores,
            noise_retries=options.noise_retries,
            noise_budget_s=options.noise_budget
            if options.noise_budget is not None
            else (60.0 if options.quick else 240.0),
            command=command,
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
