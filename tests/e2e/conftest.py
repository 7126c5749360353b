"""Fixtures for the end-to-end suite: a real Docker engine, and stacks deployed onto it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.choices import AppServer, Proxy
from tests.e2e.deploy import deploy
from tests.e2e.engine import LABEL, docker, engine_available, remove_everything
from tests.e2e.real_engine import ProgramStack
from tests.support.mocks import ProgramRun

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RUN_ID = f"e2e-{os.getpid()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """The run id of this session; everything made under it is removed at the end."""
    if not engine_available():
        pytest.skip("no Docker engine answers (scripts/start-docker-engine.sh starts one)")
    remove_leftovers_of_earlier_runs()
    yield RUN_ID
    # Images are kept when asked, so a developer's next run reuses them.
    remove_images = os.environ.get("DJANGO_STACK_E2E_KEEP_IMAGES") != "1"
    remove_everything(RUN_ID, images=remove_images)
    if remove_images:
        # Imported here: docker_engine builds on this module's Deployed.
        from tests.e2e.docker_engine import remove_images_of_this_run

        remove_images_of_this_run()


def _run_is_over(run_id: str) -> bool:
    """Whether `run_id` names an e2e run whose pytest process has ended (ids are e2e-PID)."""
    prefix, _, pid = run_id.partition("-")
    return prefix == "e2e" and pid.isdigit() and not Path(f"/proc/{pid}").exists()


def remove_leftovers_of_earlier_runs() -> None:
    """An interrupted run (killed, machine stopped) leaves containers that hold the names and
    ports a new run needs, and restart with the engine: remove those of ended runs."""
    runs: set[str] = set()
    for kind in ("ps -a", "network ls", "volume ls"):
        listing = docker(
            *kind.split(),
            "--filter",
            f"label={LABEL}",
            "--format",
            f'{{{{.Label "{LABEL}"}}}}',
            check=False,
        )
        runs.update(v for v in listing.split() if _run_is_over(v))
    for run in sorted(runs):
        remove_everything(run)


def build_overrides() -> dict[str, str]:
    """Builds here pass an intercepting proxy whose CA only the host trusts: hand it over."""
    return {"extraCaBundle": str(HOST_CA_BUNDLE)} if HOST_CA_BUNDLE.is_file() else {}


@dataclass(frozen=True)
class Deployed:
    """A stack running on the engine, and how to reach it.

    Deployed by the harness (`run`: what the program registered) or by the real Pulumi engine
    (`engine`: the stack, for further `up`s; `previewed`: what `pulumi preview` said it would
    do before the first `up`, by operation)."""

    name: str
    outputs: Mapping[str, Any]
    port: int
    run: ProgramRun | None = None
    engine: ProgramStack | None = None
    previewed: Mapping[str, int] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def app_server(self) -> AppServer:
        return AppServer(self.outputs["appServer"])

    @property
    def proxy(self) -> Proxy:
        return Proxy(self.outputs["proxy"])

    def container(self, role: str) -> str:
        """The engine name of a container, e.g. `app-0`, `proxy`, `db`, `migrate`."""
        return f"django-stack-{self.name}-{role}"

    def psql(self, sql: str) -> str:
        """Run SQL in the database container, as its superuser: over the local socket, the
        only way in for it (peer authentication as the container's user)."""
        return docker(
            "exec",
            self.container("db"),
            "psql",
            "-h",
            "/tmp",
            "-U",
            "postgres",
            "-d",
            "django",
            "-At",
            "-c",
            sql,
        ).strip()


def deploy_stack(
    run_id: str,
    name: str,
    *,
    keep_volumes: bool = False,
    alongside: bool = False,
    **overrides: object,
) -> Deployed:
    """Deploy the dev stack file under `name` with overrides, on a free local port.

    `keep_volumes`: a release of what `run_id` runs, onto its volumes (give it the secrets
    of the first deploy: the harness keeps no state, so it would generate new ones).
    `alongside`: a second stack beside what `run_id` already runs, which stays.
    """
    port = free_port()
    run = deploy(
        stack_file="dev",
        stack_name=name,
        overrides={**build_overrides(), "httpPort": port, **overrides},
        run_id=run_id,
        keep_volumes=keep_volumes,
        alongside=alongside,
    )
    assert run.outputs["url"] == f"http://127.0.0.1:{port}/"
    return Deployed(name=name, outputs=run.outputs, port=port, run=run)
