"""A throwaway OpenSSH server on loopback, for tests of what runs commands over SSH.

`running_sshd()` makes a host key and a client key in a temporary directory, writes an
sshd_config of its own (loopback only, a free high port, key login only, that client key
authorized for the current user) and runs Debian's `/usr/sbin/sshd -D` until the block ends.
sshd is picky about where it runs: its privilege-separation directory (/run/sshd) must exist,
and StrictModes is off because the temporary directory's modes are not its business.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


class SshdUnavailableError(RuntimeError):
    """openssh-server (sshd) or ssh-keygen is not installed."""


@dataclass(frozen=True)
class SshServer:
    """Where the server listens and how to log in to it."""

    host: str
    port: int
    user: str
    private_key: str
    """The client's private key (OpenSSH format), authorized for `user`."""
    host_public_key: str
    """The server's host key, one authorized_keys line (for a client that checks it)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "django-stack-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def running_sshd() -> Iterator[SshServer]:
    if not SSHD.is_file() or shutil.which("ssh-keygen") is None:
        raise SshdUnavailableError(f"{SSHD} or ssh-keygen is missing (Debian: openssh-server)")
    with tempfile.TemporaryDirectory(prefix="djstack-sshd-") as tmp:
        folder = Path(tmp)
        _keygen(folder / "host_key")
        _keygen(folder / "client_key")
        (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
        port = _free_port()
        # sshd(8): without -D it daemonizes; -e logs to stderr (kept for the failure message).
        # The settings are sshd_config(5)'s; AcceptEnv is Debian's default (LANG LC_*), so a
        # variable a client asks for beyond those is refused, as on a real host.
        (folder / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {folder / 'host_key'}",
                    f"PidFile {folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "AcceptEnv LANG LC_*",
                    # The jump-host case goes through this same server (direct-tcpip).
                    "AllowTcpForwarding yes",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = (folder / "sshd.log").open("w")
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd does not listen: {(folder / 'sshd.log').read_text()}")
                time.sleep(0.1)
            yield SshServer(
                host="127.0.0.1",
                port=port,
                user=getpass.getuser(),
                private_key=(folder / "client_key").read_text(),
                host_public_key=(folder / "host_key.pub").read_text().strip(),
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
