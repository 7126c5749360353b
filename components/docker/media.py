"""Uploaded files on Docker: one named volume every replica writes and the proxy serves.

With `media.kind: s3` the files are in the bucket, and the volume only holds the replicas'
temporary uploads (not retained).

The volume's name depends on the stack only, so a release (new images, new containers) mounts
the same volume again. It is kept on `pulumi destroy` unless `media.retainOnDelete` is false:
a destroyed and re-created stack finds its files again, because Docker's volume create hands
back the existing volume of that name.
https://www.pulumi.com/docs/iac/concepts/options/retainondelete/
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.choices import MediaKind
from components.config import MediaConfig
from components.docker.target import DockerTarget
from components.render.media import MEDIA_MOUNT


@dataclass(frozen=True)
class MediaStorageArgs:
    """Inputs of a MediaStorage."""

    config: MediaConfig
    """The `media` key: the volume's retention."""
    target: DockerTarget
    """The stack's engine-side context (names)."""


class MediaStorage(pulumi.ComponentResource):
    """The media volume, and how the replicas and the proxy mount it."""

    volume_name: pulumi.Output[str]
    app_mount: docker.ContainerVolumeArgs
    proxy_mount: docker.ContainerVolumeArgs | None
    """None with s3: the proxy serves no media."""

    def __init__(
        self, name: str, args: MediaStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:MediaStorage", name, None, opts)
        in_s3 = args.config.kind is MediaKind.S3
        # With s3 the files live in the bucket; the replicas still need disk with room for an
        # upload too big for memory (render/media.py's UPLOAD_TEMP_DIR), and their /tmp is a
        # 64 MB tmpfs. That volume holds nothing worth keeping.
        volume = docker.Volume(
            f"{name}-volume",
            name=f"{args.target.resource_prefix}-{'upload-tmp' if in_s3 else 'media'}",
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=args.config.retain_on_delete and not in_s3
            ),
        )
        self.volume_name = volume.name
        # The replicas (and the migration job) store files; the proxy only reads them.
        self.app_mount = docker.ContainerVolumeArgs(
            volume_name=volume.name, container_path=MEDIA_MOUNT
        )
        self.proxy_mount = (
            None
            if in_s3
            else docker.ContainerVolumeArgs(
                volume_name=volume.name, container_path=MEDIA_MOUNT, read_only=True
            )
        )
        self.register_outputs({"volume_name": self.volume_name})
