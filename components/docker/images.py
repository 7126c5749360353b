"""Images built on the target Docker engine from a rendered build context."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.render.build_context import BuildContext


def image_tag(
    *, repository: str, context: BuildContext, build_args: Mapping[str, pulumi.Input[str]]
) -> str:
    """`repository:digest`: the tag changes exactly when the context or a build argument does.

    The build arguments count because they change the image as much as a file does (another
    `baseImage`, other Debian packages): under an unchanged tag the containers would keep
    running the old image. An argument only known later (an Output, such as the proxy's
    APP_IMAGE) must be covered by the context instead: the proxy's holds the app image's tag.
    """
    sha = hashlib.sha256(context.digest().encode())
    for key, value in sorted(build_args.items()):
        if isinstance(value, str):
            sha.update(b"\0" + key.encode() + b"=" + value.encode())
    return f"{repository}:{sha.hexdigest()[:16]}"


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
        image_name=image_tag(repository=repository, context=context, build_args=build_args),
        build=docker.DockerBuildArgs(
            context=str(directory),
            dockerfile=str(directory / "Dockerfile"),
            args=dict(build_args),
            builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
        ),
        skip_push=True,
        opts=opts,
    )
