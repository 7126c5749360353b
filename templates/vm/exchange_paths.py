"""Swaps two paths in one renameat2(2) call with RENAME_EXCHANGE: the proxy host's static
tree and the release's new one (templates/vm/collectstatic.sh), so that a request in between
finds the old tree or the new one, never none. Two rename(2) calls leave a moment with no
tree at all (seen: Apache answered 403 to 2 of 6,121 requests during a release). coreutils
9.5's `mv --exchange` makes the same call; Debian 12's coreutils (9.1) has no such option,
and its glibc (2.36) has the renameat2 wrapper (since 2.28), as Debian 13's does.

    python3 exchange_paths.py A B
"""

from __future__ import annotations

import ctypes
import os
import sys

AT_FDCWD = -100  # <fcntl.h>: paths relative to the current directory
RENAME_EXCHANGE = 1 << 1  # <linux/fs.h>


def exchange(a: str, b: str) -> None:
    """Swap `a` and `b` (both must exist) atomically."""
    libc = ctypes.CDLL(None, use_errno=True)
    done = libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if done != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), a, None, b)


if __name__ == "__main__":
    exchange(sys.argv[1], sys.argv[2])
