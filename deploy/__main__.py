"""`python -m deploy`: preview, deploy or remove a stack with the real Pulumi engine.

    python -m deploy up dev [--yes] [--expect-no-changes] [--diff]
    python -m deploy preview staging [--diff]
    python -m deploy destroy dev --yes
    python -m deploy outputs dev

The stack's choices come from stacks/Pulumi.<stack>.yaml (and `pulumi config set`); state
goes to a local file backend (--state, default .pulumi-state/). scripts/up.sh runs `up`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pulumi import automation as auto

from deploy import failed_jobs
from deploy.workspace import PROJECT_DIR, checkpoints_skipped, local_backend, open_stack


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("operation", choices=("preview", "up", "destroy", "outputs"))
    parser.add_argument("stack", help="stack name: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--yes", action="store_true", help="up/destroy without asking")
    parser.add_argument("--diff", action="store_true", help="show each property that changes")
    parser.add_argument(
        "--expect-no-changes", action="store_true", help="fail if `up` would change anything"
    )
    parser.add_argument(
        "--state", type=Path, default=PROJECT_DIR / ".pulumi-state", help="file state backend"
    )
    parser.add_argument("--cli-dir", type=Path, help="folder holding the `pulumi` CLI to use")
    parser.add_argument(
        "--online", action="store_true", help="let the engine fetch plugins (official CLI)"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.operation in ("up", "destroy") and not options.yes:
        print(f"`{options.operation}` changes real resources: add --yes.", file=sys.stderr)
        return 2
    stack = open_stack(
        options.stack,
        backend=local_backend(options.state),
        cli_dir=options.cli_dir,
        offline=not options.online,
    )
    echo = print
    try:
        # A job that failed last time runs again (deploy/failed_jobs.py says why it would not).
        if options.operation == "preview":
            with checkpoints_skipped(stack):
                failed_jobs.preview(stack, diff=options.diff, on_output=echo)
        elif options.operation == "up":
            failed_jobs.up(
                stack,
                diff=options.diff,
                expect_no_changes=options.expect_no_changes,
                on_output=echo,
            )
        elif options.operation == "destroy":
            # The preview first, as `pulumi destroy` without --skip-preview does: a protected
            # database (database.protect) fails it before anything is deleted, where the
            # destroy itself would delete everything else first and stop only at the database.
            with checkpoints_skipped(stack):
                stack.preview_destroy(on_output=echo)
            stack.destroy(on_output=echo)
        for key, output in stack.outputs().items():
            shown = "[secret]" if output.secret else output.value
            print(f"{key}: {shown}")
    except auto.CommandError as error:
        # The engine already printed what failed through on_output; this is its summary.
        print(str(error).strip().splitlines()[-1] if str(error).strip() else error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
