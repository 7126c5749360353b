"""The program's own benchmark: evaluation time under mocks, and app image build times.

- Evaluation: the whole Pulumi program run under the SDK's mocks (no engine, no Docker), as
  the unit tests run it, for 1, 10 and 100 replicas; the median of a few runs after one
  warm-up run (imports, first template reads).
- Builds: the app image of a temporary copy of app/ (deployed through `appPath`, app/ itself is
  never touched), built cold (`--no-cache`), then again after a one-line change to one of its
  modules, with the layer cache. Each build uses its own stack name, so the tags differ. The
  build is the one the end-to-end harness runs (same context, Dockerfile, arguments, BuildKit).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fmt import fmt_ratio, fmt_seconds, machine_lines, source_line
from bench.machine import describe_machine, describe_source
from components.program import build_dir
from tests.e2e.engine import DOCKER, LABEL, EngineError, engine_available, remove_everything
from tests.support.mocks import run_program, unwrap_secrets
from tests.support.stack_files import PROJECT_DIR, stack_config

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
APP_IMAGE_RESOURCE = "django-app-image"
IMAGE_TYPE = "docker:index/image:Image"
REBUILD_SPEEDUP_MIN = 5.0
# The module the one-line change goes into, relative to the app's copy.
CHANGED_MODULE = Path("guestbook") / "views.py"


@dataclass(frozen=True)
class ProgramOptions:
    """How one `python -m bench program` invocation runs."""

    replicas: tuple[int, ...]
    runs: int
    build: bool
    out_dir: Path
    write_docs: bool
    command: str


def time_evaluation(replicas: int, *, runs: int) -> dict[str, Any]:
    """Seconds to evaluate the dev stack with `replicas` under mocks (every run), resources."""
    stack = f"bench-eval-{replicas}"
    seconds = []
    resources = 0
    try:
        for _ in range(runs):
            started = time.perf_counter()
            result = run_program(stack_config("dev", {"replicas": replicas}), stack=stack)
            seconds.append(time.perf_counter() - started)
            resources = len(result.registrations)
    finally:
        shutil.rmtree(build_dir(PROJECT_DIR, stack), ignore_errors=True)
    return {
        "replicas": replicas,
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "resources": resources,
    }


def app_image_inputs(app_path: Path, *, stack: str) -> dict[str, Any]:
    """The app image as the program registers it for `appPath`, under mocks."""
    overrides: dict[str, Any] = {"appPath": str(app_path)}
    if HOST_CA_BUNDLE.is_file():
        overrides["extraCaBundle"] = str(HOST_CA_BUNDLE)
    result = run_program(stack_config("dev", overrides), stack=stack)
    (image,) = [r for r in result.of_type(IMAGE_TYPE) if r.name == APP_IMAGE_RESOURCE]
    return unwrap_secrets(image.inputs)


def build_command(inputs: dict[str, Any], *, run_id: str, no_cache: bool) -> list[str]:
    """`docker build` for an image's inputs, as tests/e2e/engine.py runs it."""
    build = inputs["build"]
    argv = [DOCKER, "build", "--quiet", "--tag", inputs["imageName"], "--file", build["dockerfile"]]
    argv += ["--label", f"{LABEL}={run_id}"]
    for key, value in sorted((build.get("args") or {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    if no_cache:
        argv.append("--no-cache")
    return [*argv, build["context"]]


def timed_build(inputs: dict[str, Any], *, run_id: str, no_cache: bool, timeout_s: float) -> float:
    """Build the image; return the seconds it took."""
    started = time.perf_counter()
    result = subprocess.run(
        build_command(inputs, run_id=run_id, no_cache=no_cache),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise EngineError(f"docker build failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def time_builds(*, run_id: str, timeout_s: float = 1500) -> dict[str, Any]:
    """Cold build, then a rebuild after a one-line change, of a temporary copy of app/."""
    workdir = Path(tempfile.mkdtemp(prefix="django-stack-bench-"))
    suffix = uuid.uuid4().hex[:8]
    stacks = (f"bench-build-{suffix}-cold", f"bench-build-{suffix}-edit")
    try:
        app = workdir / "app"
        shutil.copytree(
            PROJECT_DIR / "app", app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        cold_inputs = app_image_inputs(app, stack=stacks[0])
        cold = timed_build(cold_inputs, run_id=run_id, no_cache=True, timeout_s=timeout_s)
        with (app / CHANGED_MODULE).open("a") as module:
            module.write(f'BENCH_ONE_LINE_CHANGE = "{suffix}"\n')
        edit_inputs = app_image_inputs(app, stack=stacks[1])
        if edit_inputs["imageName"] == cold_inputs["imageName"]:
            raise AssertionError("the one-line change did not change the image tag")
        rebuild = timed_build(edit_inputs, run_id=run_id, no_cache=False, timeout_s=timeout_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for stack in stacks:
            shutil.rmtree(build_dir(PROJECT_DIR, stack), ignore_errors=True)
    return {
        "cold_s": cold,
        "rebuild_s": rebuild,
        "speedup": cold / rebuild if rebuild else None,
        "changed": f"one line appended to {CHANGED_MODULE.as_posix()}",
        "cold_tag": cold_inputs["imageName"],
        "rebuild_tag": edit_inputs["imageName"],
    }


def render_program_section(results: dict[str, Any]) -> str:
    """The block docs/benchmarks.md holds between the program markers."""
    meta = results["meta"]
    lines = [
        f"Run on {meta['date']}, took {fmt_seconds(meta['elapsed_s'])}:",
        "",
        f"    {meta['command']}",
        "",
        *machine_lines(meta["machine"]),
        source_line(meta.get("source", {})),
        "",
        "| replicas | resources registered | evaluation, median | runs |",
        "| ---: | ---: | ---: | --- |",
    ]
    for row in results["evaluation"]:
        runs = ", ".join(f"{s:.2f}" for s in row["seconds"])
        median = fmt_seconds(row["median_s"])
        lines.append(f"| {row['replicas']} | {row['resources']} | {median} | {runs} s |")
    builds = results.get("builds")
    lines.append("")
    if builds:
        met = builds["speedup"] is not None and builds["speedup"] >= REBUILD_SPEEDUP_MIN
        lines += [
            "| app image build | time |",
            "| --- | ---: |",
            f"| cold (`--no-cache`) | {fmt_seconds(builds['cold_s'])} |",
            f"| after a one-line change ({builds['changed']}) | "
            f"{fmt_seconds(builds['rebuild_s'])} |",
            "",
            f"Goal, the rebuild is >= {REBUILD_SPEEDUP_MIN:g}x faster than the cold build: "
            f"{'**met**' if met else '**not met**'} ({fmt_ratio(builds['speedup'])}).",
        ]
    else:
        lines.append("Builds not timed in this run (`--no-build` or `--quick`).")
    return "\n".join(lines) + "\n"


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_program_bench(options: ProgramOptions) -> int:
    """The program benchmark; returns the process exit code."""
    started = time.monotonic()
    run_id = f"bench-program-{os.getpid()}"
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": options.command,
            "machine": describe_machine(),
            "source": describe_source(PROJECT_DIR),
        },
        "evaluation": [],
    }
    # One evaluation first: imports and first reads are not what is being measured.
    time_evaluation(1, runs=1)
    for replicas in options.replicas:
        row = time_evaluation(replicas, runs=options.runs)
        results["evaluation"].append(row)
        print(
            f"evaluation, {replicas:>3} replicas: {fmt_seconds(row['median_s'])} "
            f"({row['resources']} resources)",
            flush=True,
        )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if options.build:
            if not engine_available():
                print("No Docker engine answers: builds not timed.", file=sys.stderr)
            else:
                print("timing a cold app image build (minutes) ...", flush=True)
                builds = time_builds(run_id=run_id)
                results["builds"] = builds
                print(
                    f"cold build {fmt_seconds(builds['cold_s'])}, rebuild after a one-line "
                    f"change {fmt_seconds(builds['rebuild_s'])} ({fmt_ratio(builds['speedup'])})",
                    flush=True,
                )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        remove_everything(run_id, images=True)
        signal.signal(signal.SIGTERM, previous)
    results["meta"]["elapsed_s"] = time.monotonic() - started
    options.out_dir.mkdir(parents=True, exist_ok=True)
    (options.out_dir / "program.json").write_text(json.dumps(results, indent=1) + "\n")
    section = render_program_section(results)
    (options.out_dir / "program.md").write_text(section)
    print(f"\nreport: {options.out_dir / 'program.md'}")
    if options.write_docs:
        from bench.load import DOC, RESULTS_DIR
        from bench.report import replace_section

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(options.out_dir / "program.json", RESULTS_DIR / "program.json")
        DOC.write_text(replace_section(DOC.read_text(), name="program", body=section))
        print(f"docs:   {DOC.relative_to(PROJECT_DIR)} updated")
    return 0
