"""A real S3-compatible server for the end-to-end tests of `media.kind: s3`: SeaweedFS.

`weed` is built from its Go module by scripts/install-seaweedfs.sh (cached by version, so
only a machine's first run builds it). It runs in a container on the stack's own network,
from the Debian base image with the binary mounted read-only: the stand-in machines reach it
there as real VMs reach a storage endpoint on their network, the host's tests reach it on the
same address (no port is published, nothing listens outside the engine's bridge), and no
image layer copies the 160 MB binary (the engine's vfs driver copies every layer).

`weed server -s3` runs the master, a volume server, the filer and the S3 gateway in one
process. Its identity file (`-s3.config`) makes credentials required: the app's key pair may
read, write and list its one bucket only; the tests' admin pair makes the bucket and looks
at the objects; there is no `anonymous` identity, so an unsigned request is refused.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.e2e.engine import LABEL, docker
from tests.support.stack_files import built_by_project_script

S3_PORT = 8333
WEED_IN_CONTAINER = "/usr/local/bin/weed"


def weed_binary() -> Path:
    """The `weed` binary, built by the project's script on the first call on a machine."""
    return built_by_project_script("install-seaweedfs.sh", timeout_s=1800)


@dataclass(frozen=True)
class S3Server:
    """A running SeaweedFS S3 gateway and the credentials it knows."""

    container: str
    address: str
    bucket: str
    app_key: tuple[str, str]
    admin_key: tuple[str, str]

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{S3_PORT}"

    def client(self, key: tuple[str, str] | None = None) -> object:
        """A boto3 S3 client signing with `key` (default: the admin's)."""
        access, secret = key or self.admin_key
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", retries={"max_attempts": 2}),
        )


def identities(*, bucket: str, app: tuple[str, str], admin: tuple[str, str]) -> str:
    """SeaweedFS's static S3 identity file (see its docker/compose/s3.json for the format)."""
    return json.dumps(
        {
            "identities": [
                {
                    "name": "django-app",
                    "credentials": [{"accessKey": app[0], "secretKey": app[1]}],
                    "actions": [f"Read:{bucket}", f"Write:{bucket}", f"List:{bucket}"],
                },
                {
                    "name": "e2e-admin",
                    "credentials": [{"accessKey": admin[0], "secretKey": admin[1]}],
                    "actions": ["Admin", "Read", "List", "Write"],
                },
            ]
        }
    )


def start_s3_server(*, run_id: str, name: str, network: str, image: str) -> S3Server:
    """Start SeaweedFS on `network` with a bucket made; removed with the run's label."""
    weed = weed_binary()
    bucket = "django-media"
    app = ("APP" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    admin = ("ADMIN" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    config_dir = Path(tempfile.mkdtemp(prefix="django-stack-s3-"))
    (config_dir / "s3.json").write_text(identities(bucket=bucket, app=app, admin=admin))
    config_dir.chmod(0o755)
    (config_dir / "s3.json").chmod(0o644)
    container = f"{name}-s3"
    # -ip is what the master tells clients of the volume server: this container's address.
    # Small volumes (-master.volumeSizeLimitMB) and a tmpfs keep the engine's disk untouched.
    command = (
        f"exec {WEED_IN_CONTAINER} server -dir=/data -ip=$(hostname -i) -ip.bind=0.0.0.0"
        f" -master.volumeSizeLimitMB=64 -volume.max=8 -s3 -s3.port={S3_PORT}"
        " -s3.config=/etc/seaweedfs/s3.json"
    )
    docker(
        "run",
        "-d",
        "--name",
        container,
        "--label",
        f"{LABEL}={run_id}",
        "--network",
        network,
        "--tmpfs",
        "/data:size=1g",
        "-v",
        f"{weed}:{WEED_IN_CONTAINER}:ro",
        "-v",
        f"{config_dir}:/etc/seaweedfs:ro",
        image,
        "sh",
        "-c",
        command,
    )
    details = json.loads(docker("inspect", container))[0]
    address = details["NetworkSettings"]["Networks"][network]["IPAddress"]
    server = S3Server(
        container=container, address=address, bucket=bucket, app_key=app, admin_key=admin
    )
    _make_bucket(server)
    return server


def _make_bucket(server: S3Server, timeout: float = 120) -> None:
    """Create the bucket once the gateway answers (the filer and volume come up first)."""
    s3 = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.create_bucket(Bucket=server.bucket)  # type: ignore[attr-defined]
            return
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                logs = docker("logs", "--tail", "40", server.container, check=False)
                raise RuntimeError(f"SeaweedFS did not come up: {error}\n{logs}") from error
            time.sleep(2)
