"""Checks every end-to-end suite makes through a deployed stack's public URL."""

from __future__ import annotations

import json
import time
from collections import Counter

from tests.e2e.http import Client
from tests.support.stack_files import PROJECT_DIR

CSS = PROJECT_DIR / "app" / "guestbook" / "static" / "guestbook" / "site.css"
# What every pair's stack asks for besides the sample app: a Debian package of both releases
# (Pillow's JPEG library) and a release command whose work can be seen (and which may run
# again on a redeploy: it is idempotent, as release commands must be).
SYSTEM_PACKAGE = "libjpeg62-turbo"
RELEASE_ENTRY = "written-by-a-release-command"
RELEASE_COMMAND = (
    'shell -c "from guestbook.models import Entry; '
    f"Entry.objects.get_or_create(text='{RELEASE_ENTRY}')\""
)
PROJECT_NEEDS = {"systemPackages": [SYSTEM_PACKAGE], "releaseCommands": [RELEASE_COMMAND]}


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
