"""How each server reloads gracefully and stops cleanly, on both targets.

systemd (the VM target's units) and Docker (the containers' stop signal, which `docker stop`
and the docker provider's delete send before they kill) send the same signals:
- Gunicorn: HUP starts new workers with the new config and code, then retires the old ones;
  TERM is a graceful stop (workers finish their requests within graceful_timeout)
  https://docs.gunicorn.org/en/stable/signals.html
- uWSGI: HUP is a graceful reload of the master and its workers; die-on-term makes TERM a stop
  https://uwsgi-docs.readthedocs.io/en/latest/Management.html#signals-for-controlling-uwsgi
- Apache (mod_wsgi, the proxy): USR1 is `graceful`, WINCH is `graceful-stop` (TERM would end
  the requests in flight) https://httpd.apache.org/docs/2.4/stopping.html
- nginx: HUP re-reads the config and replaces workers gracefully, QUIT is a graceful stop
  (TERM a fast one) https://nginx.org/en/docs/control.html
- PostgreSQL: INT is the "fast" shutdown: it rolls back open transactions, disconnects the
  clients and shuts down cleanly (a checkpoint, no recovery at the next start); TERM, Docker's
  default, is the "smart" one, which waits for every client to disconnect, and the app's
  connections would keep it up until the kill
  https://www.postgresql.org/docs/current/server-shutdown.html
"""

from __future__ import annotations

from dataclasses import dataclass

from components.choices import AppServer, Proxy


@dataclass(frozen=True)
class ServerSignals:
    reload: str
    """`kill -<reload>` of the main process: a graceful reload."""
    stop: str
    """The signal that stops the server cleanly (systemd's KillSignal=, Docker's StopSignal)."""


APP_SIGNALS = {
    AppServer.GUNICORN: ServerSignals(reload="HUP", stop="SIGTERM"),
    AppServer.UWSGI: ServerSignals(reload="HUP", stop="SIGTERM"),
    AppServer.MOD_WSGI: ServerSignals(reload="USR1", stop="SIGWINCH"),
}
PROXY_SIGNALS = {
    Proxy.NGINX: ServerSignals(reload="HUP", stop="SIGQUIT"),
    Proxy.APACHE: ServerSignals(reload="USR1", stop="SIGWINCH"),
}
DATABASE_STOP_SIGNAL = "SIGINT"
# Django's runserver (a dev stack's) has no graceful stop of its own: TERM.
DEFAULT_STOP_SIGNAL = "SIGTERM"


def app_stop_signal(app_server: AppServer) -> str:
    signals = APP_SIGNALS.get(app_server)
    return signals.stop if signals else DEFAULT_STOP_SIGNAL


def stop_grace_seconds(request_timeout_seconds: int) -> int:
    """How long an app server is given to stop before it is killed: requests in flight may
    take the whole request timeout to finish."""
    return request_timeout_seconds + 10
