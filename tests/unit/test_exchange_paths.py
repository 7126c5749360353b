"""templates/vm/exchange_paths.py: the static trees swapped in one call, on this kernel."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from components.render.templates import template_path

SCRIPT = template_path("vm/exchange_paths.py")
SWAPS = 2000


def exchange(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True
    )


def tree(root: Path, text: str) -> Path:
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text(text)
    return root


def test_the_trees_change_places(tmp_path: Path) -> None:
    live, new = tree(tmp_path / "static", "old"), tree(tmp_path / "static.next", "new")
    assert exchange(new, live).returncode == 0
    assert (live / "css" / "site.css").read_text() == "new"
    assert (new / "css" / "site.css").read_text() == "old"


def test_a_missing_tree_fails_and_changes_nothing(tmp_path: Path) -> None:
    live = tree(tmp_path / "static", "old")
    done = exchange(tmp_path / "static.next", live)
    assert done.returncode != 0 and "No such file or directory" in done.stderr
    assert (live / "css" / "site.css").read_text() == "old"


# A reader in a process of its own, as the proxy is: it opens the file until told to stop
# (stdin closed) and prints how many opens found no file.
READER = """
import sys, threading
path, misses, done = sys.argv[1], 0, threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("reading", flush=True)
while not done.is_set():
    try:
        open(path).close()
    except FileNotFoundError:
        misses += 1
print(misses)
"""


def test_a_reader_never_finds_no_tree(tmp_path: Path) -> None:
    """Opens of a file during many swaps: each finds the old tree or the new one."""
    spec = importlib.util.spec_from_file_location("exchange_paths", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    live, new = tree(tmp_path / "static", "a"), tree(tmp_path / "static.next", "b")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(live / "css" / "site.css")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdout.readline() == "reading\n"
    for _ in range(SWAPS):
        module.exchange(str(new), str(live))
    misses, _ = reader.communicate("", timeout=30)
    assert int(misses) == 0
