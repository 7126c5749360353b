"""What a TLS listener accepts, seen from the client's side: sslyze's scan, and ALPN.

Shared by the real-server tests (tests/unit/test_proxy_tls.py) and the end-to-end ones
(tests/e2e/test_tls.py), which point them at a loopback port.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)

from components.render.tls import TLS12_CIPHERS

OLD_PROTOCOLS = ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1")


def scan(*, port: int, ca_file: Path, host: str = "localhost") -> ServerScanResult:
    """sslyze's scan of every protocol's cipher suites and of the certificate, trusting
    `ca_file` besides the public stores."""
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(host, port, ip_address="127.0.0.1"),
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=host),
        scan_commands={
            ScanCommand.SSL_2_0_CIPHER_SUITES,
            ScanCommand.SSL_3_0_CIPHER_SUITES,
            ScanCommand.TLS_1_0_CIPHER_SUITES,
            ScanCommand.TLS_1_1_CIPHER_SUITES,
            ScanCommand.TLS_1_2_CIPHER_SUITES,
            ScanCommand.TLS_1_3_CIPHER_SUITES,
            ScanCommand.CERTIFICATE_INFO,
        },
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = scanner.get_results()
    assert result.scan_status is ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    return result


def accepted(result: ServerScanResult, name: str) -> list[str]:
    """OpenSSL's names of the suites accepted by the scan command `name`'s result."""
    assert result.scan_result is not None
    attempt = getattr(result.scan_result, name)
    assert attempt.result is not None, attempt.error_trace
    return [c.cipher_suite.openssl_name for c in attempt.result.accepted_cipher_suites]


def assert_mozilla_intermediate(result: ServerScanResult, *, ca_file: Path) -> None:
    """No SSL 2/3, TLS 1.0 or 1.1; TLS 1.2 with Mozilla's intermediate ciphers only; TLS 1.3;
    a chain, in order, that validates against `ca_file` (and no public store)."""
    for old in OLD_PROTOCOLS:
        assert accepted(result, f"{old}_cipher_suites") == [], old
    tls12 = accepted(result, "tls_1_2_cipher_suites")
    assert tls12 and set(tls12) <= set(TLS12_CIPHERS), tls12
    assert accepted(result, "tls_1_3_cipher_suites")
    assert result.scan_result is not None
    info = result.scan_result.certificate_info.result
    assert info is not None
    (deployment,) = info.certificate_deployments
    assert deployment.received_chain_has_valid_order
    # Validation checks the name too (the scan's host).
    ours = [v for v in deployment.path_validation_results if v.trust_store.path == ca_file]
    assert ours and ours[0].was_validation_successful, ours
    public = [v for v in deployment.path_validation_results if v.trust_store.path != ca_file]
    assert public and not any(v.was_validation_successful for v in public)


def negotiated_alpn(*, port: int, ca_file: Path, host: str = "localhost") -> str | None:
    """The protocol the server picks when the client offers h2 and HTTP/1.1."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as conn,
    ):
        return conn.selected_alpn_protocol()
