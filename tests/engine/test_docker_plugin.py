"""The project's own `docker` plugin (scripts/docker-provider/) under the real engine.

A native `docker.Image` built from a tiny context on debian:trixie-slim (BuildKit: the
Dockerfile uses a `RUN --mount`, which the classic builder refuses; a build argument; a CA
file of the context, as the program's extraCaBundle), a bridged `docker.Container` running it
and a `docker.Network` that depends on neither. One stack goes through preview, up, a no-op up,
a changed file in the context (the image is rebuilt in place, the container replaced, the
network left alone), a changed imageName in a preview, a failing build, and destroy, on the
shared Docker engine (run it under the engine's lock).

The plugin is scripts/build-docker-provider.sh's (DJANGO_STACK_DOCKER_PLUGIN names another
binary); without it the test skips, which DJANGO_STACK_REQUIRE_E2E=1 turns into a failure.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pytest
from pulumi import automation as auto

from deploy.workspace import OFFLINE_ENV, local_backend, pulumi_command
from tests.engine.conftest import cli_dir, own_plugin

pytestmark = pytest.mark.engine
# The plugin version the Python SDK asks the engine for.
PLUGIN_VERSION = importlib.metadata.version("pulumi-docker")
DOCKERFILE = """\
FROM debian:trixie-slim
ARG GREETING_SUFFIX
# A bind mount from the context: BuildKit only (the classic builder rejects --mount).
RUN --mount=type=bind,source=greeting,target=/tmp/greeting \\
    cat /tmp/greeting > /greeting && echo "$GREETING_SUFFIX" >> /greeting
COPY extra-ca.crt /extra-ca.crt
CMD ["sleep", "infinity"]
"""
FAILING_DOCKERFILE = """\
FROM debian:trixie-slim
RUN echo the-build-says-why-it-failed-5d1e && exit 7
"""


def _docker(*args: str, check: bool = True) -> str:
    return subprocess.run(
        ["docker", *args], check=check, capture_output=True, text=True, timeout=300
    ).stdout


@dataclass
class Scenario:
    """What the program is asked for in one run."""

    tag: str = "one"
    failing: bool = False


def _program(prefix: str, context: Path, broken: Path, scenario: Scenario) -> auto.PulumiFn:
    def main() -> None:
        network = docker.Network("net", name=f"{prefix}-net")
        image = docker.Image(
            "app",
            image_name=f"{prefix}:{scenario.tag}",
            build=docker.DockerBuildArgs(
                context=str(context),
                dockerfile=str(context / "Dockerfile"),
                args={"GREETING_SUFFIX": "from-a-build-arg"},
                builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
            ),
            skip_push=True,
        )
        container = docker.Container(
            "app",
            name=f"{prefix}-app",
            image=image.repo_digest,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
        )
        if scenario.failing:
            docker.Image(
                "broken",
                image_name=f"{prefix}-broken:one",
                build=docker.DockerBuildArgs(context=str(broken)),
                skip_push=True,
            )
        pulumi.export("image_name", image.image_name)
        pulumi.export("repo_digest", image.repo_digest)
        pulumi.export("base_image_name", image.base_image_name)
        pulumi.export("dockerfile", image.dockerfile)
        pulumi.export("context", image.context)
        pulumi.export("platform", image.platform)
        pulumi.export("registry_server", image.registry_server)
        pulumi.export("container_id", container.id)

    return main


def _image_id(name: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", name, check=False).strip()


def test_image_and_container_under_the_real_engine(tmp_path: Path) -> None:
    folder = cli_dir()
    if folder is None:
        pytest.skip("no Pulumi CLI (scripts/install-pulumi.sh builds one)")
    plugin = own_plugin("docker")
    home = tmp_path / "pulumi-home"
    backend = local_backend(tmp_path / "state")
    env = {**os.environ, **OFFLINE_ENV, **backend.env(), "PULUMI_HOME": str(home)}
    install = ["plugin", "install", "resource", "docker", PLUGIN_VERSION, "--file", str(plugin)]
    subprocess.run([str(folder / "pulumi"), *install], env=env, check=True, capture_output=True)

    prefix = f"djstack-plugin-check-{secrets.token_hex(4)}"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "greeting").write_text("hello, first\n")
    (context / "extra-ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot-a-real-one\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text(FAILING_DOCKERFILE)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    stack = auto.create_or_select_stack(
        stack_name="check",
        project_name="docker-plugin-check",
        program=_program(prefix, context, broken, Scenario()),
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            env_vars={**OFFLINE_ENV, **backend.env(), "PULUMI_HOME": str(home)},
            secrets_provider="passphrase",
            pulumi_command=pulumi_command(folder),
        ),
    )

    def run(scenario: Scenario) -> None:
        stack.workspace.program = _program(prefix, context, broken, scenario)

    built: set[str] = set()
    try:
        # preview: three to create, nothing built.
        preview = stack.preview()
        assert preview.change_summary == {"create": 4}
        assert _image_id(f"{prefix}:one") == ""

        # up: the image is built on the engine under imageName, not pushed (no registry here:
        # a push would fail the up), and the container runs it.
        up = stack.up()
        assert up.summary.resource_changes == {"create": 4}
        outputs = {key: value.value for key, value in up.outputs.items()}
        first_id = _image_id(f"{prefix}:one")
        built.add(first_id)
        assert first_id.startswith("sha256:")
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        assert outputs == {
            "image_name": f"{prefix}:one",
            "repo_digest": first_id,  # not pushed: the local image id
            "base_image_name": f"{prefix}:one",
            "dockerfile": "Dockerfile",
            "context": str(context),
            "platform": f"linux/{arch}",
            "registry_server": "",
            "container_id": outputs["container_id"],
        }
        container = json.loads(_docker("inspect", f"{prefix}-app"))[0]
        assert container["Image"] == first_id and container["State"]["Running"]
        greeting = _docker("exec", f"{prefix}-app", "cat", "/greeting")
        assert greeting == "hello, first\nfrom-a-build-arg\n"
        assert "not-a-real-one" in _docker("exec", f"{prefix}-app", "cat", "/extra-ca.crt")

        # The same program again: nothing to do, nothing rebuilt.
        again = stack.up(expect_no_changes=True)
        assert again.summary.resource_changes == {"same": 4}
        assert _image_id(f"{prefix}:one") == first_id

        # A changed file under the same imageName: the context's digest changes, so the image
        # is rebuilt in place (an update, as pulumi-docker does), the container that runs it is
        # replaced, and the network is left alone.
        (context / "greeting").write_text("hello, second\n")
        changed = stack.up()
        assert changed.summary.resource_changes == {"update": 1, "replace": 1, "same": 2}
        second_id = _image_id(f"{prefix}:one")
        built.add(second_id)
        assert second_id not in ("", first_id)
        assert changed.outputs["repo_digest"].value == second_id
        assert changed.outputs["container_id"].value != outputs["container_id"]
        greeting = _docker("exec", f"{prefix}-app", "cat", "/greeting")
        assert greeting == "hello, second\nfrom-a-build-arg\n"

        # A new imageName is an update of the image too (not a replacement); the container's
        # image is unknown until the build, so it would be replaced.
        run(Scenario(tag="two"))
        renamed = stack.preview()
        assert renamed.change_summary == {"update": 1, "replace": 1, "same": 2}
        run(Scenario())

        # A build that fails fails the up, with the build's own output in the error.
        run(Scenario(failing=True))
        with pytest.raises(auto.CommandError) as failed:
            stack.up()
        message = str(failed.value)
        assert "the-build-says-why-it-failed-5d1e" in message and "exit code: 7" in message
        assert _image_id(f"{prefix}-broken:one") == ""
        run(Scenario())

        # destroy: the container and network go; the image stays on the engine, as
        # pulumi-docker leaves images.
        destroyed = stack.destroy()
        assert destroyed.summary.resource_changes == {"delete": 4}
        assert _docker("ps", "-aq", "--filter", f"name={prefix}") == ""
        assert _docker("network", "ls", "-q", "--filter", f"name={prefix}") == ""
        assert _image_id(f"{prefix}:one") == second_id
    finally:
        stack.workspace.remove_stack("check", force=True)
        for leftover in _docker("ps", "-aq", "--filter", f"name={prefix}").split():
            _docker("rm", "-f", leftover, check=False)
        for leftover in _docker("network", "ls", "-q", "--filter", f"name={prefix}").split():
            _docker("network", "rm", leftover, check=False)
        for image_id in built - {""}:
            _docker("image", "rm", "-f", image_id, check=False)
