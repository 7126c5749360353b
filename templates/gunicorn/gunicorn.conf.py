# Gunicorn settings rendered by django-stack (components/render/app_server_config.py).
# Reference: https://docs.gunicorn.org/en/stable/settings.html

wsgi_app = "@@{wsgi_callable}"
chdir = "@@{app_dir}"
# Every interface in a container; on a VM only its private address, the one the proxy uses.
bind = ["@@{listen}"]

# (2 x cores) + 1 workers unless the stack overrides it:
# https://docs.gunicorn.org/en/stable/design.html#how-many-workers
workers = @@{workers}
# gthread workers serve several requests each and, unlike sync workers, keep the proxy's
# upstream connections alive: https://docs.gunicorn.org/en/stable/design.html#asyncio-workers
# One thread means Gunicorn's own default, the sync worker.
worker_class = "@@{worker_class}"
threads = @@{threads}

# A worker silent for this long is killed and restarted; matches the proxy's read timeout.
timeout = @@{timeout}
graceful_timeout = @@{timeout}
# Longer than the proxy's idle upstream timeout, so the proxy, not Gunicorn, closes idle
# connections and never sends a request on a socket Gunicorn just closed.
# https://docs.gunicorn.org/en/stable/settings.html#keepalive
keepalive = @@{keepalive}

# Recycle a worker after this many requests (0: never) to bound a leaking app's memory; the
# jitter keeps workers from recycling all at once. Off by default: a new worker imports the
# whole project again, which costs more than 1000 minimal requests (docs/benchmarks.md).
max_requests = @@{max_requests}
max_requests_jitter = @@{max_requests_jitter}

# The heartbeat file must be on a RAM disk, not a (read-only) container layer:
# https://docs.gunicorn.org/en/stable/faq.html#blocking-os-fchmod
worker_tmp_dir = "/dev/shm"

# No control socket: nothing here uses `gunicornc`, and its default place ($HOME/.gunicorn)
# is not writable in a replica (the user's home is /nonexistent on a read-only root), so
# Gunicorn logged "Control server error: [Errno 30] Read-only file system" at every start.
# https://docs.gunicorn.org/en/stable/settings.html#control-socket-disable
control_socket_disable = True

# Only the proxy reaches the replicas (private network), so trust its X-Forwarded-* headers.
forwarded_allow_ips = "*"
proxy_allow_ips = "*"

# The proxy logs every request (with the replica and its response time); a second line per
# request from here doubled the log volume and cost a third of the throughput
# (docs/benchmarks.md). Errors and Django's own logging still go to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "@@{proc_name}"
