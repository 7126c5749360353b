"""The project's own `command` plugin (scripts/own-plugins/) under the real engine.

Two `remote.Command`s against an sshd on loopback (tests/support/sshd.py): one writes its
secret stdin to a file, the other reads the file through a jump host (the same sshd) and
depends on the first. One stack goes through preview, up, a no-op up, a change of stdin (an
update), a change of triggers (a replacement), failing commands, the exported state, and
destroy; what ran is read from a log the commands append to on the host.

The plugin is scripts/build-own-plugins.sh's (DJANGO_STACK_COMMAND_PLUGIN names another
binary); without it the test skips, which DJANGO_STACK_REQUIRE_E2E=1 turns into a failure.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto
from pulumi_command import remote

from tests.engine.conftest import own_plugin, plugin_engine
from tests.support.sshd import SshdUnavailableError, SshServer, running_sshd

pytestmark = pytest.mark.engine
# The plugin version the Python SDK asks the engine for.
PLUGIN_VERSION = importlib.metadata.version("pulumi-command")
SECRET = "first-secret-stdin-3f9c1d27a8e4"
SECOND_SECRET = "second-secret-stdin-b7e2a95c01d6"


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    try:
        with running_sshd() as server:
            yield server
    except SshdUnavailableError as missing:
        pytest.skip(str(missing))


@dataclass
class Scenario:
    """What the program is asked for in one run."""

    stdin: str = SECRET
    trigger: str = "one"
    failing: bool = False
    unreachable_port: int | None = None


def _program(ssh: SshServer, host_dir: Path, scenario: Scenario) -> auto.PulumiFn:
    folder = shlex.quote(str(host_dir))

    def main() -> None:
        key = pulumi.Output.secret(ssh.private_key)
        direct = remote.ConnectionArgs(
            host=ssh.host, port=ssh.port, user=ssh.user, private_key=key, dial_error_limit=2
        )
        jump = remote.ConnectionArgs(
            host=ssh.host,
            port=ssh.port,
            user=ssh.user,
            private_key=key,
            host_key=ssh.host_public_key,
            proxy=remote.ProxyConnectionArgs(
                host=ssh.host, port=ssh.port, user=ssh.user, private_key=key
            ),
        )
        writer = remote.Command(
            "writer",
            connection=direct,
            create=f"umask 077; cat > {folder}/written; echo 'writer create' >> {folder}/log;"
            f" echo wrote $(wc -c < {folder}/written) bytes; echo a-line-on-stderr >&2",
            update=f"umask 077; cat > {folder}/written; echo 'writer update' >> {folder}/log;"
            f" echo rewrote $(wc -c < {folder}/written) bytes",
            delete=f"rm -f {folder}/written; echo 'writer delete' >> {folder}/log",
            stdin=pulumi.Output.secret(scenario.stdin),
            triggers=[scenario.trigger],
            # The replacement's create writes the file its predecessor's delete removes.
            opts=pulumi.ResourceOptions(delete_before_replace=True),
        )
        reader = remote.Command(
            "reader",
            connection=jump,
            create=f"echo 'reader create' >> {folder}/log;"
            f" sha256sum < {folder}/written | cut -c1-64",
            delete=f"echo 'reader delete' >> {folder}/log",
            triggers=[writer.id],
            opts=pulumi.ResourceOptions(depends_on=[writer]),
        )
        if scenario.failing:
            remote.Command(
                "failing",
                connection=direct,
                create="echo on-stdout; echo 'the reason it failed' >&2; exit 3",
            )
        if scenario.unreachable_port is not None:
            remote.Command(
                "unreachable",
                connection=remote.ConnectionArgs(
                    host="127.0.0.1",
                    port=scenario.unreachable_port,
                    private_key=key,
                    dial_error_limit=1,
                    per_dial_timeout=2,
                ),
                create="true",
            )
        pulumi.export("writer_stdout", writer.stdout)
        pulumi.export("writer_stderr", writer.stderr)
        pulumi.export("writer_id", writer.id)
        pulumi.export("reader_stdout", reader.stdout)

    return main


def _log(host_dir: Path) -> list[str]:
    path = host_dir / "log"
    return path.read_text().splitlines() if path.exists() else []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_remote_commands_under_the_real_engine(sshd: SshServer, tmp_path: Path) -> None:
    engine = plugin_engine(
        tmp_path, name="command", version=PLUGIN_VERSION, binary=own_plugin("command")
    )
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    stack = engine.inline_stack(
        project="command-plugin-check",
        program=_program(sshd, host_dir, Scenario()),
        work_dir=tmp_path / "work",
    )

    def run(scenario: Scenario) -> None:
        stack.workspace.program = _program(sshd, host_dir, scenario)

    try:
        # preview: two commands to create, nothing run on the host.
        preview = stack.preview()
        assert preview.change_summary == {"create": 3}
        assert not (host_dir / "written").exists() and _log(host_dir) == []

        # up: the secret stdin is in the file; the reader (through the jump host) read it.
        up = stack.up()
        assert up.summary.resource_changes == {"create": 3}
        assert (host_dir / "written").read_text() == SECRET
        assert _log(host_dir) == ["writer create", "reader create"]
        outputs = up.outputs
        assert outputs["writer_stdout"].value == f"wrote {len(SECRET)} bytes"
        assert outputs["writer_stdout"].secret  # made from a secret stdin
        assert outputs["writer_stderr"].value == "a-line-on-stderr"
        assert outputs["reader_stdout"].value == hashlib.sha256(SECRET.encode()).hexdigest()
        assert not outputs["reader_stdout"].secret
        writer_id = outputs["writer_id"].value

        # The same program again: no change, nothing run.
        again = stack.up(expect_no_changes=True)
        assert again.summary.resource_changes == {"same": 3}
        assert _log(host_dir) == ["writer create", "reader create"]

        # A new stdin: `update` runs in place (same id), the reader is left alone.
        run(Scenario(stdin=SECOND_SECRET))
        changed = stack.up()
        assert changed.summary.resource_changes == {"update": 1, "same": 2}
        assert (host_dir / "written").read_text() == SECOND_SECRET
        assert _log(host_dir)[2:] == ["writer update"]
        assert changed.outputs["writer_id"].value == writer_id
        assert changed.outputs["writer_stdout"].value == f"rewrote {len(SECOND_SECRET)} bytes"

        # New triggers: the writer is replaced (delete, then create: delete_before_replace),
        # and the reader, whose triggers hold the writer's id, with it.
        run(Scenario(stdin=SECOND_SECRET, trigger="two"))
        replaced = stack.up()
        assert replaced.summary.resource_changes == {"replace": 2, "same": 1}
        assert replaced.outputs["writer_id"].value != writer_id
        assert sorted(_log(host_dir)[3:]) == sorted(
            ["reader delete", "writer delete", "writer create", "reader create"]
        )
        assert (host_dir / "written").read_text() == SECOND_SECRET

        # A command that exits non-zero fails the up, with its exit status and stderr.
        run(Scenario(stdin=SECOND_SECRET, trigger="two", failing=True))
        with pytest.raises(auto.CommandError) as failed:
            stack.up()
        message = str(failed.value)
        assert "exit status 3" in message and "the reason it failed" in message
        # A host nobody listens on: the dial is tried dialErrorLimit + 1 times, then fails.
        run(Scenario(stdin=SECOND_SECRET, trigger="two", unreachable_port=_closed_port()))
        with pytest.raises(auto.CommandError) as unreachable:
            stack.up()
        assert "after 2 failed attempts" in str(unreachable.value)
        run(Scenario(stdin=SECOND_SECRET, trigger="two"))

        # The state holds the secrets only encrypted (`pulumi stack export` without
        # --show-secrets, and the file on disk).
        exported, on_disk = engine.exported_and_on_disk(stack)
        for text in (exported, on_disk):
            assert "ciphertext" in text
            for secret in (SECRET, SECOND_SECRET, sshd.private_key.splitlines()[1]):
                assert secret not in text
        # The writer's stdout, made from its secret stdin, is encrypted too.
        assert f"rewrote {len(SECOND_SECRET)} bytes" not in exported

        # destroy: each delete command ran, the reader's first.
        before = len(_log(host_dir))
        destroyed = stack.destroy()
        assert destroyed.summary.resource_changes == {"delete": 3}
        assert _log(host_dir)[before:] == ["reader delete", "writer delete"]
        assert not (host_dir / "written").exists()
    finally:
        stack.workspace.remove_stack("check", force=True)
