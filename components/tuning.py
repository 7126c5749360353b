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
    """Threads per worker, from what each server does with them (docs/benchmarks.md).

    Gunicorn: 2, so the gthread worker is used; unlike the sync worker it keeps the proxy's
    connections alive, which through nginx gave +9% on the minimal view and +7% on the
    database view over 3 sync workers. https://docs.gunicorn.org/en/stable/design.html
    uWSGI: 1. Its workers take one connection per request from either proxy, so threads add
    only hand-offs of the GIL: 3 processes of 1 thread served 30% more than 3 of 2 on the
    minimal view and the same on the database view.
    mod_wsgi: 2, as Gunicorn (its daemon processes are threaded by design).
    """
    if app_server is AppServer.UWSGI:
        return 1
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


# Apache's event MPM closes every idle keep-alive connection of a process whose threads are
# all busy, so that its clients reconnect to another process; a client that had just sent
# its next request on such a connection sees it closed (wrk: read errors). Each proxied
# request holds a thread until the replica answers, so a process needs a thread for every
# busy connection it holds: 25 threads per process (Debian's) failed at 128 connections,
# 64 still did now and then, 128 did not (docs/benchmarks.md).
# https://httpd.apache.org/docs/2.4/mod/event.html#how-it-works
APACHE_THREADS_PER_CHILD = 128
# Requests Apache proxies at once, at least (Debian ships 150; Apache compiles in 400).
APACHE_MIN_REQUEST_WORKERS = 256


def apache_event_processes(*, replicas: int, workers: int, threads: int) -> tuple[int, int]:
    """(ThreadsPerChild, ServerLimit) of the proxy's event MPM.

    Room for every client connection the minimum allows, and at least twice what the
    replicas can serve at once. https://httpd.apache.org/docs/2.4/mod/event.html
    """
    wanted = max(APACHE_MIN_REQUEST_WORKERS, 2 * replicas * workers * threads)
    return APACHE_THREADS_PER_CHILD, math.ceil(wanted / APACHE_THREADS_PER_CHILD)


def mod_wsgi_front_threads(*, workers: int, threads: int) -> int:
    """Threads of the one Apache process in front of a mod_wsgi replica's daemon processes.

    Each request holds one of them until its daemon thread answers, and the event MPM closes
    every idle keep-alive connection once they are all busy (see above): 25 threads failed at
    32 direct connections, 128 at 128 (docs/benchmarks.md). So as many as the whole proxy
    has, and at least one per daemon thread twice over.
    """
    return max(APACHE_MIN_REQUEST_WORKERS, 2 * workers * threads)


def replica_processes(*, app_server: AppServer, workers: int, threads: int) -> int:
    """Processes and threads one replica runs, at most (each counts against RLIMIT_NPROC).

    A master, and per worker its request threads plus a few of the server's own (Gunicorn's
    main loop, uWSGI's, mod_wsgi's monitor and deadlock threads); mod_wsgi adds its Apache.
    """
    count = 1 + workers * (threads + 4)
    if app_server is AppServer.MOD_WSGI:
        count += 2 + mod_wsgi_front_threads(workers=workers, threads=threads)
    return count


def app_max_processes(*, app_server: AppServer, replicas: int, workers: int, threads: int) -> int:
    """The cap on processes and threads of `replicas` app servers that share it, never
    below 512, twice over what they run.

    Docker (an nproc ulimit): RLIMIT_NPROC is checked against every process of the user on the
    whole host, not of the container. Each replica and the migration job runs as a uid of its
    own (components/docker/identity.py), so nothing else counts against its cap: `replicas=1`.
    A VM unit's TasksMax counts the unit alone: `replicas=1` too, twice over for a graceful
    reload's old and new workers.
    """
    per_replica = replica_processes(app_server=app_server, workers=workers, threads=threads)
    return max(512, 2 * replicas * per_replica)


def proxy_max_processes(*, replicas: int, workers: int, threads: int) -> int:
    """The proxy container's nproc cap: Apache's threads count as processes, so room for all
    of its event MPM's threads twice over, and never below 1024. The proxy runs as a uid of
    its own (components/docker/identity.py): the cap is its alone."""
    per_child, children = apache_event_processes(
        replicas=replicas, workers=workers, threads=threads
    )
    return max(1024, 2 * per_child * children)


def proxy_sysctls() -> dict[str, str]:
    """Kernel settings of the proxy's own network namespace (Docker: the container's).

    The proxy opens a connection per request wherever the upstream cannot keep one alive (the
    uwsgi protocol; Gunicorn's sync worker), and each closed one holds its local port in
    TIME-WAIT for 60 s. At a few thousand requests/s that is the whole ephemeral range
    (28,232 ports): 27,700 TIME-WAIT sockets were counted in the proxy, and connect() then
    searched for a free port at great cost (nginx at 0.9 CPU for 757 requests/s). tcp_tw_reuse
    lets an outgoing connection take over a TIME-WAIT port, safely, as TCP timestamps tell old
    segments from new. https://docs.kernel.org/networking/ip-sysctl.html
    """
    return {"net.ipv4.tcp_tw_reuse": "1"}
