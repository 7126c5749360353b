"""From the stack's choices to what each server is told: one mapping for both targets.

The Docker and VM stacks differ only in the few keyword arguments they pass here (where logs
go, which port the proxy listens on, how many nginx workers), so a setting added to the
config reaches both the same way.
"""

from __future__ import annotations

import pulumi

from components.choices import AppServer, DebianRelease, MediaKind, TlsMode, upstream_protocol
from components.config import StackConfig
from components.render.acme import ACME_WEBROOT
from components.render.app_server_config import AppServerSettings
from components.render.media import s3_credentials
from components.render.proxy_config import (
    PROXY_PORT,
    PROXY_TLS_PORT,
    ProxySettings,
    ProxyTls,
    Upstream,
)


def app_server_settings(
    config: StackConfig, *, syslog_tag: str | None = None, bind_address: str | None = None
) -> AppServerSettings:
    """The app server's settings for this stack (`bind_address`: see AppServerSettings)."""
    return AppServerSettings(
        app_server=config.app_server,
        wsgi_callable=config.wsgi_callable,
        workers=config.workers,
        threads=config.threads,
        timeout_seconds=config.timeout_seconds,
        max_requests=config.max_requests,
        syslog_tag=syslog_tag,
        bind_address=bind_address,
    )


def proxy_settings(
    config: StackConfig,
    *,
    upstream_hosts: list[str],
    worker_processes: str,
    listen_port: int = PROXY_PORT,
    tls_listen_port: int = PROXY_TLS_PORT,
    tls_files: tuple[str, str] = ("", ""),
    syslog_tag: str | None = None,
    upstream_members_file: str | None = None,
) -> ProxySettings:
    """The proxy's settings for this stack, balancing over `upstream_hosts`; with TLS on,
    the proxy reads (certificate chain, key) from `tls_files`; with `upstream_members_file`,
    the upstream group's members from that file."""
    return ProxySettings(
        proxy=config.proxy,
        protocol=upstream_protocol(config.app_server),
        upstreams=tuple(Upstream(host) for host in upstream_hosts),
        workers_per_upstream=config.workers,
        threads_per_worker=config.threads,
        timeout_seconds=config.timeout_seconds,
        allowed_hosts=config.allowed_hosts,
        max_body_mb=config.max_body_mb,
        listen_port=listen_port,
        worker_processes=worker_processes,
        upstream_keepalive=config.upstream_keepalive,
        # runserver serves static files itself (from the mounted code).
        serve_static=config.app_server is not AppServer.RUNSERVER,
        syslog_tag=syslog_tag,
        media_url=media_url(config),
        rate_limit=config.rate_limit,
        upstream_members_file=upstream_members_file,
        tls=ProxyTls(
            listen_port=tls_listen_port,
            public_port=config.tls.https_port,
            certificate_file=tls_files[0],
            key_file=tls_files[1],
            hsts_max_age=config.tls.hsts_max_age,
            # The stack's own CA has no OCSP responder to ask, nor has Let's Encrypt since
            # 2025 (https://letsencrypt.org/2024/12/05/ending-ocsp/), nor Pebble.
            ocsp_stapling=config.tls.mode is TlsMode.FILES,
            acme_webroot=ACME_WEBROOT if config.tls.mode is TlsMode.ACME else None,
            # Debian 12 has nginx 1.22, Debian 13 1.26 (which has `http2 on;`).
            nginx_http2_directive=config.debian_release is not DebianRelease.BOOKWORM,
        )
        if config.tls.enabled
        else None,
    )


def media_url(config: StackConfig) -> str | None:
    """The URL uploaded files are stored under and the proxy serves; None: no media."""
    return config.media.url if config.media.kind is MediaKind.VOLUME else None


def media_credentials(config: StackConfig) -> pulumi.Output[dict[str, str]]:
    """The S3 access key pair's variables (a secret), or none: no s3, or EC2's instance role."""
    s3 = config.media.s3
    if s3 is None or s3.access_key_id is None or s3.secret_access_key is None:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(
        access_key_id=s3.access_key_id.as_output(),
        secret_access_key=s3.secret_access_key.as_output(),
    ).apply(lambda v: s3_credentials(**v))


def https_port(config: StackConfig) -> int | None:
    """The port clients reach HTTPS on; None: the stack serves plain HTTP."""
    return config.tls.https_port if config.tls.enabled else None
