"""Response header naming the replica that served a request.

With several app-server replicas behind one proxy, `X-Served-By` lets tests (and people
debugging) see that load balancing works and which container answered.
"""

import os
import socket
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ReplicaHeaderMiddleware:
    """Adds `X-Served-By: <DJANGO_STACK_REPLICA or the host name>` to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Read once per process: the replica's identity does not change while it runs.
        # The container's host name is the fallback, which Docker sets to the container id.
        self.replica: str = os.environ.get("DJANGO_STACK_REPLICA") or socket.gethostname()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Served-By"] = self.replica
        return response
