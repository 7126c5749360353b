"""The program's entry point (components/program.py `declare_stack`) and the preview-only
environment of deploy/workspace.py, which keep `pulumi preview` linear in the stack's size
(docs/benchmarks.md, "The program at scale under the real engine")."""

from __future__ import annotations

import runpy
from types import SimpleNamespace
from typing import Any, cast

import pulumi
import pulumi.runtime.stack as sdk_stack
import pytest
from pulumi import automation as auto
from pulumi.runtime.sync_await import _sync_await

from bench.engine_scale import vm_stack_config
from components.program import declare_stack
from deploy.workspace import SKIP_CHECKPOINTS, checkpoints_skipped
from tests.support.mocks import FakeCloud, RecordingMonitor
from tests.support.stack_files import PROJECT_DIR


def _mocked_engine(app_hosts: int) -> RecordingMonitor:
    """The SDK's mocks as run_program sets them up, for a VM stack on `app_hosts` hosts."""
    monitor = RecordingMonitor(FakeCloud(preview=True))
    pulumi.runtime.set_all_config(vm_stack_config(app_hosts), ["django-stack:sshPrivateKey"])
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks, project="django-stack", stack="dev", preview=True, monitor=monitor
    )
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    return monitor


def test_main_declares_the_stack_through_pulumi_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`__main__.py` as the Python language host runs it (pulumi-language-python-exec: the
    module inside `run_in_stack`): the awaitable entry point runs after the module, and its
    outputs become the stack's exports."""
    monitor = _mocked_engine(3)
    # run_in_stack makes its own root stack.
    pulumi.runtime.settings.ROOT.set(None)
    exported: list[dict[str, Any]] = []
    add_outputs = sdk_stack.Stack._add_program_outputs

    def recorded(stack: sdk_stack.Stack, outputs: Any) -> None:
        exported.append(dict(outputs))
        add_outputs(stack, outputs)

    monkeypatch.setattr(sdk_stack.Stack, "_add_program_outputs", recorded)
    main = PROJECT_DIR / "__main__.py"
    _sync_await(sdk_stack.run_in_stack(lambda: runpy.run_path(str(main), run_name="__main__")))
    assert len(exported) == 1
    assert set(exported[0]) == {
        "url",
        "tlsCaCertificate",
        "appServer",
        "proxy",
        "replicas",
        "platform",
    }
    assert exported[0]["replicas"] == 3 and exported[0]["platform"] == "vm"
    assert len(monitor.registrations) > 30


def test_every_registration_is_under_way_when_the_sdk_starts_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When declare_stack returns, each registration the program started is among the RPCs
    the SDK awaits one by one, so it never re-waits on every pending Output after each engine
    answer (with the synchronous `run`, under the real engine, none is: it calls
    asyncio.wait once per resource, on 2,100 Outputs at 10 hosts)."""
    under_way: list[int] = []
    wait_for_rpcs = sdk_stack.wait_for_rpcs

    async def counted(*args: Any, **kwargs: Any) -> None:
        under_way.append(len(pulumi.runtime.settings.SETTINGS.rpc_manager.rpcs))
        await wait_for_rpcs(*args, **kwargs)

    monkeypatch.setattr(sdk_stack, "wait_for_rpcs", counted)
    monitor = _mocked_engine(10)
    outputs: dict[str, Any] = {}

    async def program() -> None:
        outputs.update(await declare_stack(PROJECT_DIR))

    _sync_await(sdk_stack.run_pulumi_func(program))
    monkeypatch.undo()
    assert outputs["replicas"] == 10
    registered = len(monitor.registrations)
    assert registered > 100  # the whole stack was declared
    # Each registration's RPC, and each component's registration of its outputs.
    assert len(under_way) == 1 and under_way[0] >= registered


def test_checkpoints_are_skipped_within_and_the_environment_restored_after() -> None:
    workspace = SimpleNamespace(env_vars={"PULUMI_BACKEND_URL": "file:///state"})
    stack = cast(auto.Stack, SimpleNamespace(workspace=workspace))
    with checkpoints_skipped(stack):
        assert workspace.env_vars == {
            "PULUMI_BACKEND_URL": "file:///state",
            SKIP_CHECKPOINTS: "true",
        }
    assert workspace.env_vars == {"PULUMI_BACKEND_URL": "file:///state"}

    # A value the caller chose comes back, also when the preview fails.
    workspace.env_vars = {SKIP_CHECKPOINTS: "false"}
    with pytest.raises(RuntimeError), checkpoints_skipped(stack):
        assert workspace.env_vars == {SKIP_CHECKPOINTS: "true"}
        raise RuntimeError("preview failed")
    assert workspace.env_vars == {SKIP_CHECKPOINTS: "false"}
