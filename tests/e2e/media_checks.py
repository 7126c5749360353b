"""The checks of uploaded files on the media volume (media.kind volume), end to end.

A file uploaded through the proxy is stored by the one replica that took the request and is
listed, whole, by every replica (each reads it from its own mount of the one volume); the
proxy serves it itself, as an inert file (a page-like upload as a download). An upload larger
than Django keeps in memory is spooled on the volume, not on /tmp. A release (`pulumi up`
after a change of the app code) replaces every replica by one of the new image, keeps the
volume, and every file is still there and served. tests/e2e/test_docker_stack.py runs them on
its deployments.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from components.render.media import MEDIA_FILES, MEDIA_MOUNT, UPLOAD_TEMP_DIR
from tests.e2e.checks import assert_attachment_everywhere, upload_attachment
from tests.e2e.conftest import Deployed
from tests.e2e.engine import docker
from tests.e2e.http import Client

REPLICAS = 2
# Past Django's FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), under the proxy's 10 MB.
BIG = os.urandom(3 * 1024 * 1024)
PAGE = b"<html><script>document.title = document.cookie</script></html>"
RELEASE_MARKER = "<!-- django-stack e2e: a release with uploads -->"


@dataclass
class Uploaded:
    """A stack with two uploads made through its proxy."""

    stack: Deployed
    big_text: str
    page_text: str
    stored_by: str


def upload_two(stack: Deployed) -> Uploaded:
    """A big upload (spooled) and a page-like one, through the proxy."""
    big_text, stored_by = upload_attachment(
        stack.url, tag=stack.name, filename="survey results.bin", content=BIG
    )
    page_text, _ = upload_attachment(stack.url, tag=stack.name, filename="look.html", content=PAGE)
    return Uploaded(stack, big_text, page_text, stored_by)


def replicas() -> set[str]:
    return {f"app-{i}" for i in range(REPLICAS)}


def shift_the_rotation(url: str) -> None:
    """One more request through the proxy. An upload is two (the form, for its CSRF token, then
    the post), so under a strict round robin over two replicas (Apache's byrequests) every
    post would reach the same one; one request in between moves the next post to the other."""
    assert Client(url).get("/entries.json").status == 200


def mounts(container: str) -> list[dict[str, object]]:
    details = json.loads(docker("inspect", container))[0]
    return [m for m in details["Mounts"] if m["Destination"] == MEDIA_MOUNT]


def assert_an_upload_is_served_for_every_replica(uploaded: Uploaded) -> None:
    """The fixture's two uploads: listed whole by every replica, served inert by the proxy,
    the big one spooled on the volume."""
    stack = uploaded.stack
    assert uploaded.stored_by in replicas()
    big = assert_attachment_everywhere(stack.url, replicas(), text=uploaded.big_text, content=BIG)
    page = assert_attachment_everywhere(
        stack.url, replicas(), text=uploaded.page_text, content=PAGE
    )
    # A page-like upload is a download, never a page of the site.
    served = Client(stack.url).get(str(page["url"]))
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["content-type"] == "application/octet-stream"
    # One volume: read-write in every replica, read-only in the proxy.
    (volume,) = {m["Name"] for c in [*replicas(), "proxy"] for m in mounts(stack.container(c))}
    assert all(mounts(stack.container(r))[0]["RW"] is True for r in replicas())
    assert mounts(stack.container("proxy"))[0]["RW"] is False
    assert volume == f"django-stack-{stack.name}-media"
    # The big upload was spooled on the volume (not the 64 MB /tmp), and nothing stayed there.
    for replica in replicas():
        assert docker("exec", stack.container(replica), "ls", "-A", UPLOAD_TEMP_DIR) == ""
        stored = docker(
            "exec",
            stack.container(replica),
            "stat",
            "-c",
            "%s",
            f"{MEDIA_MOUNT}/files/{big['name']}",
        )
        assert int(stored) == len(BIG)


def assert_each_replica_writes_what_another_stored(stack: Deployed) -> None:
    """Each replica is a uid of its own, in one group (components/docker/identity.py): what
    one stores, and the folder it made for it, the others must be able to write."""
    by_replica: dict[str, str] = {}
    # Uploads through the proxy until each replica has stored one: into the folder
    # (`upload_to="attachments/%Y/%m/"`) that the fixture's first upload, as one replica's
    # uid, made. A folder only its maker could write would fail the others' uploads (500).
    for n in range(20):
        text, served_by = upload_attachment(
            stack.url, tag=f"each-{n}", filename=f"each {n}.txt", content=b"first"
        )
        if served_by in by_replica:
            shift_the_rotation(stack.url)
        by_replica.setdefault(served_by, text)
        if set(by_replica) == replicas():
            break
    assert set(by_replica) == replicas(), by_replica
    users = {
        r: json.loads(docker("inspect", stack.container(r)))[0]["Config"]["User"]
        for r in replicas()
    }
    for maker, other in (("app-0", "app-1"), ("app-1", "app-0")):
        found = assert_attachment_everywhere(
            stack.url, replicas(), text=by_replica[maker], content=b"first"
        )
        path = f"{MEDIA_MOUNT}/files/{found['name']}"
        owner = docker("exec", stack.container(other), "stat", "-c", "%u", path).strip()
        assert owner == users[maker].split(":")[0] != users[other].split(":")[0]
        # The other replica replaces the file in place, and the proxy (another user) serves
        # the new content.
        replaced = f"replaced by {other}".encode()
        write = 'printf %s "$1" > "$2"'
        docker("exec", stack.container(other), "sh", "-c", write, "sh", replaced.decode(), path)
        served = Client(stack.url).get(str(found["url"]))
        assert (served.status, served.body) == (200, replaced)


def media_volume(stack: Deployed) -> str:
    return f"django-stack-{stack.name}-media"


def volume_created(volume: str) -> str:
    return docker("volume", "inspect", "--format", "{{.CreatedAt}}", volume).strip()


def replica_images(stack: Deployed) -> dict[str, str]:
    return {r: json.loads(docker("inspect", stack.container(r)))[0]["Image"] for r in replicas()}


def leave_the_volume_as_one_uid_did(stack: Deployed) -> None:
    """The volume as a version before per-replica uids left it: the files and their folders
    uid 10001's, files 0644 and folders 0755 (this month's too), which no replica's uid could
    write into. (Not the volume's root: with the root changed too, the CreatedAt Docker
    reported for the volume changed here, and the release check compares it.) The release's
    volume permissions job must hand it back to the group."""
    as_before = (
        f"find {MEDIA_FILES} -exec chown 10001 {{}} + "
        f"&& find {MEDIA_FILES} -type d -exec chmod 0755 {{}} + "
        f"&& find {MEDIA_FILES} -type f -exec chmod 0644 {{}} +"
    )
    docker(
        "run", "--rm", "--network", "none", "--user", "0:10001", "--cap-drop", "ALL",
        "--cap-add", "CHOWN", "--cap-add", "FOWNER", "--volume",
        f"{media_volume(stack)}:{MEDIA_MOUNT}", replica_images(stack)["app-0"], "sh", "-euc",
        as_before,
    )  # fmt: skip


def mark_a_release(app: Path) -> None:
    """A change of the app code (in the copy at `app`): a line in the base template."""
    base = app / "guestbook" / "templates" / "guestbook" / "base.html"
    base.write_text(base.read_text() + RELEASE_MARKER + "\n")


def assert_the_release_kept_the_uploads(
    uploaded: Uploaded, *, images_before: dict[str, str], created: str
) -> None:
    """After the release: new images, the same volume, every file there and served, the old
    volume's modes handed to the group, and the release takes uploads on every replica."""
    stack = uploaded.stack
    assert RELEASE_MARKER in Client(stack.url).get("/").text
    for replica, image in replica_images(stack).items():
        assert image != images_before[replica], replica
    assert volume_created(media_volume(stack)) == created
    for text, content in ((uploaded.big_text, BIG), (uploaded.page_text, PAGE)):
        assert_attachment_everywhere(stack.url, replicas(), text=text, content=content)
    # The job handed the old volume to the group: every folder group-writable and setgid,
    # every file group-writable, "other" (the proxy) as it was.
    modes = docker(
        "exec", stack.container("app-0"), "find", f"{MEDIA_MOUNT}/files", "-printf", "%y %m\\n"
    ).split("\n")
    assert {m for m in modes if m.startswith("d")} == {"d 2775"}, modes
    assert {m for m in modes if m.startswith("f")} == {"f 664"}, modes
    job_log = docker("logs", stack.container("volume-permissions"))
    assert re.search(r"volume permissions: [1-9]\d* changes", job_log), job_log
    # And the new release takes uploads too, through each replica, into this month's folder.
    served: set[str] = set()
    for n in range(20):
        text, by = upload_attachment(
            stack.url, tag=f"release-{n}", filename="after.txt", content=b"ok"
        )
        assert_attachment_everywhere(stack.url, replicas(), text=text, content=b"ok")
        if by in served:
            shift_the_rotation(stack.url)
        served.add(by)
        if served == replicas():
            break
    assert served == replicas()
