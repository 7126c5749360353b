"""Views of the guestbook: the HTML page, a JSON read-back, what the app saw of a request, a
page that waits on the database, and two health checks."""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from guestbook.forms import EntryForm
from guestbook.models import Entry

logger = logging.getLogger(__name__)

# How many entries the page shows; the total count is shown separately.
PAGE_SIZE = 20
# How many entries /entries.json returns, newest first (the count is always the total).
JSON_LIMIT = 100
# How long /wait/ waits on PostgreSQL: a database across a network, a slow query, another
# service. While it waits a sync worker can do nothing else, so one worker serves at most
# 1 / WAIT_SECONDS = 50 such requests a second (docs/benchmarks.md measures it).
WAIT_SECONDS = 0.02


@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """List the latest entries; a valid POST stores a new one and redirects back."""
    if request.method == "POST":
        form = EntryForm(request.POST, request.FILES)
        if form.is_valid():
            entry = form.save()
            logger.info("guestbook entry %s created", entry.pk)
            # Post/redirect/get: reloading the page must not post the message twice.
            return redirect("index")
        status = 400
    else:
        form = EntryForm()
        status = 200
    context = {
        "form": form,
        "entries": Entry.objects.all()[:PAGE_SIZE],
        "total": Entry.objects.count(),
    }
    return render(request, "guestbook/index.html", context, status=status)


@require_safe
def entries_json(request: HttpRequest) -> JsonResponse:
    """The stored entries as JSON, so tests can read back what they wrote."""
    entries = [
        {
            "id": entry.pk,
            "text": entry.text,
            "created_at": entry.created_at.isoformat(),
            "attachment": _attachment(entry),
        }
        for entry in Entry.objects.all()[:JSON_LIMIT]
    ]
    return JsonResponse({"count": Entry.objects.count(), "entries": entries})


def _attachment(entry: Entry) -> dict[str, object] | None:
    """The entry's file: its URL, and its size as this process's storage sees it (None when
    the file is not there), so a reader can tell whether every replica has it."""
    if not entry.attachment:
        return None
    try:
        size: int | None = entry.attachment.size
    except OSError:
        size = None
    return {"name": entry.attachment.name, "url": entry.attachment.url, "size": size}


@never_cache
@require_safe
def request_json(request: HttpRequest) -> JsonResponse:
    """Who the app thinks the client is, as the proxy in front told it, so tests can check
    what reaches Django. Only these four values, and nothing else a client sent, is echoed;
    the host is the one Django validated against ALLOWED_HOSTS."""
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "x_forwarded_for": request.META.get("HTTP_X_FORWARDED_FOR"),
            "x_forwarded_proto": request.META.get("HTTP_X_FORWARDED_PROTO"),
            "host": request.get_host(),
        }
    )


@never_cache
@require_safe
def wait(request: HttpRequest) -> HttpResponse:
    """Wait WAIT_SECONDS on PostgreSQL (`pg_sleep`), then render a small page: what real views
    spend most of their time on, and what workers and threads are for."""
    if connection.vendor != "postgresql":
        return HttpResponse(
            "/wait/ needs PostgreSQL (pg_sleep)", content_type="text/plain", status=501
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [WAIT_SECONDS])
    context = {"waited_ms": round(WAIT_SECONDS * 1000), "steps": range(1, 11)}
    return render(request, "guestbook/wait.html", context)


@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Never touches the database, so a database outage
    does not make the orchestrator restart healthy app containers."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def health_db(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database answers `SELECT 1`, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("database health check failed: %s", exc)
        return HttpResponse("db unavailable", content_type="text/plain", status=503)
    return HttpResponse("db ok", content_type="text/plain")
