#!/usr/bin/env python
"""Command-line entry point of the sample guestbook project (migrate, collectstatic, ...)."""

import os
import sys


def main() -> None:
    """Run a Django management command with this project's settings by default."""
    # setdefault, not assignment: the deployment points DJANGO_SETTINGS_MODULE at its
    # production overlay (django_stack_settings) and that choice must win.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
