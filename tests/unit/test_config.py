"""components/config.py: every stack file parses; every bad value gets one clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.choices import AppServer, DatabaseKind, DebianRelease, MediaKind, Platform, Proxy
from components.config import ConfigError, StackConfig, config_warnings, parse_stack_config
from components.render.proxy_config import RateLimit
from tests.support.stack_files import (
    PROJECT_DIR,
    shipped_stack_config,
    stack_config,
    stack_names,
)

CASES = json.loads((Path(__file__).parent / "cases" / "bad_config.json").read_text())


def parse(stack: str = "dev", **overrides: Any) -> StackConfig:
    raw = {**shipped_stack_config(stack), **stack_config(stack, overrides)}
    values = {k.split(":", 1)[1]: v for k, v in raw.items()}
    return parse_stack_config(values, stack=stack, project_dir=PROJECT_DIR)


def test_there_are_three_stacks_with_different_choices() -> None:
    assert stack_names() == ["dev", "prod", "staging"]
    pairs = {(c.app_server, c.proxy, c.replicas) for c in map(parse, stack_names())}
    assert len(pairs) == 3


@pytest.mark.parametrize("stack", stack_names())
def test_stack_file_parses(stack: str) -> None:
    config = parse(stack)
    assert config.platform in (Platform.DOCKER, Platform.VM)
    assert config.replicas >= 1
    assert config.workers >= 1 and config.threads >= 1
    assert (config.app_path / "requirements.txt").is_file()


def test_defaults_are_production_safe() -> None:
    config = parse_stack_config({}, stack="x", project_dir=PROJECT_DIR)
    assert config.app_server is AppServer.GUNICORN and config.proxy is Proxy.NGINX
    assert config.replicas == 2
    assert config.production is True and config.debug is False
    assert config.bind_address == "127.0.0.1"
    assert config.database.kind is DatabaseKind.POSTGRES and config.database.shared
    # (2 x cores) + 1 for one CPU per replica.
    assert config.workers == 3
    # Debian 13, the current stable release.
    assert config.base_image == "debian:trixie-slim"
    assert config.debian_release is DebianRelease.TRIXIE
    # nginx's own default body limit, now on both proxies and in Django.
    assert config.max_body_mb == 10
    assert parse(maxBodyMb=64).max_body_mb == 64
    # Per-client limits that ordinary browsing never reaches (proxy_config.py says why).
    assert config.rate_limit == RateLimit(
        requests_per_second=20, burst=100, connections_per_client=128
    )
    assert parse(rateLimit={"requestsPerSecond": 5, "connectionsPerClient": 0}).rate_limit == (
        RateLimit(requests_per_second=5, burst=100, connections_per_client=0)
    )


@pytest.mark.parametrize(
    ("overrides", "release"),
    [
        ({"baseImage": "debian:bookworm-slim"}, DebianRelease.BOOKWORM),
        ({"baseImage": "debian:12"}, DebianRelease.BOOKWORM),
        (
            {"baseImage": "registry.example.com:5000/debian:trixie-20260101-slim"},
            DebianRelease.TRIXIE,
        ),
        ({"debianRelease": "bookworm"}, DebianRelease.BOOKWORM),
        ({"debianRelease": "12"}, DebianRelease.BOOKWORM),
        # An image that names no release: debianRelease says it, else the default is assumed.
        ({"baseImage": "registry.example.com/base:2026"}, DebianRelease.TRIXIE),
        (
            {"baseImage": "registry.example.com/base:2026", "debianRelease": "bookworm"},
            DebianRelease.BOOKWORM,
        ),
        ({"baseImage": "debian:stable-slim", "debianRelease": "trixie"}, DebianRelease.TRIXIE),
    ],
)
def test_the_debian_release_follows_the_base_image(
    overrides: dict[str, str], release: DebianRelease
) -> None:
    assert parse(**overrides).debian_release is release


def test_debian_release_alone_picks_its_slim_image() -> None:
    assert parse(debianRelease="bookworm").base_image == "debian:bookworm-slim"
    assert parse(debianRelease="13").base_image == "debian:trixie-slim"


def test_workers_follow_cpus_unless_overridden() -> None:
    assert parse(cpusPerReplica=2).workers == 5
    assert parse(cpusPerReplica=2, workers=7, threads=4).workers == 7
    assert parse(threads=4).threads == 4


def test_secret_values_never_show_in_repr() -> None:
    config = parse(secretKey="s3cr3t-value-123", databasePassword="pw-456")
    assert "s3cr3t" not in repr(config) and "pw-456" not in repr(config)
    assert config.secret_key is not None and config.secret_key.value == "s3cr3t-value-123"


def test_external_database_with_host_and_password() -> None:
    config = parse(
        database={"kind": "external", "host": "db.internal", "port": 6432}, databasePassword="pw"
    )
    assert config.database.host == "db.internal" and config.database.port == 6432


def test_another_project_with_its_own_modules() -> None:
    config = parse(appPath="tests/fixtures/otherproject", wsgiModule="shopfront.wsgi")
    assert config.wsgi_callable == "shopfront.wsgi:application"
    # The settings module defaults to the one startproject puts beside wsgi.py.
    assert config.settings_module == "shopfront.settings"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_config_names_key_value_and_allowed(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        parse(**case["overrides"])
    message = str(error.value)
    for expected in case["expect"]:
        assert expected in message, message
    # Secrets given with a bad value are never repeated in the message.
    for forbidden in case.get("forbid", []):
        assert forbidden not in message, message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        parse(appServer="unicorn", proxy="caddy", replicas=0)
    message = str(error.value)
    assert message.count("\n  - ") == 3


def test_prod_runs_on_virtual_machines_and_the_others_on_docker() -> None:
    assert parse("prod").platform is Platform.VM
    assert parse("dev").platform is Platform.DOCKER and parse("staging").platform is Platform.DOCKER


def test_docker_stacks_keep_uploads_on_a_retained_volume_by_default() -> None:
    for stack in ("dev", "staging"):
        media = parse(stack).media
        assert media.kind is MediaKind.VOLUME
        assert (media.url, media.retain_on_delete) == ("/media/", True)
    assert parse().max_body_mb == 10
    chosen = parse(media={"kind": "volume", "url": "/uploads/", "retainOnDelete": False})
    assert (chosen.media.url, chosen.media.retain_on_delete) == ("/uploads/", False)
    assert parse(maxBodyMb=200).max_body_mb == 200


def test_no_media_on_a_production_stack_is_said_plainly() -> None:
    """A production stack without media says so in its preview, dev stacks do not."""
    prod = parse("prod")
    # prod (EC2) keeps uploads in the bucket the program creates.
    assert prod.media.kind is MediaKind.S3 and prod.media.s3 is not None
    assert prod.media.s3.created_by_stack
    assert [w for w in config_warnings(prod) if "media" in w] == []
    (warning,) = [w for w in config_warnings(parse("prod", media={"kind": "none"})) if "media" in w]
    assert "media.kind is 'none' on a production stack" in warning
    assert "fails every upload" in warning
    files = {"tls": {"mode": "off"}}
    assert config_warnings(parse("staging", **files)) == []
    assert config_warnings(parse("staging", media={"kind": "none"}, **files)) != []
    assert config_warnings(parse("dev", media={"kind": "none"})) == []  # production: false


def test_system_packages_and_release_commands() -> None:
    config = parse(
        systemPackages=["libjpeg62-turbo", "libpq5", "g++", "libjpeg62-turbo"],
        releaseCommands=["createcachetable", "loaddata 'seed data.json' --verbosity 0"],
    )
    assert config.system_packages == ("libjpeg62-turbo", "libpq5", "g++")
    assert config.release_commands == (
        ("createcachetable",),
        ("loaddata", "seed data.json", "--verbosity", "0"),
    )
    assert parse().system_packages == () and parse().release_commands == ()
