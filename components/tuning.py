"""Default worker, thread and connection counts, derived from each server's own guidance.

Pure functions of the CPU share a replica gets, so every platform sizes servers the same way.
"""

from __future__ import annotations

import math

from components.choices import AppServer

# Gunicorn: "(2 x $num_cores) + 1" workers is the documented starting point.
# https://docs.gunicorn.org/en/stable/design.html#how-many-workers
# uWSGI documents no formula ("there is no magic rule"), so the same starting point is used:
# https://uwsgi-docs.readthedocs.io/en/latest/ThingsToKnow.html


def default_workers(*, app_server: AppServer, cpus: float) -> int:
    """Worker processes per replica for a replica limited to `cpus` CPUs."""
    del app_server  # both servers start from the same rule; kept for a per-server override
    return 2 * max(1, math.ceil(cpus)) + 1


def default_threads(*, app_server: AppServer) -> int:
    """Threads per worker: a few, so a worker blocked on the database still serves others.

    Gunicorn's gthread worker also keeps proxy connections alive, which the sync worker cannot.
    https://docs.gunicorn.org/en/stable/design.html#asyncio-workers
    """
    del app_server
    return 2


def proxy_worker_connections(*, replicas: int, workers: int, threads: int) -> int:
    """nginx worker_connections: room for every client plus one upstream socket each."""
    # Each proxied request holds two connections (client and upstream); 1024 is nginx's
    # documented default and is kept as the floor.
    # https://nginx.org/en/docs/ngx_core_module.html#worker_connections
    return max(1024, 4 * replicas * workers * threads)


def upstream_keepalive(*, replicas: int, workers: int, threads: int) -> int:
    """Idle keepalive connections nginx caches per worker process to the upstream group.

    "The connections parameter should be set to a number small enough to let upstream servers
    process new incoming connections as well." https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
    """
    return max(8, replicas * workers * threads)


# Apache's event MPM: threads per process, as Apache's compiled-in ThreadLimit allows.
APACHE_THREADS_PER_CHILD = 64
# Requests Apache proxies at once, at least (Debian ships 150; Apache compiles in 400). Each
# one holds a thread until the replica answers, so every busy client connection needs one:
# with 150, 128 busy connections came within MinSpareThreads of the limit and Apache closed
# keep-alive connections under the clients (docs/benchmarks.md).
APACHE_MIN_REQUEST_WORKERS = 256


def apache_event_processes(*, replicas: int, workers: int, threads: int) -> tuple[int, int]:
    """(ThreadsPerChild, ServerLimit) of the proxy's event MPM.

    Room for every client connection the minimum allows, and at least twice what the
    replicas can serve at once. https://httpd.apache.org/docs/2.4/mod/event.html
    """
    wanted = max(APACHE_MIN_REQUEST_WORKERS, 2 * replicas * workers * threads)
    return APACHE_THREADS_PER_CHILD, math.ceil(wanted / APACHE_THREADS_PER_CHILD)
