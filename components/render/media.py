"""Uploaded files (Django's media): where they live, how big they may be, how they are served.

One layout for both sides of the media volume, so the replicas store a file exactly where the
proxy serves it from:

- the volume is mounted at MEDIA_MOUNT in every replica (read-write) and in the proxy
  (read-only);
- MEDIA_FILES is Django's MEDIA_ROOT, and what the proxy serves under MEDIA_URL;
- UPLOAD_TEMP_DIR is Django's FILE_UPLOAD_TEMP_DIR, on the same volume but outside what the
  proxy serves: an upload too big for memory is spooled there with room for the largest one
  the proxy lets through (not on the replica's 64 MB /tmp tmpfs, which is charged to its
  memory), and is then renamed into MEDIA_FILES, not copied, as both are one filesystem.

The app image creates both folders, owned by the app's user (templates/docker/app.Dockerfile):
Docker copies a mount point's contents and ownership into a new, empty volume, so a fresh
volume starts with them. https://docs.docker.com/engine/storage/volumes/#populate-a-volume-using-a-container
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MEDIA_MOUNT = "/srv/media"
MEDIA_FILES = f"{MEDIA_MOUNT}/files"
UPLOAD_TEMP_DIR = f"{MEDIA_MOUNT}/tmp"
DEFAULT_MEDIA_URL = "/media/"
DEFAULT_MAX_BODY_MB = 10
MB = 1024 * 1024
# Django's own FILE_UPLOAD_MAX_MEMORY_SIZE: an uploaded file larger than this streams to
# FILE_UPLOAD_TEMP_DIR instead of being held in a worker's memory.
# https://docs.djangoproject.com/en/5.2/ref/settings/#file-upload-max-memory-size
FILE_UPLOAD_MEMORY_BYTES = 2_621_440

# The only types an uploaded file is served as, by extension, and shown in the browser: none
# of them can run script in the site's origin. Every other file is served as
# application/octet-stream with `Content-Disposition: attachment`: HTML, SVG, XML, JavaScript,
# CSS, PDF, ... are downloads, never pages of the site, and with `nosniff` a browser refuses
# to run or style with them even when a page of the site asks it to.
# https://cheatsheetseries.owasp.org/cheatsheets/File_Upload_Cheat_Sheet.html
INLINE_MEDIA_TYPES: Mapping[str, tuple[str, ...]] = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "image/avif": ("avif",),
    "audio/mpeg": ("mp3",),
    "audio/ogg": ("oga", "ogg"),
    "video/mp4": ("mp4",),
    "video/webm": ("webm",),
    "text/plain": ("txt",),
}
DOWNLOAD_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class UploadLimits:
    """Django's upload settings, lined up with the proxy's body limit."""

    max_body_bytes: int
    """The proxy refuses a larger request body (413)."""
    data_memory_bytes: int
    """DATA_UPLOAD_MAX_MEMORY_SIZE: the body the proxy lets through is never refused again by
    Django (it would answer 400 to what the proxy accepted)."""
    file_memory_bytes: int
    """FILE_UPLOAD_MAX_MEMORY_SIZE: a larger file goes to FILE_UPLOAD_TEMP_DIR."""


def upload_limits(max_body_mb: int) -> UploadLimits:
    """The limits for a proxy that accepts bodies of up to `max_body_mb` MB."""
    body = max_body_mb * MB
    return UploadLimits(
        max_body_bytes=body,
        data_memory_bytes=body,
        file_memory_bytes=min(FILE_UPLOAD_MEMORY_BYTES, body),
    )


def s3_environment(
    *, bucket: str, endpoint: str | None, region: str | None, upload_temp_dir: str
) -> dict[str, str]:
    """The overlay's settings for `media.kind: s3` (non-secret): Django's default storage is
    django-storages' S3 backend on `bucket`; an upload too big for memory is spooled to
    `upload_temp_dir` (disk with room for the largest one, not a tmpfs) before it is sent.

    The credentials are not here: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go with the
    other secrets (`s3_credentials`), or are absent on EC2, where boto3 takes the instance
    role's. https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html
    """
    env = {
        "DJANGO_MEDIA_STORAGE": "s3",
        "DJANGO_S3_BUCKET": bucket,
        "DJANGO_FILE_UPLOAD_TEMP_DIR": upload_temp_dir,
    }
    if endpoint is not None:
        env["DJANGO_S3_ENDPOINT_URL"] = endpoint
    if region is not None:
        env["DJANGO_S3_REGION"] = region
    return env


def s3_credentials(*, access_key_id: str, secret_access_key: str) -> dict[str, str]:
    """The access key pair, in the variables boto3 (and django-storages) read themselves."""
    return {"AWS_ACCESS_KEY_ID": access_key_id, "AWS_SECRET_ACCESS_KEY": secret_access_key}
