"""The job that hands the stack's app volumes to the app's group before each release.

What it does and why: components/render/volume_permissions.py. Here: the container, which is
the one exception to "never root" among the stack's containers, and so is kept to what it
needs: uid 0 in the app's group with every capability dropped but CAP_CHOWN (chgrp) and
CAP_FOWNER (chmod of a file it does not own), no new privileges, a read-only root, the stack's
internal network, the app volumes and nothing else, run once per release (its image is the
release's app image) and before the migration job, which it holds back when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.docker.container_spec import Hardening, Limits, hardened_container_args, job_options
from components.docker.identity import APP_GROUP
from components.docker.target import DockerTarget
from components.render.volume_permissions import volume_permissions_command

LOG_LINES = 20


class VolumePermissionsError(Exception):
    """The job failed: the release stops before its migration."""


def checked_image(*, job: str, image: str, exit_code: int | None, logs: str | None) -> str:
    """`image`, once the job `job` has succeeded; raises with its output if not. (The docker
    provider records an attached container's exit code but does not fail on it.)"""
    if exit_code in (None, 0):
        return image
    tail = "\n".join((logs or "").rstrip().splitlines()[-LOG_LINES:])
    raise VolumePermissionsError(
        f"the volume permissions job {job} exited with {exit_code}; the release stopped "
        f"before its migration. Its output ends:\n{tail or '(no output)'}"
    )


def volume_permissions_job(
    name: str,
    *,
    target: DockerTarget,
    image_name: pulumi.Input[str],
    volumes: Sequence[docker.ContainerVolumeArgs],
    mount_points: Sequence[str],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> pulumi.Output[str]:
    """Run the job on `volumes` (mounted at `mount_points`); the image name, once it passed."""
    job = f"{target.resource_prefix}-volume-permissions"
    container = docker.Container(
        name,
        name=job,
        image=image_name,
        command=volume_permissions_command(group=APP_GROUP, mount_points=mount_points),
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=target.network)],
        volumes=list(volumes),
        attach=True,
        logs=True,
        must_run=False,
        **{
            **hardened_container_args(
                hardening=Hardening(user=f"0:{APP_GROUP}", cap_add=("CHOWN", "FOWNER")),
                # Root's processes are not held to RLIMIT_NPROC (man 2 setrlimit); a cap
                # all the same, as for every container.
                limits=Limits(memory_mb=128, cpus=0.5, max_processes=128),
                stack=target.stack,
                role="volume-permissions",
            ),
            "restart": "no",
        },
        opts=job_options(parent, *after),
    )
    return pulumi.Output.all(
        image=image_name, exit_code=container.exit_code, logs=container.container_logs
    ).apply(lambda v: checked_image(job=job, **v))
