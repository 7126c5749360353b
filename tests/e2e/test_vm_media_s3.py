"""End to end on the VM target: uploaded files in a real S3-compatible server (media.kind s3).

One deployment (gunicorn behind nginx, two app hosts) on the stand-in machines, with
SeaweedFS (tests/e2e/s3_server.py) on their network as the bucket's endpoint. A file uploaded
through the proxy is stored in the bucket by the app host that took the request (boto3 finds
the bytes and the content type there); every app host lists it and finds it whole in the
bucket; the URL Django gives is a signed one that the S3 server answers, and the same object
without a signature is refused, as is listing the bucket anonymously. The proxy serves no
media of its own. An upload larger than Django keeps in memory is spooled on the app host's
disk, not in its private /tmp.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from components.debian import DEFAULT_RELEASE, release_image
from components.render.systemd import UPLOAD_TEMP_DIR_VM
from tests.e2e.checks import PROJECT_NEEDS, upload_attachment
from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.http import Client
from tests.e2e.s3_server import S3Server, start_s3_server
from tests.e2e.vm_hosts import VmDeployed, deployed_on_standins

pytestmark = pytest.mark.e2e

APP_HOSTS = 2
NAME = "e2e-vm-media-s3"
# Past Django's FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), under the proxy's 10 MB.
BIG = os.urandom(3 * 1024 * 1024)
NOTE = b"a plain text attachment, stored in S3\n"


@dataclass
class S3Stack:
    """The deployment, its S3 server, and two uploads made through its proxy."""

    stack: VmDeployed
    s3: S3Server
    note_text: str
    big_text: str


@pytest.fixture(scope="module")
def s3_stack(docker_engine: str) -> Iterator[S3Stack]:
    servers: list[S3Server] = []

    def s3_service(network: str) -> dict[str, Any]:
        server = start_s3_server(
            run_id=docker_engine,
            name=f"django-stack-{docker_engine}-{NAME}",
            network=network,
            image=release_image(DEFAULT_RELEASE),
        )
        servers.append(server)
        return {
            "media": {"kind": "s3", "bucket": server.bucket, "endpoint": server.endpoint},
            "mediaAccessKeyId": server.app_key[0],
            "mediaSecretAccessKey": server.app_key[1],
        }

    with deployed_on_standins(
        run_id=docker_engine,
        name=NAME,
        release=DEFAULT_RELEASE,
        port=free_port(),
        overrides={**build_overrides(), **PROJECT_NEEDS, "appServer": "gunicorn", "proxy": "nginx"},
        app_hosts=APP_HOSTS,
        services=s3_service,
        secret_keys=("mediaAccessKeyId", "mediaSecretAccessKey"),
    ) as deployed:
        note_text, _ = upload_attachment(deployed.url, tag=NAME, filename="note.txt", content=NOTE)
        big_text, _ = upload_attachment(deployed.url, tag=NAME, filename="big.bin", content=BIG)
        yield S3Stack(stack=deployed, s3=servers[0], note_text=note_text, big_text=big_text)


def _attachments(url: str, text: str) -> dict[str, dict[str, Any]]:
    """The entry's attachment as each app host reports it, by the host that answered."""
    client = Client(url)
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(40):
        response = client.get("/entries.json")
        assert response.status == 200
        (entry,) = [e for e in json.loads(response.body)["entries"] if e["text"] == text]
        seen[response.served_by or ""] = entry["attachment"]
        if len(seen) == APP_HOSTS:
            break
    return seen


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_upload_is_in_the_bucket_with_its_bytes_and_type(s3_stack: S3Stack) -> None:
    (attachment,) = {
        a["name"] for a in _attachments(s3_stack.stack.url, s3_stack.note_text).values()
    }
    s3 = s3_stack.s3.client()
    stored = s3.get_object(Bucket=s3_stack.s3.bucket, Key=attachment)  # type: ignore[attr-defined]
    assert stored["Body"].read() == NOTE
    # The type the browser sent, kept by django-storages (SeaweedFS would store a sniffed
    # "text/plain; charset=utf-8" for an upload sent as application/octet-stream).
    assert stored["ContentType"] == "text/plain"
    (big,) = {a["name"] for a in _attachments(s3_stack.stack.url, s3_stack.big_text).values()}
    big_object = s3.get_object(Bucket=s3_stack.s3.bucket, Key=big)  # type: ignore[attr-defined]
    assert big_object["Body"].read() == BIG


def test_every_app_host_finds_the_file_whole_in_the_bucket(s3_stack: S3Stack) -> None:
    seen = _attachments(s3_stack.stack.url, s3_stack.big_text)
    assert set(seen) == {f"app-{i}" for i in range(APP_HOSTS)}, seen
    for host, attachment in seen.items():
        # Each app host's storage asked the bucket (a HEAD signed with the app's key).
        assert attachment["size"] == len(BIG), (host, attachment)
        # A signed URL of the S3 endpoint, not one the proxy serves.
        assert attachment["url"].startswith(f"{s3_stack.s3.endpoint}/{s3_stack.s3.bucket}/")
        assert "X-Amz-Signature=" in attachment["url"]
        status, body = _fetch(attachment["url"])
        assert (status, body == BIG) == (200, True), (host, status)


def test_the_bucket_refuses_anonymous_requests(s3_stack: S3Stack) -> None:
    attachment = next(iter(_attachments(s3_stack.stack.url, s3_stack.note_text).values()))
    unsigned = attachment["url"].split("?", 1)[0]
    status, body = _fetch(unsigned)
    assert status == 403, (status, body[:200])
    assert NOTE not in body
    status, body = _fetch(f"{s3_stack.s3.endpoint}/{s3_stack.s3.bucket}/")
    assert status == 403, (status, body[:200])
    # A forged signature is refused too.
    status, _ = _fetch(attachment["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert status == 403


def test_the_proxy_serves_no_media_and_hosts_have_no_key_outside_the_env_file(
    s3_stack: S3Stack,
) -> None:
    attachment = next(iter(_attachments(s3_stack.stack.url, s3_stack.note_text).values()))
    path = "/" + urllib.parse.quote(attachment["name"])
    response = Client(s3_stack.stack.url).get("/media" + path)
    assert response.status == 404
    assert NOTE not in response.body
    secret = s3_stack.s3.app_key[1]
    for app in s3_stack.stack.apps:
        settings = app.run("cat", "/etc/django-stack/django.env")
        assert f'AWS_SECRET_ACCESS_KEY="{secret}"' in settings
        assert app.run("stat", "-c", "%a %U", "/etc/django-stack/django.env").split()[0] == "640"


def test_big_uploads_are_spooled_on_the_app_hosts_disk(s3_stack: S3Stack) -> None:
    for app in s3_stack.stack.apps:
        owner_mode = app.run("stat", "-c", "%U %a", UPLOAD_TEMP_DIR_VM).split()
        assert owner_mode[1] == "700"
        # On the root filesystem (the machine's disk), not a tmpfs.
        fs_type = app.run("stat", "-f", "-c", "%T", UPLOAD_TEMP_DIR_VM).strip()
        assert fs_type != "tmpfs", fs_type
        settings = app.run("cat", "/etc/django-stack/django.env")
        assert f'DJANGO_FILE_UPLOAD_TEMP_DIR="{UPLOAD_TEMP_DIR_VM}"' in settings
