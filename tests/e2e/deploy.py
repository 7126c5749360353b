"""Deploy a stack onto the local Docker engine by running the program under DockerEngine.

    python -m tests.e2e.deploy up [--stack dev] [--name NAME] [key=value ...]
    python -m tests.e2e.deploy down

`up` runs the program for real (images built, containers started), prints the URL and leaves
everything running; `down` removes everything the harness made. The benchmark and the
end-to-end suite deploy through `deploy()`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from tests.e2e.engine import LABEL, DockerEngine, engine_available, remove_everything
from tests.support.mocks import ProgramRun, run_program
from tests.support.stack_files import parse_overrides, stack_config


def manual_run_id(stack_name: str) -> str:
    """The label value of a stack deployed by hand."""
    return f"manual-{stack_name}"


def deploy(
    *,
    stack_file: str = "dev",
    stack_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_id: str,
    keep_volumes: bool = False,
    alongside: bool = False,
) -> ProgramRun:
    """Run the program with the stack file's config plus `overrides`, for real.

    There is no state to diff against, so whatever an earlier deploy with this run_id left
    is removed first: `up` always converges to a fresh deployment. With `keep_volumes` the
    volumes stay, as a release keeps them (the database's, the uploaded files). With
    `alongside` nothing is removed: another stack of this run (another name) keeps running.
    """
    if not alongside:
        remove_everything(run_id, volumes=not keep_volumes)
    return run_program(
        stack_config(stack_file, overrides),
        stack=stack_name or stack_file,
        mocks=DockerEngine(run_id=run_id),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="deploy a stack and leave it running")
    up.add_argument("--stack", default="dev", help="stack file under stacks/ (default dev)")
    up.add_argument("--name", help="stack name for resource names (default: the stack file's)")
    up.add_argument("overrides", nargs="*", help="config overrides, key=value")
    down = sub.add_parser("down", help=f"remove what the harness made (label {LABEL})")
    down.add_argument("--name", help="only this stack (default: every stack the harness made)")
    options = parser.parse_args(argv)
    if not engine_available():
        print(
            "No Docker engine answers: run scripts/start-docker-engine.sh first.", file=sys.stderr
        )
        return 1
    if options.command == "down":
        remove_everything(manual_run_id(options.name) if options.name else None)
        print("removed")
        return 0
    name = options.name or options.stack
    result = deploy(
        stack_file=options.stack,
        stack_name=name,
        overrides=parse_overrides(options.overrides),
        run_id=manual_run_id(name),
    )
    for key, value in result.outputs.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
