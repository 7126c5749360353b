"""The stack's allowed hosts (Django's ALLOWED_HOSTS syntax) in each proxy's own terms.

The proxy answers a request for any other Host itself, so Django only ever sees the names it
would accept. Django's patterns: an exact name (or IP literal), `.example.com` for that
domain and every subdomain of it, `*` for any host; matched without the port, ignoring case.
https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts

nginx's server_name has the same `.example.com` form and also ignores case and port:
https://nginx.org/en/docs/http/server_names.html. Apache's ServerAlias takes `*` wildcards,
so `.example.com` becomes `example.com *.example.com`:
https://httpd.apache.org/docs/2.4/mod/core.html#serveralias
"""

from __future__ import annotations

import re

ANY_HOST = "*"
# What components/config.py accepts for allowedHosts: nothing that could end a directive.
_PATTERN = re.compile(r"^(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])$")


def check_allowed_hosts(allowed_hosts: tuple[str, ...]) -> None:
    """Raise ValueError unless every pattern is one the proxies can be told as it is."""
    if not allowed_hosts:
        raise ValueError("allowed_hosts must name at least one host (or '*')")
    bad = [h for h in allowed_hosts if not _PATTERN.match(h)]
    if bad:
        raise ValueError(f"allowed_hosts: not a host name, '.domain' or '*': {bad!r}")


def any_host(allowed_hosts: tuple[str, ...]) -> bool:
    """Whether every Host is allowed, so there is nothing to answer at the proxy."""
    return ANY_HOST in allowed_hosts


def nginx_server_names(allowed_hosts: tuple[str, ...]) -> str:
    """The `server_name` arguments of the server that passes requests on to Django."""
    if any_host(allowed_hosts):
        # "_" matches no real name: with `*` this server is the default, which takes them all.
        return "_"
    return " ".join(h.lower() for h in allowed_hosts)


def apache_server_names(allowed_hosts: tuple[str, ...]) -> tuple[str, list[str]]:
    """(ServerName, ServerAlias names) of the VirtualHost that passes requests to Django."""
    names: list[str] = []
    for host in (h.lower() for h in allowed_hosts if h != ANY_HOST):
        domain = host.removeprefix(".")
        names += [domain, f"*.{domain}"] if host.startswith(".") else [host]
    unique = list(dict.fromkeys(names))
    if not unique:
        # Only `*`: this VirtualHost is the only one, so it gets every request whatever the
        # name; "localhost" is what Apache would assume anyway.
        return "localhost", []
    return unique[0], unique[1:]


def probe_host(allowed_hosts: tuple[str, ...]) -> str:
    """A Host header the proxy passes on to Django, for a health check through the proxy."""
    first = allowed_hosts[0]
    if first == ANY_HOST:
        return "localhost"
    return first.removeprefix(".")
