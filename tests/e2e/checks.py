"""Checks every end-to-end suite makes through a deployed stack's public URL."""

from __future__ import annotations

import json
import time
from collections import Counter

from tests.e2e.http import Client
from tests.support.stack_files import PROJECT_DIR

CSS = PROJECT_DIR / "app" / "guestbook" / "static" / "guestbook" / "site.css"
# How many migrations the sample app has: each must be recorded exactly once.
GUESTBOOK_MIGRATIONS = len(list((PROJECT_DIR / "app" / "guestbook" / "migrations").glob("0*.py")))


def assert_spread_over(url: str, replicas: set[str], *, requests: int = 40) -> None:
    """`requests` sequential GETs all succeed, and every replica answers some of them."""
    client = Client(url)
    responses = [client.get("/") for _ in range(requests)]
    assert [r.status for r in responses] == [200] * requests
    served = Counter(r.served_by for r in responses)
    assert set(served) == replicas, served


def assert_static_from_the_proxy(url: str) -> None:
    """The sample app's CSS comes back whole, and not from the app.

    The app adds X-Served-By to every response it makes; this one never reached it.
    """
    response = Client(url).get("/static/guestbook/site.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.body == CSS.read_bytes()
    assert response.served_by is None


def assert_write_read_back(url: str, replicas: set[str], *, tag: str) -> None:
    """A form POST through the proxy is read back by every replica (one shared database)."""
    client = Client(url)
    marker = f"written-through-{tag}-{time.time_ns()}"
    assert client.post_form("/", {"text": marker}).status in (200, 302)
    seen: set[str] = set()
    for _ in range(20):
        response = client.get("/entries.json")
        assert response.status == 200
        assert marker in [e["text"] for e in json.loads(response.body)["entries"]]
        seen.add(response.served_by or "")
    assert seen == replicas


def upload_attachment(url: str, *, tag: str, filename: str, content: bytes) -> tuple[str, str]:
    """Post an entry with a file through the proxy; (the entry's text, the replica that took it)."""
    text = f"uploaded-through-{tag}-{time.time_ns()}"
    response = Client(url).post_files("/", {"text": text}, {"attachment": (filename, content)})
    assert response.status == 302, (response.status, response.text[-2000:])
    assert response.served_by, "the upload was not answered by a replica"
    return text, response.served_by


def assert_attachment_everywhere(
    url: str, replicas: set[str], *, text: str, content: bytes
) -> dict[str, object]:
    """Every replica lists the entry's file at one URL and finds it whole in its own storage,
    and the proxy serves that URL itself (no replica answers it). Returns the attachment."""
    client = Client(url)
    seen: dict[str, dict[str, object]] = {}
    for _ in range(40):
        response = client.get("/entries.json")
        assert response.status == 200
        (entry,) = [e for e in json.loads(response.body)["entries"] if e["text"] == text]
        seen[response.served_by or ""] = entry["attachment"]
        if set(seen) >= replicas:
            break
    assert set(seen) == replicas, seen
    (attachment,) = {json.dumps(a, sort_keys=True) for a in seen.values()}
    found = json.loads(attachment)
    assert found["size"] == len(content), seen  # each replica's storage has all of it
    served = client.get(found["url"])
    assert (served.status, served.served_by) == (200, None), served.status
    assert served.body == content
    assert served.headers["x-content-type-options"] == "nosniff"
    return dict(found)
