"""HTML forms as a browser sends them, for the tests that post to the sample app."""

from __future__ import annotations

import mimetypes
import uuid


def _file_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, for a form with file inputs.

    `files` maps a field to (file name, content), sent with the type a browser gives a file
    of that name (by its extension; application/octet-stream when it has none it knows).
    """
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {_file_type(filename)}\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
