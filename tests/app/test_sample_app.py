"""The sample project (app/) served for real: gunicorn in front, PostgreSQL behind.

Each check goes over HTTP to a real gunicorn, against a real PostgreSQL started by the
`postgres_server` fixture, once with the project's own settings (`config.settings`) and
once through the deployment's overlay (`django_stack_settings`), in production mode
(DEBUG off). Rows are also read and written straight through psycopg, so the page and the
JSON are checked against what the database holds, not only against each other. An entry
may carry a file: uploaded as a browser does, stored under MEDIA_ROOT, listed with its URL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_server import PostgresServer
from tests.support.forms import multipart

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
OVERLAY_DIR = REPO_ROOT / "templates" / "django"
REPLICA = "replica-under-test-1"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    """What a test needs from an HTTP response."""

    status: int
    headers: http.client.HTTPMessage
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Site:
    """A running gunicorn serving the sample project."""

    port: int
    settings_module: str
    media_root: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request; redirects are returned, not followed, and errors are not raised.

        With `files` ({field: (file name, content)}) the form goes as multipart/form-data.
        """
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            body: str | bytes | None = None
            all_headers = dict(headers or {})
            if files is not None:
                body, all_headers["Content-Type"] = multipart(form or {}, files)
            elif form is not None:
                body = urllib.parse.urlencode(form)
                all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=all_headers)
            raw = conn.getresponse()
            return Response(raw.status, raw.headers, raw.read().decode())
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _django_env(
    *, settings_module: str, db: dict[str, str], replica: str | None, media: Path
) -> dict[str, str]:
    """A clean environment (nothing leaks in from the caller's) for the project's processes.

    Uploads go to `media`/files; through the overlay, as on the stack's volume, a file past
    1 KB is spooled to `media`/tmp first.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_MEDIA_ROOT": str(media / "files"),
        **db,
    }
    if settings_module == "django_stack_settings":
        env["DJANGO_SETTINGS_MODULE"] = "django_stack_settings"
        env["DJANGO_STACK_BASE_SETTINGS"] = "config.settings"
        env["PYTHONPATH"] = os.pathsep.join([str(OVERLAY_DIR), str(APP_DIR)])
        (media / "tmp").mkdir(parents=True, exist_ok=True)
        env["DJANGO_FILE_UPLOAD_TEMP_DIR"] = str(media / "tmp")
        env["DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE"] = "1024"
    else:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
        env["PYTHONPATH"] = str(APP_DIR)
    if replica is not None:
        env["DJANGO_STACK_REPLICA"] = replica
    return env


@contextlib.contextmanager
def _gunicorn(*, env: dict[str, str], settings_module: str, log: Path) -> Iterator[Site]:
    """Run gunicorn on a free port until the block ends; ready once /health/ answers."""
    site = Site(
        port=_free_port(),
        settings_module=settings_module,
        media_root=Path(env["DJANGO_MEDIA_ROOT"]),
    )
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "config.wsgi:application"),
                *("--bind", f"{HOST}:{site.port}", "--workers", "1", "--threads", "2"),
                *("--access-logfile", "-"),
            ],
            cwd=APP_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    pytest.fail(f"gunicorn exited early:\n{log.read_text(errors='replace')}")
                with contextlib.suppress(OSError):
                    if site.request("GET", "/health/").status == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn not ready in 20 s:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
            yield site
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module", params=["config.settings", "django_stack_settings"])
def site(
    request: pytest.FixtureRequest,
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The migrated sample project under gunicorn, with the given settings module."""
    settings_module: str = request.param
    env = _django_env(
        settings_module=settings_module,
        db=postgres_server.django_env(),
        replica=REPLICA,
        media=tmp_path_factory.mktemp("media"),
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    log = tmp_path_factory.mktemp("gunicorn") / f"{settings_module}.log"
    with _gunicorn(env=env, settings_module=settings_module, log=log) as running:
        yield running


def _db_count(pg: PostgresServer) -> int:
    with pg.connect() as conn:
        row = conn.execute("SELECT count(*) FROM guestbook_entry").fetchone()
    assert row is not None
    return int(row[0])


def _csrf(site: Site) -> tuple[str, str]:
    """(cookie header, form token) from a fresh GET of the page, as a browser gets them."""
    page = site.request("GET", "/")
    assert page.status == 200
    cookies = page.headers.get_all("Set-Cookie") or []
    cookie = next(c.split(";", 1)[0] for c in cookies if c.startswith("csrftoken="))
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert match, "the form has no CSRF token"
    return cookie, match.group(1)


def test_page_lists_entries_stored_in_the_database(
    site: Site, postgres_server: PostgresServer
) -> None:
    text = f"written straight to postgres {uuid.uuid4().hex}"
    with postgres_server.connect() as conn:
        conn.execute("INSERT INTO guestbook_entry (text, created_at) VALUES (%s, now())", (text,))

    page = site.request("GET", "/")

    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert text in page.body
    count = re.search(r'id="entry-count">(\d+)<', page.body)
    assert count and int(count.group(1)) == _db_count(postgres_server)
    # Production mode: Django links the stylesheet under STATIC_URL but does not serve it.
    assert 'href="/static/guestbook/site.css"' in page.body
    assert site.request("GET", "/static/guestbook/site.css").status == 404


def test_post_with_csrf_token_creates_an_entry(site: Site, postgres_server: PostgresServer) -> None:
    before = site.request("GET", "/entries.json").json()["count"]
    cookie, token = _csrf(site)
    text = f"<b>hello</b> & welcome {uuid.uuid4().hex}"

    posted = site.request(
        "POST",
        "/",
        form={"text": text, "csrfmiddlewaretoken": token},
        headers={"Cookie": cookie},
    )

    assert posted.status == 302, posted.body
    assert posted.headers["Location"] == "/"
    data = site.request("GET", "/entries.json").json()
    assert data["count"] == before + 1 == _db_count(postgres_server)
    newest = data["entries"][0]
    assert isinstance(newest, dict)
    assert newest["text"] == text
    assert isinstance(newest["id"], int)
    # The page shows it, HTML-escaped.
    page = site.request("GET", "/").body
    assert "&lt;b&gt;hello&lt;/b&gt; &amp; welcome" in page
    assert "<b>hello</b>" not in page


@pytest.mark.parametrize("size", [100, 200_000], ids=["in-memory", "spooled"])
def test_post_with_a_file_stores_it_under_media_root(
    site: Site, postgres_server: PostgresServer, size: int
) -> None:
    cookie, token = _csrf(site)
    text = f"with a file {uuid.uuid4().hex}"
    content = os.urandom(size)

    posted = site.request(
        "POST",
        "/",
        form={"text": text, "csrfmiddlewaretoken": token},
        files={"attachment": ("report <1>.pdf", content)},
        headers={"Cookie": cookie},
    )

    assert posted.status == 302, posted.body
    (entry,) = [
        e for e in site.request("GET", "/entries.json").json()["entries"] if e["text"] == text
    ]
    attachment = entry["attachment"]
    # Django cleans the name; the URL is under MEDIA_URL, and the file under MEDIA_ROOT.
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/report_1[^/]*\.pdf", attachment["name"])
    assert attachment["url"] == "/media/" + attachment["name"]
    assert attachment["size"] == size
    stored = site.media_root / attachment["name"]
    assert stored.read_bytes() == content
    # Readable by another user (the reverse proxy serves it) and writable by the group (the
    # other replicas, each a uid of its own), as the overlay asks; so is the folder Django
    # made for it, setgid so that what is made in it stays in the group.
    if site.settings_module == "django_stack_settings":
        assert stored.stat().st_mode & 0o777 == 0o664
        assert stored.parent.stat().st_mode & 0o7777 == 0o2775
        assert not list((site.media_root.parent / "tmp").iterdir())  # nothing left spooled
    with postgres_server.connect() as conn:
        row = conn.execute(
            "SELECT attachment FROM guestbook_entry WHERE id = %s", (entry["id"],)
        ).fetchone()
    assert row == (attachment["name"],)
    # The page links it; Django itself does not serve it in production.
    page = site.request("GET", "/")
    assert f'href="{attachment["url"]}"' in page.body
    assert 'enctype="multipart/form-data"' in page.body
    assert site.request("GET", attachment["url"]).status == 404


def test_entry_without_a_file_has_no_attachment(site: Site) -> None:
    cookie, token = _csrf(site)
    text = f"no file {uuid.uuid4().hex}"
    posted = site.request(
        "POST", "/", form={"text": text, "csrfmiddlewaretoken": token}, headers={"Cookie": cookie}
    )
    assert posted.status == 302
    (entry,) = [
        e for e in site.request("GET", "/entries.json").json()["entries"] if e["text"] == text
    ]
    assert entry["attachment"] is None


def test_post_without_csrf_token_is_rejected(site: Site, postgres_server: PostgresServer) -> None:
    before = _db_count(postgres_server)

    posted = site.request("POST", "/", form={"text": "no token"})

    assert posted.status == 403
    assert _db_count(postgres_server) == before


def test_blank_message_is_not_stored(site: Site, postgres_server: PostgresServer) -> None:
    before = _db_count(postgres_server)
    cookie, token = _csrf(site)

    posted = site.request(
        "POST", "/", form={"text": "   ", "csrfmiddlewaretoken": token}, headers={"Cookie": cookie}
    )

    assert posted.status == 400
    assert _db_count(postgres_server) == before


def test_request_json_shows_what_the_app_was_told_and_nothing_else(site: Site) -> None:
    """The view the proxy tests read: the client's address, the forwarded headers and the
    validated host, never cached; no other header a client sends comes back."""
    sent = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "Cookie": "secret=do-not-echo",
    }
    response = site.request("GET", "/request.json", headers=sent)

    assert response.status == 200
    assert response.json() == {
        "remote_addr": "127.0.0.1",
        "x_forwarded_for": "203.0.113.9",
        "x_forwarded_proto": "https",
        "host": f"{HOST}:{site.port}",
    }
    assert "no-cache" in response.headers["Cache-Control"]
    assert "do-not-echo" not in response.body
    assert site.request("POST", "/request.json").status in (403, 405)


def test_health_endpoints(site: Site) -> None:
    live = site.request("GET", "/health/")
    ready = site.request("GET", "/health/db/")

    assert (live.status, live.body) == (200, "ok")
    assert (ready.status, ready.body) == (200, "db ok")


def test_wait_view_waits_on_postgresql_then_renders(site: Site) -> None:
    started = time.monotonic()
    response = site.request("GET", "/wait/")
    elapsed = time.monotonic() - started

    assert response.status == 200, response.body
    assert re.search(r'<span id="waited-ms">20</span> ms on the database', response.body)
    assert response.body.count("<li>step ") == 10
    # pg_sleep(0.02) ran: the response cannot come sooner.
    assert elapsed >= 0.02
    assert "no-cache" in response.headers["Cache-Control"]


def test_bulk_view_answers_256_kb_of_text_uncached(site: Site) -> None:
    response = site.request("GET", "/bulk/")

    assert response.status == 200
    assert len(response.body.encode()) == 256 * 1024
    assert response.headers["Content-Length"] == str(256 * 1024)
    assert response.body.startswith("django-stack bulk answer")
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/", {}, 200),
        ("GET", "/entries.json", {}, 200),
        ("GET", "/request.json", {}, 200),
        ("GET", "/health/", {}, 200),
        ("GET", "/wait/", {}, 200),
        ("GET", "/no-such-page/", {}, 404),
        ("POST", "/", {}, 403),
        # Rejected by ALLOWED_HOSTS inside Django's middleware, still labelled.
        ("GET", "/health/", {"Host": "evil.example"}, 400),
    ],
)
def test_every_response_names_the_replica(
    site: Site, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = site.request(method, path, headers=headers)

    assert response.status == status
    assert response.headers["X-Served-By"] == REPLICA


def test_database_outage_fails_readiness_but_not_liveness(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Same credentials, but a port nothing listens on: the database is "down".
    db = {**postgres_server.django_env(), "DJANGO_DB_PORT": str(_free_port())}
    env = _django_env(
        settings_module="django_stack_settings", db=db, replica=None, media=tmp_path / "media"
    )

    with _gunicorn(
        env=env, settings_module="django_stack_settings", log=tmp_path / "gunicorn.log"
    ) as down:
        live = down.request("GET", "/health/")
        ready = down.request("GET", "/health/db/")

    assert (live.status, live.body) == (200, "ok")
    assert ready.status == 503
    # Without DJANGO_STACK_REPLICA the header falls back to the host name.
    assert live.headers["X-Served-By"] == socket.gethostname()
