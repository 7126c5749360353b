"""Container health check: one GET to this replica's own app server, in its protocol.

uWSGI's socket speaks the binary uwsgi protocol, not HTTP, so the check builds that packet
itself (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html). Stdlib only.
Usage: healthcheck.py http|uwsgi PORT PATH HOST [ADDRESS]
(ADDRESS: where the server listens, 127.0.0.1 unless given: a VM's app server listens on its
private address only.)
"""

from __future__ import annotations

import socket
import struct
import sys


def uwsgi_packet(*, path: str, host: str, port: int) -> bytes:
    """A uwsgi request packet (modifier 0: a WSGI request) for GET `path`."""
    variables = {
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "HTTP_HOST": host,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
    }
    # Sizes count bytes, not characters: encode first (a non-ASCII path is longer in UTF-8).
    pairs = [(k.encode(), v.encode()) for k, v in variables.items()]
    body = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)
    return struct.pack("<BHB", 0, len(body), 0) + body


def http_request(*, path: str, host: str) -> bytes:
    """A plain HTTP/1.0 GET, so the server closes the connection after answering."""
    return f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()


def check(
    *,
    protocol: str,
    port: int,
    path: str,
    host: str,
    address: str = "127.0.0.1",
    timeout: float = 5.0,
) -> bool:
    """Whether the server answers `path` with status 200."""
    request = (
        uwsgi_packet(path=path, host=host, port=port)
        if protocol == "uwsgi"
        else http_request(path=path, host=host)
    )
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.sendall(request)
        status_line = conn.makefile("rb").readline().decode("latin-1")
    return status_line.split(" ")[1:2] == ["200"]


def main(argv: list[str]) -> int:
    protocol, port, path, host = argv[1], int(argv[2]), argv[3], argv[4]
    address = argv[5] if len(argv) > 5 else "127.0.0.1"
    try:
        ok = check(protocol=protocol, port=port, path=path, host=host, address=address)
        return 0 if ok else 1
    except OSError as error:
        print(f"health check failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
