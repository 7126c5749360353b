"""A health endpoint the stack adds to any Django project, without touching its URLs.

The settings overlay puts this middleware first, so `/_stack/health` answers before host
validation, sessions or the database are involved: it says the app server and Django are up,
which is what a container health check or a load balancer needs to know. The project's own
views are never shadowed: only this exact path is answered here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEALTH_PATH = "/_stack/health"


class HealthCheckMiddleware:
    """Answers GET HEALTH_PATH with 200 "ok"; passes every other request on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return HttpResponse("ok", content_type="text/plain")
        return self.get_response(request)
