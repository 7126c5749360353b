"""The benchmark's pure parts (bench/): wrk reports, medians, ratios, goals, tables, CPU maths.

Nothing here runs a load or talks to Docker: the wrk reports below are real wrk 4.1 output
(trimmed of nothing), and the results are built by hand.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from bench import cpu
from bench.__main__ import FULL, QUICK
from bench.deployment import (
    DEPLOY_S,
    ENGINE_TEARDOWN_S,
    Deployer,
    choose_method,
    pulumi_error_summary,
)
from bench.fmt import fmt_ms, fmt_ratio, fmt_seconds, timing_phrase
from bench.harness import StackUnderTest
from bench.own_cli import parse_stat
from bench.plan import (
    ALL_PAIRS,
    ALL_SCENARIOS,
    SCENARIOS,
    CellKey,
    Pair,
    Plan,
    Target,
    Timing,
    Variant,
    parse_ints,
    parse_list,
    parse_pairs,
    parse_variants,
    stack_name,
    stack_overrides,
)
from bench.report import (
    markdown_table,
    proxy_direct_table,
    render_load_section,
    replace_section,
    scenario_table,
    slow_clients_table,
    tuned_defaults_table,
)
from bench.stats import (
    CellSummary,
    RunRecord,
    evaluate_goals,
    goal_proxy_vs_direct,
    goal_slow_clients,
    goal_static_vs_minimal,
    goal_tuned_vs_defaults,
    median,
    ratio,
    summarize,
)
from bench.tls_cost import render_tls_section, tls_cost_table
from bench.wrk import SocketErrors, WrkParseError, metric, parse_wrk, time_ms, wrk_command

CLEAN = """\
Running 5s test @ http://app-0:8000/health/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    49.45ms   77.58ms 395.22ms   89.25%
    Req/Sec     1.42k   582.33     3.18k    76.74%
  Latency Distribution
     50%   22.88ms
     75%   47.12ms
     90%  149.66ms
     99%  365.85ms
  6228 requests in 5.01s, 1.73MB read
Requests/sec:   1243.57
Transfer/sec:    354.53KB
"""

MICROSECONDS_AND_ERRORS = """\
Running 2s test @ http://django-stack-x-proxy:8080/static/guestbook/bench-1k.txt
  1 threads and 128 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   674.75us    1.87ms    1.02s    94.28%
    Req/Sec    84.87k    12.07k   97.42k    80.00%
  Latency Distribution
     50%  249.00us
     75%  466.00us
     90%  725.00us
     99%    1.20s
  421892 requests in 1.00m, 7.53GB read
  Socket errors: connect 0, read 3, write 1, timeout 12
  Non-2xx or 3xx responses: 5
Requests/sec:  84343.18
Transfer/sec:    108.67MB
"""


# --- wrk ----------------------------------------------------------------------------------


def test_clean_report_parses_in_milliseconds() -> None:
    result = parse_wrk(CLEAN)
    assert result.requests == 6228
    assert result.duration_s == pytest.approx(5.01)
    assert result.requests_per_s == pytest.approx(1243.57)
    assert result.p50_ms == pytest.approx(22.88)
    assert result.p99_ms == pytest.approx(365.85)
    assert result.latency_avg_ms == pytest.approx(49.45)
    assert result.latency_max_ms == pytest.approx(395.22)
    assert result.bytes_read == pytest.approx(1.73 * 1024**2)
    assert result.errors == 0
    assert result.rejection() is None


def test_microseconds_seconds_minutes_and_error_lines() -> None:
    result = parse_wrk(MICROSECONDS_AND_ERRORS)
    assert result.p50_ms == pytest.approx(0.249)
    assert result.percentiles_ms[90] == pytest.approx(0.725)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.latency_max_ms == pytest.approx(1020.0)
    assert result.duration_s == pytest.approx(60.0)
    assert result.bytes_read == pytest.approx(7.53 * 1024**3)
    assert result.socket_errors == SocketErrors(connect=0, read=3, write=1, timeout=12)
    assert result.non_2xx == 5
    assert result.errors == 21


def test_a_run_with_errors_is_rejected_and_says_why() -> None:
    reason = parse_wrk(MICROSECONDS_AND_ERRORS).rejection()
    assert reason is not None
    for expected in ("5 non-2xx", "3 socket read", "1 socket write", "12 socket timeout"):
        assert expected in reason
    assert "connect" not in reason


def test_a_run_without_requests_is_rejected() -> None:
    empty = CLEAN.replace("6228 requests", "0 requests")
    assert parse_wrk(empty).rejection() == "no request completed"


@pytest.mark.parametrize(
    "broken",
    [
        "",
        "unable to connect to app-0:8000 Connection refused\n",
        CLEAN.replace("Requests/sec:   1243.57\n", ""),
        "\n".join(line for line in CLEAN.splitlines() if "%" not in line or "Latency " in line),
    ],
    ids=["empty", "connection-refused", "no-rate", "no-percentiles"],
)
def test_incomplete_reports_raise(broken: str) -> None:
    with pytest.raises(WrkParseError):
        parse_wrk(broken)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("850", "us", 0.85), ("3.5", "ms", 3.5), ("1.5", "s", 1500.0), ("2", "m", 120_000.0)],
)
def test_time_units(value: str, unit: str, expected: float) -> None:
    assert time_ms(value, unit) == pytest.approx(expected)


def test_metric_suffixes() -> None:
    assert metric("84.87k") == pytest.approx(84_870)
    assert metric("1.2M") == pytest.approx(1_200_000)
    assert metric("582.33") == pytest.approx(582.33)
    with pytest.raises(WrkParseError):
        metric("fast")


def test_wrk_command_is_bounded_and_keeps_alive() -> None:
    argv = wrk_command(url="http://app-0:8000/health/", connections=32, duration_s=3)
    assert argv[0] == "wrk"
    assert "-d3s" in argv and "--timeout=5s" in argv and "--latency" in argv
    assert "-c32" in argv and "-t1" in argv
    # keep-alive is wrk's default: nothing may ask for Connection: close
    assert not any("close" in a.lower() for a in argv)
    assert argv[argv.index("-H") + 1] == "Host: localhost"
    assert argv[-1] == "http://app-0:8000/health/"
    with pytest.raises(ValueError):
        wrk_command(url="http://x/", connections=1, duration_s=1, threads=2)


# --- statistics ---------------------------------------------------------------------------


def run(rps: float, *, p99: float = 10.0, errors: int = 0, cpu_others: float = 0.0) -> RunRecord:
    wrk = parse_wrk(CLEAN)
    wrk = type(wrk)(
        requests=wrk.requests,
        duration_s=wrk.duration_s,
        requests_per_s=rps,
        bytes_read=wrk.bytes_read,
        latency_avg_ms=1.0,
        latency_max_ms=p99 * 2,
        percentiles_ms={50: p99 / 4, 75: p99 / 3, 90: p99 / 2, 99: p99},
        socket_errors=SocketErrors(timeout=errors),
    )
    return RunRecord.from_wrk(wrk, cpu={"proxy": 0.5, "others": cpu_others})


def test_median_and_ratio() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([]) is None
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_summary_takes_the_median_of_accepted_runs_only() -> None:
    runs = [run(100.0), run(5000.0, errors=7), run(300.0), run(200.0)]
    summary = summarize(runs)
    assert summary.accepted == 3 and summary.runs == 4
    assert summary.requests_per_s == 200.0
    assert summary.errors == 7
    assert summary.rejections == ("7 socket timeout errors",)
    assert summary.cpu["proxy"] == 0.5


def test_a_cell_whose_runs_all_failed_is_not_measured() -> None:
    summary = summarize([RunRecord.failed("wrk exited 1"), run(10.0, errors=1)])
    assert not summary.measured
    assert summary.requests_per_s is None
    assert summary.rejections == ("wrk exited 1", "1 socket timeout errors")


def test_run_records_survive_json() -> None:
    original = run(123.0, errors=2)
    again = RunRecord.from_dict(original.to_dict())
    assert again == original
    assert RunRecord.from_dict(RunRecord.failed("gone").to_dict()).rejection == "gone"


# --- goals --------------------------------------------------------------------------------


def cell(rps: float | None, p99: float = 10.0) -> CellSummary:
    return CellSummary(
        requests_per_s=rps,
        p50_ms=p99 / 4,
        p99_ms=p99,
        accepted=0 if rps is None else 3,
        runs=3,
        errors=0 if rps is not None else 9,
        rejections=(),
        cpu={"proxy": 0.9, "app": 1.0},
        throttled={},
    )


def key(scenario: str, target: str = "proxy", variant: str = "tuned", conns: int = 32) -> CellKey:
    return CellKey("gunicorn-nginx", variant, scenario, target, conns)


def test_proxy_vs_direct_at_every_measured_point() -> None:
    results = {
        key("health"): cell(900.0),
        key("health", "direct"): cell(1000.0),
        key("health", conns=128): cell(800.0),
        key("health", "direct", conns=128): cell(1000.0),
    }
    goal = goal_proxy_vs_direct(results, pairs=["gunicorn-nginx"], connections=[32, 128])
    assert [c.met for c in goal.checks] == [True, False]
    assert goal.met is False
    assert goal.worst() is goal.checks[1]
    assert goal.checks[0].value == pytest.approx(0.9)


def test_tuned_vs_defaults_needs_twice_the_rate_and_no_worse_p99() -> None:
    fast_but_tail = {
        key("health"): cell(3000.0, p99=50.0),
        key("health", variant="defaults"): cell(1000.0, p99=40.0),
    }
    goal = goal_tuned_vs_defaults(fast_but_tail, pairs=["gunicorn-nginx"], connections=[32])
    (check,) = goal.checks
    assert check.value == pytest.approx(3.0)
    assert check.met is False and "p99 worse" in check.detail
    good = {
        key("health"): cell(2500.0, p99=20.0),
        key("health", variant="defaults"): cell(1000.0, p99=40.0),
    }
    assert goal_tuned_vs_defaults(good, pairs=["gunicorn-nginx"], connections=[32]).met is True
    slow = {
        key("health"): cell(1500.0, p99=20.0),
        key("health", variant="defaults"): cell(1000.0, p99=40.0),
    }
    assert goal_tuned_vs_defaults(slow, pairs=["gunicorn-nginx"], connections=[32]).met is False


def test_waiting_view_needs_three_times_the_rate_and_no_worse_p99_at_32_and_128() -> None:
    def waiting(tuned: dict[int, tuple[float, float]]) -> dict[CellKey, CellSummary]:
        results = {}
        for conns, (rps, p99) in tuned.items():
            results[key("wait", conns=conns)] = cell(rps, p99=p99)
            results[key("wait", variant="defaults", conns=conns)] = cell(100.0, p99=400.0)
        return results

    def goal(results: dict[CellKey, CellSummary]) -> Any:
        # The sweep given (32 only, as --quick) does not matter: the waiting view has its own.
        (found,) = [
            g
            for g in evaluate_goals(results, pairs=["gunicorn-nginx"], connections=[32])
            if g.key == "tuned-vs-defaults-wait"
        ]
        return found

    good = goal(waiting({32: (310.0, 100.0), 128: (400.0, 390.0)}))
    assert "3x on the waiting view" in good.title
    assert [(c.label, c.met) for c in good.checks] == [
        ("gunicorn-nginx, 32 connections", True),
        ("gunicorn-nginx, 128 connections", True),
    ]
    # 2.9x is not enough, though the minimal view's goal would take 2x.
    short = goal(waiting({32: (290.0, 100.0), 128: (400.0, 390.0)}))
    assert [c.met for c in short.checks] == [False, True] and short.met is False
    tail = goal(waiting({32: (310.0, 100.0), 128: (400.0, 410.0)}))
    assert tail.checks[1].met is False and "p99 worse" in tail.checks[1].detail
    # Without the waiting view in the run, the goal is not measured (not met or failed).
    assert goal({key("health"): cell(1000.0)}).met is None


def test_static_vs_minimal_checks_each_static_file() -> None:
    results = {
        key("health"): cell(1000.0),
        key("static-1k"): cell(50_000.0),
        key("static-100k"): cell(9_000.0),
    }
    goal = goal_static_vs_minimal(results, pairs=["gunicorn-nginx"], connections=[32])
    assert [(c.label.split(", ")[1], c.met) for c in goal.checks] == [
        ("static-1k", True),
        ("static-100k", False),
    ]


def test_errors_through_the_proxy_fail_the_goal_there() -> None:
    results = {key("health", conns=128): cell(None), key("health", "direct", conns=128): cell(1e3)}
    goal = goal_proxy_vs_direct(results, pairs=["gunicorn-nginx"], connections=[128])
    (check,) = goal.checks
    assert check.value is None and check.met is False and "every run rejected" in check.detail
    assert goal.met is False


def test_a_rejected_side_leaves_the_goal_unmeasured() -> None:
    results = {key("health"): cell(900.0), key("health", "direct"): cell(None)}
    goal = goal_proxy_vs_direct(results, pairs=["gunicorn-nginx"], connections=[32])
    assert goal.checks[0].value is None
    assert goal.met is None
    assert [g.met for g in evaluate_goals({}, pairs=["gunicorn-nginx"], connections=[32])] == [
        None,
        None,
        None,
        None,
        None,
        None,
    ]


# --- tables and the document --------------------------------------------------------------


def test_markdown_table_aligns_numbers_right() -> None:
    table = markdown_table(["name", "req/s"], [["a", "1"], ["b", "22"]], right=1)
    assert table.splitlines() == ["| name | req/s |", "| --- | ---: |", "| a | 1 |", "| b | 22 |"]


def test_scenario_table_shows_medians_errors_and_rejections() -> None:
    results = {
        key("health"): cell(1234.6, p99=0.5),
        key("health", "direct"): cell(None),
        key("index"): cell(99.0),
    }
    table = scenario_table(results, scenario="health", pairs=["gunicorn-nginx"])
    lines = table.splitlines()
    assert len(lines) == 4  # header, alignment, two health rows; the index cell is elsewhere
    assert "| gunicorn-nginx | tuned | proxy | 32 | 1,235 | 125 us | 500 us | 0 |" in lines[2]
    assert "rejected" in lines[3] and "**9** (3 of 3 rejected)" in lines[3]
    noisy = {key("health"): cell(1000.0)}
    noisy[key("health")].cpu["foreign"] = 0.5  # type: ignore[index]
    marked = scenario_table(noisy, scenario="health", pairs=["gunicorn-nginx"], noise_cores=0.15)
    assert "| 1,000 (noisy) |" in marked


def test_ratio_tables() -> None:
    results = {
        key("health"): cell(900.0),
        key("health", "direct"): cell(1000.0),
        key("health", variant="defaults"): cell(300.0),
    }
    assert "| gunicorn-nginx | tuned | 0.90x |" in proxy_direct_table(
        results, pairs=["gunicorn-nginx"]
    )
    assert "| gunicorn-nginx | 3.00x |" in tuned_defaults_table(results, pairs=["gunicorn-nginx"])
    results |= {
        key("wait", conns=128): cell(500.0),
        key("wait", variant="defaults", conns=128): cell(100.0),
    }
    table = tuned_defaults_table(results, pairs=["gunicorn-nginx"])
    assert table.splitlines()[0] == "| pair | health @32 | wait @128 |"
    assert "| gunicorn-nginx | 3.00x | 5.00x |" in table


# A --quick run's plan, as results.json records it.
QUICK_PLAN = {
    "pairs": ["gunicorn-nginx"],
    "variants": ["tuned"],
    "scenarios": ["health"],
    "connections": [32],
    "sweep_scenarios": ["health"],
    "headline": 32,
    "duration_s": 2.0,
    "warmup_s": 1.0,
    "runs": 3,
}


def test_load_section_names_the_machine_command_and_verdicts() -> None:
    results = {key("health"): cell(900.0), key("health", "direct"): cell(1000.0)}
    meta = {
        "date": "2025-01-01 00:00 UTC",
        "elapsed_s": 75.0,
        "command": ".venv/bin/python -m bench --quick",
        "machine": {"nproc": 2, "cpu_model": "Test CPU", "memory_gib": 24.0, "kernel": "Linux"},
        "plan": QUICK_PLAN,
        "client": "wrk in a container",
    }
    goals = evaluate_goals(results, pairs=["gunicorn-nginx"], connections=[32])
    text = render_load_section(meta=meta, results=results, goals=goals, rejected=[], chart=None)
    assert "    .venv/bin/python -m bench --quick" in text
    assert "Test CPU, 2 CPUs (nproc), 24.0 GiB memory" in text
    assert "1 min 15 s" in text
    assert "**met**" in text and "not measured" in text
    assert "#### Rejected runs\n\nNone." in text
    assert "connections 32 for health, 32 for the rest;" in text
    # The waiting view's own connection counts are said, not hidden behind the sweep.
    meta["plan"]["scenarios"] = ["health", "wait"]
    text = render_load_section(meta=meta, results=results, goals=goals, rejected=[], chart=None)
    assert "connections 32 for health; 32, 128 for wait, 32 for the rest;" in text


def test_replace_section_keeps_everything_else() -> None:
    document = "intro\n<!-- bench:load:begin -->\nold\n<!-- bench:load:end -->\nanalysis\n"
    updated = replace_section(document, name="load", body="new table\n")
    assert updated == (
        "intro\n<!-- bench:load:begin -->\nnew table\n<!-- bench:load:end -->\nanalysis\n"
    )
    with pytest.raises(ValueError):
        replace_section(document, name="program", body="x")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.25, "250 us"), (12.34, "12.3 ms"), (345.0, "345 ms"), (1234.0, "1.23 s"), (None, "n/a")],
)
def test_latency_formatting(value: float | None, text: str) -> None:
    assert fmt_ms(value) == text


def test_other_formatting() -> None:
    assert fmt_ratio(1.234) == "1.23x"
    assert fmt_seconds(5.5) == "5.50 s"
    assert fmt_seconds(200) == "3 min 20 s"


# --- plan ---------------------------------------------------------------------------------


def test_plan_sweeps_only_the_sweep_scenarios_and_skips_direct_static() -> None:
    plan = Plan(
        pairs=ALL_PAIRS,
        variants=(Variant.TUNED, Variant.DEFAULTS),
        scenarios=("health", "index", "static-1k", "static-100k"),
        connections=(8, 32, 128),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=3, warmup_s=1, runs=3),
    )
    cells = plan.cells(pair=ALL_PAIRS[0], variant=Variant.TUNED)
    assert len(cells) == 3 + 3 + 1 + 1 + 1 + 1
    assert not any(c.target == "direct" and c.scenario.startswith("static") for c in cells)
    defaults = plan.cells(pair=ALL_PAIRS[0], variant=Variant.DEFAULTS)
    assert [c.connections for c in defaults if c.target == "direct"] == [32, 32]
    assert len(plan.all_cells()) == 6 * (10 + 8)
    assert 60 * 20 < plan.estimate_s() < 60 * 35


def test_the_waiting_view_runs_at_32_and_128_through_the_proxy_whatever_the_sweep() -> None:
    quick = Plan(
        pairs=ALL_PAIRS[:1],
        variants=(Variant.TUNED, Variant.DEFAULTS),
        scenarios=("health", "wait"),
        connections=(32,),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=2, warmup_s=1, runs=3),
    )
    for variant in (Variant.TUNED, Variant.DEFAULTS):
        waits = [c for c in quick.cells(pair=ALL_PAIRS[0], variant=variant) if c.scenario == "wait"]
        # The tutorial defaults also directly, at 32: the slow clients' reference there.
        direct = [("direct", 32)] if variant is Variant.DEFAULTS else []
        assert [(c.target, c.connections) for c in waits] == [
            ("proxy", 32),
            ("proxy", 128),
            *direct,
        ]
    full = Plan(
        pairs=ALL_PAIRS,
        variants=(Variant.TUNED, Variant.DEFAULTS),
        scenarios=tuple(SCENARIOS),
        connections=(8, 32, 128),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=3, warmup_s=1, runs=3),
    )
    assert {c.connections for c in full.all_cells() if c.scenario == "wait"} == {32, 128}
    # Only the waiting view leaves a queue behind a run worth waiting for (Scenario.drain).
    assert [s.key for s in SCENARIOS.values() if s.drain] == ["wait", "slow"]
    # --quick (one pair, every scenario) stays under the 5 minutes, with the
    # waiting view at both its counts.
    quick_all = Plan(
        pairs=ALL_PAIRS[:1],
        variants=(Variant.TUNED, Variant.DEFAULTS),
        scenarios=tuple(SCENARIOS),
        connections=(32,),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=2, warmup_s=1, runs=3),
    )
    assert quick_all.estimate_s() < 60 * 4.5
    # The full run stays inside the 45 minutes: the estimate leaves out waiting for
    # a quiet machine (~7 min at most), and overestimates the rest (the last full run took
    # 28.9 min where this estimate of its plan says 30.9). With the slow clients it is 39.3,
    # and 41.8 with the TLS cost's two deployments: at the edge of the 45 minutes.
    assert full.estimate_s() < 60 * 40
    assert replace(full, variants=parse_variants(FULL["variants"])).estimate_s() < 60 * 42


def test_plan_rejects_a_headline_outside_the_sweep() -> None:
    with pytest.raises(ValueError, match="headline"):
        Plan(
            pairs=ALL_PAIRS,
            variants=(Variant.TUNED,),
            scenarios=("health",),
            connections=(8,),
            sweep_scenarios=("health",),
            headline=32,
            timing=Timing(duration_s=1, warmup_s=0, runs=1),
        )


def test_pairs_and_variants() -> None:
    assert [p.key for p in ALL_PAIRS] == [
        "gunicorn-nginx",
        "gunicorn-apache",
        "uwsgi-nginx",
        "uwsgi-apache",
        "mod_wsgi-nginx",
        "mod_wsgi-apache",
    ]
    assert Pair.parse("uwsgi-apache").title == "uWSGI + Apache"
    assert Pair.parse("mod_wsgi-nginx").title == "mod_wsgi + nginx"
    # Container names become wrk's URL host, which may not hold an underscore.
    names = {stack_name(pair=p, variant=v) for p in ALL_PAIRS for v in Variant}
    assert len(names) == len(Variant) * len(ALL_PAIRS)
    assert all(re.fullmatch(r"[a-z0-9-]+", n) for n in names)
    with pytest.raises(ValueError, match="allowed"):
        Pair.parse("unicorn-nginx")
    tuned = stack_overrides(pair=ALL_PAIRS[0], variant=Variant.TUNED)
    assert "workers" not in tuned and tuned["replicas"] == 2
    defaults = stack_overrides(pair=ALL_PAIRS[0], variant=Variant.DEFAULTS)
    assert defaults["workers"] == 1 and defaults["threads"] == 1
    assert defaults["proxyWorkers"] == 1 and defaults["upstreamKeepalive"] is False
    mod_wsgi = stack_overrides(pair=Pair.parse("mod_wsgi-apache"), variant=Variant.DEFAULTS)
    assert mod_wsgi["workers"] == 1 and mod_wsgi["threads"] == 15
    # The TLS variant is the tuned stack with HTTPS at the proxy, and nothing else.
    tls = stack_overrides(pair=ALL_PAIRS[0], variant=Variant.TLS)
    assert tls == {**tuned, "tls": {"mode": "self-signed"}}
    # One load generator is one client: no per-client limit may refuse it.
    for overrides in (tuned, defaults, mod_wsgi, tls):
        assert overrides["rateLimit"] == {"requestsPerSecond": 0, "connectionsPerClient": 0}


# --- CPU accounting -----------------------------------------------------------------------


def test_proc_stat_busy_excludes_idle_and_iowait() -> None:
    stat = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n"
    assert cpu.parse_proc_stat_busy(stat) == pytest.approx(160 / cpu.USER_HZ)


def test_sockstat_and_cgroup_stat_parsing() -> None:
    sockstat = "sockets: used 72\nTCP: inuse 2 orphan 0 tw 250 alloc 27 mem 10\nUDP: inuse 0\n"
    assert cpu.parse_sockstat(sockstat) == {
        "inuse": 2,
        "orphan": 0,
        "tw": 250,
        "alloc": 27,
        "mem": 10,
    }
    assert cpu.parse_key_values("nr_periods 10\nnr_throttled 4\nthrottled_time 99\n") == {
        "nr_periods": 10,
        "nr_throttled": 4,
        "throttled_time": 99,
    }


def test_cores_by_role_adds_replicas_and_leaves_the_rest_to_others() -> None:
    before = cpu.Snapshot(
        at=10.0,
        containers={
            "a": cpu.ContainerCpu(0, periods=0, throttled=0),
            "b": cpu.ContainerCpu(0, periods=0, throttled=0),
            "p": cpu.ContainerCpu(0, periods=0, throttled=0),
        },
        host_busy_s=100.0,
    )
    after = cpu.Snapshot(
        at=12.0,
        containers={
            "a": cpu.ContainerCpu(1_000_000_000, periods=20, throttled=10),
            "b": cpu.ContainerCpu(500_000_000, periods=20, throttled=0),
            "p": cpu.ContainerCpu(1_000_000_000, periods=10, throttled=0),
        },
        host_busy_s=103.5,
    )
    cores, throttled = cpu.cores_by_role(before, after, {"a": "app", "b": "app", "p": "proxy"})
    assert cores["app"] == pytest.approx(0.75)
    assert cores["proxy"] == pytest.approx(0.5)
    assert cores["host"] == pytest.approx(1.75)
    assert cores["others"] == pytest.approx(0.5)
    assert "foreign" not in cores  # no engine-wide counter in these snapshots
    assert throttled == {"app": 0.25, "proxy": 0.0}


def test_foreign_is_other_containers_and_the_engine_is_apart() -> None:
    before = cpu.Snapshot(
        at=0.0,
        containers={"mine": cpu.ContainerCpu(0)},
        host_busy_s=0.0,
        docker_total_ns=0,
        engine_s=10.0,
    )
    after = cpu.Snapshot(
        at=4.0,
        containers={"mine": cpu.ContainerCpu(4_000_000_000)},
        host_busy_s=8.0,
        docker_total_ns=6_000_000_000,  # 1 s of it: someone else's container
        engine_s=12.0,  # dockerd copying log lines
    )
    cores, _ = cpu.cores_by_role(before, after, {"mine": "app"})
    assert cores["app"] == pytest.approx(1.0)
    assert cores["foreign"] == pytest.approx(2.0 / 4)
    assert cores["engine"] == pytest.approx(2.0 / 4)
    assert cores["others"] == pytest.approx(1.0)


def test_process_cpu_from_proc_stat_line() -> None:
    line = "1234 (docker d) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 30 0 5 0 0"
    assert cpu.parse_process_cpu_s(line) == pytest.approx(300 / cpu.USER_HZ)


def test_the_recorded_command_leaves_out_the_output_directory() -> None:
    from bench.__main__ import _command

    assert _command(["--write-docs", "--out", "/tmp/x", "--runs", "3", "--out=/y"]) == (
        ".venv/bin/python -m bench --write-docs --runs 3"
    )


# --- the TLS cost -------------------------------------------------------------------------


def _plan(pairs: tuple[Pair, ...], variants: tuple[Variant, ...]) -> Plan:
    return Plan(
        pairs=pairs,
        variants=variants,
        scenarios=tuple(SCENARIOS),
        connections=(8, 32, 128),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=3, warmup_s=1, runs=3),
    )


def test_the_tls_variant_loads_http_then_https_on_one_pair_per_proxy() -> None:
    plan = _plan(ALL_PAIRS, (Variant.TUNED, Variant.TLS))
    measured = {p.key: plan.cells(pair=p, variant=Variant.TLS) for p in ALL_PAIRS}
    assert [k for k, cells in measured.items() if cells] == ["gunicorn-nginx", "gunicorn-apache"]
    assert measured["gunicorn-apache"] == [
        CellKey("gunicorn-apache", "tls", "stack-health", "proxy", 32),
        CellKey("gunicorn-apache", "tls", "stack-health", "proxy-tls", 32),
    ]
    # The one path a TLS proxy still passes on over plain HTTP: the same view both ways.
    assert ALL_SCENARIOS["stack-health"].path == "/_stack/health"
    assert "stack-health" not in SCENARIOS  # no other variant loads it
    # Two more deployments (not six), two cells each.
    without = _plan(ALL_PAIRS, (Variant.TUNED,))
    per_cell = 1 + 3 * 3 + 4 * 0.4
    assert plan.estimate_s() - without.estimate_s() == pytest.approx(2 * 50 + 4 * per_cell)
    # A pair list of one proxy only: one TLS deployment.
    uwsgi_first = _plan((Pair.parse("uwsgi-nginx"), ALL_PAIRS[0]), (Variant.TLS,))
    assert [c.pair for c in uwsgi_first.all_cells()] == ["uwsgi-nginx", "uwsgi-nginx"]


def test_quick_stays_under_five_minutes_and_the_full_run_has_the_tls_cost() -> None:
    assert "tls" in parse_list(FULL["variants"])
    plan = Plan(
        pairs=parse_pairs(QUICK["pairs"]),
        variants=parse_variants(QUICK["variants"]),
        scenarios=tuple(SCENARIOS),
        connections=parse_ints(QUICK["connections"]),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=QUICK["duration"], warmup_s=QUICK["warmup"], runs=QUICK["runs"]),
    )
    assert plan.estimate_s() < 60 * 4.5  # the issue: --quick under 5 minutes
    # The TLS cost alone, on its own: quick too.
    assert _plan(plan.pairs, (Variant.TLS,)).estimate_s() < 2 * 60


def test_the_tls_target_is_the_proxys_https_port_from_the_public_network() -> None:
    stack = StackUnderTest(
        name="bench-gunicorn-nginx-tls",
        pair=ALL_PAIRS[0],
        variant=Variant.TLS,
        run_id="r",
        load_cpus="1",
        tools="t",
        engine=[],
    )
    assert stack.base_url(Target.PROXY_TLS) == (
        "https://django-stack-bench-gunicorn-nginx-tls-proxy:8443"
    )
    assert stack.load_container(Target.PROXY_TLS) == stack.load_public
    assert stack.load_container(Target.DIRECT) == stack.load_private


def test_tls_cost_is_https_over_http_per_proxy() -> None:
    def tls_key(pair: str, target: str) -> CellKey:
        return CellKey(pair, "tls", "stack-health", target, 32)

    results = {
        tls_key("gunicorn-nginx", "proxy"): cell(1000.0),
        tls_key("gunicorn-nginx", "proxy-tls"): cell(800.0),
        tls_key("gunicorn-apache", "proxy"): cell(500.0),
        tls_key("gunicorn-apache", "proxy-tls"): cell(None),
        key("health"): cell(900.0),
    }
    table = tls_cost_table(results, pairs=["gunicorn-nginx", "gunicorn-apache"])
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| gunicorn-nginx | 32 | 1,000 | 800 | 0.80x |")
    assert rows[1].startswith("| gunicorn-apache | 32 | 500 | rejected | n/a |")
    assert len(rows) == 2  # the tuned cell is no TLS pair


def test_the_tls_section_lists_its_rejected_runs() -> None:
    meta = {
        "date": "2026-12-01 14:00 UTC",
        "elapsed_s": 200.0,
        "command": ".venv/bin/python -m bench --variants tls",
        "machine": {"nproc": 2, "cpu_model": "Test CPU", "memory_gib": 24.0, "kernel": "Linux"},
        "plan": {"pairs": ["gunicorn-nginx"], "duration_s": 3.0, "warmup_s": 1.0, "runs": 3},
        "client": "wrk in a container",
    }
    results = {CellKey("gunicorn-nginx", "tls", "stack-health", "proxy", 32): cell(1000.0)}
    text = render_tls_section(
        meta=meta, results=results, rejected=["gunicorn-nginx tls ... run 2: 3 socket read errors"]
    )
    assert "    .venv/bin/python -m bench --variants tls" in text
    assert "| gunicorn-nginx | 32 | 1,000 | n/a | n/a |" in text  # HTTPS never ran
    assert text.endswith("Rejected runs:\n\n- gunicorn-nginx tls ... run 2: 3 socket read errors\n")


# --- who deploys ----------------------------------------------------------------------------


def test_the_engine_deploys_unless_something_it_needs_is_missing() -> None:
    engine = choose_method([])
    assert engine.deployer is Deployer.ENGINE
    assert engine.describe().startswith("`pulumi up` under the real engine")
    harness = choose_method(["no Pulumi CLI (scripts/install-pulumi.sh builds one)", "no docker"])
    assert harness.deployer is Deployer.HARNESS
    assert harness.describe().endswith(
        "not the real engine (no Pulumi CLI (scripts/install-pulumi.sh builds one); no docker)"
    )


def test_timings_of_the_stacks_are_a_span_or_one_figure() -> None:
    assert timing_phrase({}) == ""
    assert timing_phrase({"a": {"deploy_s": 50.2}}) == "deploy 50 s per stack"
    # A stack whose teardown has not ended yet (an interrupted run) counts for its deploy only.
    two = {"a": {"deploy_s": 61.0, "teardown_s": 30.4}, "b": {"deploy_s": 49.6}}
    assert timing_phrase(two) == "deploy 50-61 s, teardown 30 s per stack"


def test_under_the_engine_only_the_last_teardown_adds_to_the_estimate() -> None:
    engine, harness = choose_method([]), choose_method(["no Pulumi CLI"])
    assert harness.estimate_s(3) == 3 * DEPLOY_S
    assert engine.estimate_s(3) == 3 * DEPLOY_S + ENGINE_TEARDOWN_S
    assert engine.estimate_s(0) == 0


def test_a_proc_stat_line_gives_name_state_and_parent() -> None:
    # Lines as /proc/<pid>/stat has them (proc_pid_stat(5)); the second with a name that holds
    # a space and a ")", and a zombie.
    line = "4242 (pulumi) S 4100 4100 3900 0 -1 4194560 12000 0 0 0 90 40 0 0 20 0 17 0"
    assert parse_stat(line) == ("pulumi", "S", 4100)
    odd = "77 (a) b) Z 1 77 77 0 -1 4194564 100 0 0 0 0 0 0 0 20 0 1 0"
    assert parse_stat(odd) == ("a) b", "Z", 1)


# What the real CLI (3.274) printed for a resource the provider refused (a RandomPassword of
# length -3 under the project's random plugin), as CommandError's message holds it.
FAILED_UP = """
 code: 1
 stdout: Updating (check):

 +  pulumi:pulumi:Stack check-check creating (0s)
    random:index:RandomPassword db-password  error: random:index/randomPassword:RandomPassword \
resource 'db-password': property length value {-3} has a problem: length must be 1 or more, got -3
 +  pulumi:pulumi:Stack check-check created (0.07s)
    random:index:RandomPassword db-password **failed** 1 error
Diagnostics:
  random:index:RandomPassword (db-password):
    error: random:index/randomPassword:RandomPassword resource 'db-password': property length \
value {-3} has a problem: length must be 1 or more, got -3

Resources:
    + 1 created
    1 errored

Duration: 1s

 stderr:
"""


def test_a_failed_pulumi_command_is_summed_up_by_its_diagnostics() -> None:
    assert pulumi_error_summary(FAILED_UP) == (
        "random:index:RandomPassword (db-password): error: random:index/randomPassword:"
        "RandomPassword resource 'db-password': property length value {-3} has a problem: "
        "length must be 1 or more, got -3"
    )
    # Without any `error:` line (the CLI itself failed), the end of what it printed.
    assert pulumi_error_summary(" code: 255\n stderr: no Pulumi.yaml", limit=14) == "no Pulumi.yaml"


def test_the_report_says_what_deployed_the_stacks() -> None:
    meta: dict[str, Any] = {
        "date": "2026-12-02 06:00 UTC",
        "elapsed_s": 200.0,
        "command": ".venv/bin/python -m bench --quick",
        "machine": {"nproc": 2},
        "plan": QUICK_PLAN,
        "deployed_by": choose_method([]).describe(),
        "deployments": {
            "bench-gunicorn-nginx-tuned": {"deploy_s": 189.2, "teardown_s": 57.0},
            "bench-gunicorn-nginx-defaults": {"deploy_s": 53.4, "teardown_s": 36.6},
        },
    }
    results = {key("health"): cell(900.0)}
    goals = evaluate_goals(results, pairs=["gunicorn-nginx"], connections=[32])
    load = render_load_section(meta=meta, results=results, goals=goals, rejected=[], chart=None)
    tls = render_tls_section(meta=meta, results=results, rejected=[])
    for text in (load, tls):
        assert "\n- Deployed by `pulumi up` under the real engine (Automation API" in text
        assert "the next one deploys (deploy 53-189 s, teardown 37-57 s per stack).\n" in text
    # A results file from before the deployer was recorded: every such run was the harness's.
    del meta["deployed_by"], meta["deployments"]
    load = render_load_section(meta=meta, results=results, goals=goals, rejected=[], chart=None)
    assert "\n- Deployed by the end-to-end harness (the results file does not say;" in load


# --- slow clients ---------------------------------------------------------------------------


def _slow_plan(variants: tuple[Variant, ...] = (Variant.TUNED, Variant.DEFAULTS)) -> Plan:
    return Plan(
        pairs=ALL_PAIRS,
        variants=variants,
        scenarios=("wait", "slow"),
        connections=(32,),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=2, warmup_s=1, runs=3),
    )


def test_slow_clients_run_through_the_proxy_tuned_and_directly_to_the_sync_worker() -> None:
    plan = _slow_plan()
    pair = Pair.parse("gunicorn-nginx")
    tuned = [
        (c.scenario, c.target, c.connections) for c in plan.cells(pair=pair, variant=Variant.TUNED)
    ]
    defaults = [
        (c.scenario, c.target, c.connections)
        for c in plan.cells(pair=pair, variant=Variant.DEFAULTS)
    ]
    # Each slow cell right after its reference, on the same servers.
    assert tuned == [("wait", "proxy", 32), ("wait", "proxy", 128), ("slow", "proxy", 32)]
    assert defaults == [
        ("wait", "proxy", 32),
        ("wait", "proxy", 128),
        ("wait", "direct", 32),
        ("slow", "direct", 32),
    ]
    # The tutorial defaults are Gunicorn's one sync worker (no threads).
    assert stack_overrides(pair=pair, variant=Variant.DEFAULTS)["workers"] == 1
    assert stack_overrides(pair=pair, variant=Variant.DEFAULTS)["threads"] == 1
    slow = SCENARIOS["slow"].slow_clients
    assert slow is not None
    assert (slow.clients, slow.rate_bytes_per_s, slow.path, slow.reference) == (
        64,
        1024,
        "/bulk/",
        "wait",
    )
    # They outlast wrk's run, bounded well inside the reader's 30 s.
    assert slow.settle_s + 2 < slow.duration_s(2) <= 30


def test_slow_cells_have_no_warmup_and_cost_their_readers_time() -> None:
    only_tuned = _slow_plan((Variant.TUNED,))
    without_slow = Plan(
        pairs=ALL_PAIRS,
        variants=(Variant.TUNED,),
        scenarios=("wait",),
        connections=(32,),
        sweep_scenarios=("health",),
        headline=32,
        timing=Timing(duration_s=2, warmup_s=1, runs=3),
    )
    slow = SCENARIOS["slow"].slow_clients
    assert slow is not None
    added = only_tuned.estimate_s() - without_slow.estimate_s()
    # One slow cell per pair: 3 runs of (settling + 2 s + the readers' tail + overhead).
    assert added == pytest.approx(6 * 3 * (slow.duration_s(2) + 0.4))


def _slow_run(rps: float, *, timeouts: int = 0, non_2xx: int = 0, connected: int = 64) -> RunRecord:
    base = parse_wrk(CLEAN)
    wrk = type(base)(
        requests=0 if rps == 0 else base.requests,
        duration_s=2.0,
        requests_per_s=rps,
        bytes_read=base.bytes_read,
        latency_avg_ms=1.0,
        latency_max_ms=50.0,
        percentiles_ms={50: 5.0, 75: 6.0, 90: 7.0, 99: 40.0},
        socket_errors=SocketErrors(timeout=timeouts),
        non_2xx=non_2xx,
    )
    seen = {"clients": 64, "connections": connected, "answers_started": 3, "bytes_read": 6144}
    return RunRecord.beside_slow_clients(wrk, slow=seen, clients=64)


def test_a_run_beside_slow_clients_counts_timeouts_but_not_error_answers() -> None:
    # Timeouts, even no request at all, are what the slow clients do to the normal load.
    assert _slow_run(0.0, timeouts=32).accepted
    assert _slow_run(12.0, timeouts=5).accepted
    # An error answer is counted in wrk's rate: the run cannot say how many were served.
    assert _slow_run(900.0, non_2xx=4).rejection == "4 non-2xx responses"
    # Slow readers that did not all connect did not measure the scenario.
    short = _slow_run(900.0, connected=10)
    assert short.rejection == "slow readers opened 10 of 64 connections"
    # The same wrk report outside the slow scenario is rejected.
    assert (
        parse_wrk(
            CLEAN.replace(
                "Requests/sec",
                "  Socket errors: connect 0, read 0, write 0, timeout 3\nRequests/sec",
            )
        ).rejection()
        is not None
    )
    again = RunRecord.from_dict(_slow_run(10.0, timeouts=2).to_dict())
    assert again.slow["answers_started"] == 3
    assert summarize([_slow_run(1.0), _slow_run(3.0), _slow_run(2.0)]).slow["bytes_read"] == 6144


def _slow_results(proxy_beside: float, direct_beside: float | None) -> dict[CellKey, CellSummary]:
    def with_slow(summary: CellSummary) -> CellSummary:
        return replace(
            summary, slow={"connections": 64.0, "answers_started": 2.0, "bytes_read": 5120.0}
        )

    return {
        key("wait"): cell(200.0),
        key("slow"): with_slow(cell(proxy_beside)),
        key("wait", "direct", "defaults"): cell(49.0),
        key("slow", "direct", "defaults"): with_slow(cell(direct_beside)),
    }


def test_slow_clients_goals_kept_through_the_proxy_taken_directly() -> None:
    kept, taken = goal_slow_clients(_slow_results(185.0, 2.0), pairs=["gunicorn-nginx"])
    (proxy,) = kept.checks
    assert proxy.value == pytest.approx(185.0 / 200.0) and proxy.met is True
    (direct,) = taken.checks
    assert direct.value == pytest.approx(2.0 / 49.0) and direct.met is True
    assert "gunicorn-nginx defaults" in direct.label
    # 170 of 200 is 85%: not kept through the proxy; 49 of 49 directly: not taken.
    kept, taken = goal_slow_clients(_slow_results(170.0, 49.0), pairs=["gunicorn-nginx"])
    assert kept.met is False and taken.met is False
    # Every run beside the slow clients rejected through the proxy: the goal is not met.
    kept, taken = goal_slow_clients(_slow_results(None, None), pairs=["gunicorn-nginx"])  # type: ignore[arg-type]
    assert kept.met is False and "every run rejected" in kept.checks[0].detail
    assert taken.met is None
    names = [
        g.key
        for g in evaluate_goals(
            _slow_results(185.0, 2.0), pairs=["gunicorn-nginx"], connections=[32]
        )
    ]
    assert names[-2:] == ["slow-clients-proxy", "slow-clients-direct"]


def test_slow_clients_table_and_section() -> None:
    results = _slow_results(185.0, 2.0)
    table = slow_clients_table(results, pairs=["gunicorn-nginx"])
    lines = table.splitlines()
    assert len(lines) == 4
    assert re.search(
        r"gunicorn-nginx \| tuned\s+\| proxy\s+\| 32 \| +200 \| +185 \| +0\.93x", lines[2]
    )
    assert re.search(r"\| defaults \| direct \| 32 \| +49 \| +2 \| +0\.04x", lines[3])
    assert lines[2].rstrip(" |").endswith("5")  # 5 KB read by the slow clients
    # Nothing answered beside them: no latency to show (wrk prints zeros).
    nothing = slow_clients_table(_slow_results(185.0, 0.0), pairs=["gunicorn-nginx"])
    assert re.search(r"\| 0\.00x \| +none \|", nothing.splitlines()[3])
    meta = {
        "date": "2026-12-01 14:40 UTC",
        "command": ".venv/bin/python -m bench --quick",
        "machine": {"nproc": 2},
        "plan": _slow_plan().describe(),
    }
    goals = evaluate_goals(results, pairs=["gunicorn-nginx"], connections=[32])
    section = render_load_section(meta=meta, results=results, goals=goals, rejected=[], chart=None)
    assert "without and beside the slow clients" in section
    assert "keeps >= 90% of its rate beside 64 slow clients: **met**" in section
    assert "0.04x (need < 0.9x; 2 beside vs 49 req/s without) - met" in section
    assert "0.93x (need >= 0.9x; 185 beside vs 200 req/s without) - met" in section
    assert "#### waiting view /wait/ beside 64 slow clients (1 KB/s)" in section


def test_engine_scale_hosts_are_distinct_documentation_addresses() -> None:
    from bench.engine_scale import documentation_hosts

    hosts = documentation_hosts(300)
    assert len(set(hosts)) == 300
    assert hosts[0] == "198.51.100.1" and hosts[254] == "203.0.113.1"
    with pytest.raises(ValueError, match="at most 508"):
        documentation_hosts(509)


def test_engine_scale_ratio_is_the_largest_count_over_the_smallest() -> None:
    from bench.engine_scale import PreviewTiming, summarize

    def runs(*walls: float) -> list[PreviewTiming]:
        return [PreviewTiming(w, 1.0, 1.0, 10) for w in walls]

    summary = summarize({100: runs(40.0, 50.0, 60.0), 10: runs(4.0, 5.0, 9.0)})
    assert summary["counts"] == (10, 100)
    assert summary["rows"][100]["wall_s"] == 50.0 and summary["rows"][10]["wall_s"] == 5.0
    assert summary["ratio"] == 10.0
