"""Running the Pulumi program under the SDK's mocks, recording what it registers."""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.sync_await import _sync_await

from components.program import run
from tests.support.stack_files import PROJECT_DIR

# How a secret input arrives in the wire format (pulumi's rpc.py _special_secret_sig).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
# What the mocked aws.ec2.get_ami answers (the Debian image lookup).
AMI_ID = "ami-0debianmock00001"
# The region FakeCloud's S3 buckets report.
MOCK_REGION = "eu-west-1"


def is_wire_secret(value: Any) -> bool:
    """Whether a wire-format value is a wrapped secret."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """The plain value, with every secret wrapper removed (for the engine call only)."""
    if is_wire_secret(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


@dataclass
class Registration:
    """One resource the program registered."""

    typ: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    custom: bool
    retain_on_delete: bool | None = None
    """The resource option as sent to the engine (None: not set)."""
    protect: bool = False
    """The `protect` resource option as sent to the engine (inherited from the parent)."""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's parent and dependencies."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registered = self.resources.get(response.urn)
            with self._lock:
                self.registrations.append(
                    Registration(
                        typ=request.type,
                        name=request.name,
                        urn=response.urn,
                        parent=request.parent,
                        dependencies=list(request.dependencies),
                        custom=request.custom,
                        retain_on_delete=request.retainOnDelete
                        if request.HasField("retainOnDelete")
                        else None,
                        protect=bool(request.protect),
                        inputs=pulumi.runtime.rpc.deserialize_properties(
                            request.object, keep_unknowns=True
                        ),
                        outputs=dict(registered.state) if registered else {},
                    )
                )
        return response


class FakeCloud(pulumi.runtime.Mocks):
    """Outputs a provider would return, without doing anything.

    In preview, computed outputs (generated passwords, image digests) are left out, so they
    are unknown to the program, as they are under `pulumi preview`.
    """

    def __init__(self, *, preview: bool = False) -> None:
        self.preview = preview
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        if self.preview:
            return None, outputs
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "r" * int(args.inputs.get("length", 16))
        if args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = ""
        if args.typ == "aws:ec2/instance:Instance":
            # Addresses EC2 assigns, distinct per instance and stable per name.
            n = zlib.crc32(args.name.encode()) % 250 + 2
            outputs.update(privateIp=f"10.0.1.{n}", publicIp=f"198.51.100.{n}")
        if args.typ == "aws:ec2/keyPair:KeyPair":
            outputs["keyName"] = f"{args.inputs.get('keyNamePrefix', '')}0001"
        if args.typ == "aws:s3/bucket:Bucket":
            # S3 completes the prefix with a unique suffix; the region is the provider's.
            name = f"{args.inputs.get('bucketPrefix', '')}0001"
            outputs.update(bucket=name, arn=f"arn:aws:s3:::{name}", region=MOCK_REGION)
        if args.typ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"):
            outputs["name"] = f"{args.inputs.get('namePrefix', '')}0001"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        self.calls.append(args)
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": AMI_ID, "imageId": AMI_ID, "name": "debian-13-amd64-20260101-1"}, []
        return {}, []


@dataclass
class ProgramRun:
    """What one run of the program registered and returned."""

    registrations: list[Registration]
    outputs: dict[str, Any]

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.typ == typ]

    def named(self, name: str) -> Registration:
        (match,) = [r for r in self.registrations if r.name == name]
        return match

    def by_urn(self, urn: str) -> Registration:
        (match,) = [r for r in self.registrations if r.urn == urn]
        return match


def _finish_outstanding_work(timeout: float = 1800) -> None:
    """Let every registration still in flight end, as the engine does when a program fails.

    The SDK raises at the first failed RPC and leaves the others running: a program's process
    exits then, but this one goes on, and those tasks would carry on inside the next run
    (creating resources of a deployment that already failed, in another test's time).
    """
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=timeout))


def run_program(
    config: Mapping[str, str],
    *,
    stack: str,
    mocks: pulumi.runtime.Mocks | None = None,
    preview: bool = False,
    program: Callable[[], dict[str, Any]] | None = None,
    secret_keys: Collection[str] = (),
) -> ProgramRun:
    """Run the Pulumi program to completion under mocks with `config`; return what happened.

    `secret_keys`: the keys of `config` (with the namespace) given as secrets, as the engine
    passes `pulumi config set --secret` values.

    Outputs come back resolved; unknown values (preview) come back as None.
    """
    monitor = RecordingMonitor(mocks or FakeCloud(preview=preview))
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    # A fresh root stack per run, named after this run's stack.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks, project="django-stack", stack=stack, preview=preview, monitor=monitor
    )
    settings = pulumi.runtime.settings.SETTINGS
    settings.rpc_manager.clear()
    settings.outputs.clear()
    resolved: dict[str, Any] = {}

    def body() -> None:
        exports = (program or (lambda: run(PROJECT_DIR)))()
        for key, value in exports.items():
            resolved[key] = _sync_await(pulumi.Output.from_input(value).future())

    try:
        _sync_await(pulumi.runtime.stack.run_pulumi_func(body))
    except BaseException:
        _finish_outstanding_work()
        raise
    return ProgramRun(registrations=list(monitor.registrations), outputs=resolved)
