"""Precompressed copies of the collected static files, for the proxy to send as they are.

Run after collectstatic, which makes none itself (only whitenoise or django-compressor would):
in the app image's build (templates/docker/app.Dockerfile; the proxy image copies the tree)
and on the VM proxy host (templates/vm/collectstatic.sh). Beside each text file of at least
MIN_BYTES it writes `<name>.gz`, gzip at level 9 (once, at build time, instead of the
cheaper level the proxy compresses with on every request), kept only when smaller. The gzip
header holds no file name and no time, so the same files give the same bytes and the image's
digest does not move. nginx's `gzip_static` and Apache's rewrite to `.gz`
(templates/*/static.conf) send the copy to a client that accepts gzip.

Usage: python3 django_stack_precompress.py STATIC_ROOT
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

# The same list as components/render/proxy_config.py's PRECOMPRESSED_EXTENSIONS (a unit test
# checks): this file runs where the components are not installed.
EXTENSIONS = (".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt", ".html")
MIN_BYTES = 256


def precompress(root: Path) -> int:
    """Write `<name>.gz` beside each text file under `root`; the number written."""
    written = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.suffix.lower() not in EXTENSIONS:
            continue
        data = path.read_bytes()
        if len(data) < MIN_BYTES:
            continue
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        target = path.with_name(path.name + ".gz")
        if len(packed) >= len(data):
            target.unlink(missing_ok=True)
            continue
        target.write_bytes(packed)
        written += 1
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    count = precompress(Path(argv[1]))
    print(f"django-stack: {count} static files precompressed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
