"""Images built on the target Docker engine from a rendered build context."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.render.build_context import BuildContext


def image_tag(*, repository: str, context: BuildContext) -> str:
    """`repository:digest`: the tag changes exactly when the context does."""
    return f"{repository}:{context.digest()}"


def local_image(
    resource_name: str,
    *,
    repository: str,
    context: BuildContext,
    build_dir: Path,
    build_args: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> docker.Image:
    """Write the context under `build_dir` and build it on the engine, without pushing.

    Images stay on the engine that runs the containers (local or `dockerHost`), so no
    registry is needed.
    """
    directory = context.write(build_dir / resource_name)
    return docker.Image(
        resource_name,
        image_name=image_tag(repository=repository, context=context),
        build=docker.DockerBuildArgs(
            context=str(directory),
            dockerfile=str(directory / "Dockerfile"),
            args=dict(build_args),
            builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
        ),
        skip_push=True,
        opts=opts,
    )
