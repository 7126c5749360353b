"""Benchmarks of django-stack: every app server x proxy pair under load, and the program itself.

`python -m bench` loads each pair through its proxy and directly against one app server, with
wrk; `python -m bench program` times the Pulumi program's evaluation and the app image builds.
Pure parts (wrk output parsing, statistics, goals, tables) live apart from the parts that
drive Docker, so they are unit-tested without a load or an engine (tests/unit/test_bench.py).
Results and how to read them: docs/benchmarks.md.
"""
