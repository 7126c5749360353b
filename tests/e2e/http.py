"""A small HTTP client for the end-to-end checks: stdlib only, one connection per request."""

from __future__ import annotations

import http.client
import re
import ssl
import urllib.parse
from dataclasses import dataclass, field

from tests.support.forms import multipart


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def served_by(self) -> str | None:
        """The replica that answered (the sample app's X-Served-By header)."""
        return self.headers.get("x-served-by")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    """Talks to one base URL; keeps cookies (for Django's CSRF token)."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    ssl_context: ssl.SSLContext | None = None
    """For an https:// URL: what the client trusts (the stack's own CA)."""

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None
    ) -> Response:
        url = urllib.parse.urlsplit(self.base_url)
        conn: http.client.HTTPConnection
        if url.scheme == "https":
            conn = http.client.HTTPSConnection(
                url.hostname or "127.0.0.1",
                url.port,
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            conn = http.client.HTTPConnection(
                url.hostname or "127.0.0.1", url.port, timeout=self.timeout
            )
        try:
            sent = {"Connection": "close", **(headers or {})}
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            data = raw.read()
            for header, value in raw.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def _csrf_token(self, path: str) -> str:
        page = self.get(path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise AssertionError(f"no CSRF token on {path}: {page.status}")
        return match.group(1)

    def _post(self, path: str, body: bytes, content_type: str) -> Response:
        headers = {
            "Content-Type": content_type,
            "Referer": self.base_url,
            "Origin": self.base_url.rstrip("/"),
        }
        return self.request("POST", path, body=body, headers=headers)

    def post_form(self, path: str, fields: dict[str, str]) -> Response:
        """POST a form the way a browser does, with the CSRF token from the page."""
        token = self._csrf_token(path)
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields})
        return self._post(path, body.encode(), "application/x-www-form-urlencoded")

    def post_files(
        self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
    ) -> Response:
        """POST a form with file inputs ({field: (file name, content)}), as multipart/form-data."""
        body, content_type = multipart(
            {"csrfmiddlewaretoken": self._csrf_token(path), **fields}, files
        )
        return self._post(path, body, content_type)
