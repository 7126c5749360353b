"""Runs the program's Docker resources for real: a Pulumi mocks class backed by a Docker engine.

CI builds no docker plugin yet (docs/engine-spike.md), so for the Docker target this stands
in for the docker and random providers; the VM target runs under the real engine
(tests/e2e/real_engine.py). Each resource the
program registers arrives in the provider's wire format (camelCase inputs, secrets wrapped)
and is carried out on the local engine with the docker CLI; the real results (ids, image ids,
addresses) go back to the program, so later resources consume real values, as under
`pulumi up`. An input this harness does not understand fails loudly rather than being
dropped. Everything it creates carries LABEL, so it can all be removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from tests.support.mocks import unwrap_secrets

LABEL = "django-stack.e2e"
DOCKER = (
    "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")
)

CONTAINER_INPUTS = {
    "name",
    "image",
    "command",
    "envs",
    "networksAdvanced",
    "ports",
    "healthcheck",
    "user",
    "readOnly",
    "tmpfs",
    "capabilities",
    "securityOpts",
    "memory",
    "memorySwap",
    "cpus",
    "ulimits",
    "sysctls",
    "restart",
    "labels",
    "logDriver",
    "logOpts",
    "volumes",
    "wait",
    "waitTimeout",
    "attach",
    "logs",
    "mustRun",
    "stopSignal",
    "stopTimeout",
    # What the provider's delete waits for; the harness removes its containers at once
    # (remove_everything), with nothing of theirs to keep.
    "destroyGraceSeconds",
}
IMAGE_INPUTS = {"imageName", "build", "skipPush", "buildOnPreview"}
BUILD_INPUTS = {"context", "dockerfile", "args", "builderVersion"}
NETWORK_INPUTS = {"name", "internal", "labels"}
VOLUME_INPUTS = {"name"}
RANDOM_INPUTS = {"length", "special"}
SSH = shutil.which("ssh") or "/usr/bin/ssh"


class EngineError(RuntimeError):
    """A docker command failed; the message says which and why (never a secret value)."""


# The lines of a failed build that say why, wherever they are in its log: apt's `E:`, pip's
# and uv's `ERROR:`/`error:`. BuildKit runs the stages side by side, so the failing step's
# own words are often far from the end of the log.
BUILD_ERRORS = re.compile(r"^#\d+ [\d.]+ (E: |ERROR: |error: ).*$", re.MULTILINE)


def docker(
    *args: str,
    check: bool = True,
    timeout: float = 900,
    env: dict | None = None,
    errors: re.Pattern[str] | None = None,
) -> str:
    """Run the docker CLI; return stdout. Arguments are never echoed (they may hold secrets).

    A failure's message is the end of stderr, after any lines of it that match `errors`.
    """
    result = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        reasons = (
            "".join(m.group(0) + "\n" for m in errors.finditer(result.stderr)) if errors else ""
        )
        raise EngineError(
            f"docker {args[0]} failed ({result.returncode}): {reasons}{result.stderr[-4000:]}"
        )
    return result.stdout


def engine_available() -> bool:
    """Whether a Docker engine answers."""
    try:
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _unknown(kind: str, inputs: dict[str, Any], known: set[str]) -> None:
    extra = sorted(set(inputs) - known)
    if extra:
        raise EngineError(f"the e2e harness does not understand {kind} inputs {extra}")


@dataclass
class DockerEngine(pulumi.runtime.Mocks):
    """Carries out docker:* and random:* resources for real (the Docker target; the VM
    target runs under the real engine: tests/e2e/real_engine.py)."""

    run_id: str

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:  # component resources have nothing to do
            return None, {}
        inputs = unwrap_secrets(args.inputs)
        handler = {
            "docker:index/network:Network": self._network,
            "docker:index/volume:Volume": self._volume,
            "docker:index/image:Image": self._image,
            "docker:index/container:Container": self._container,
            "random:index/randomPassword:RandomPassword": self._random_password,
        }.get(args.typ)
        if handler is None:
            raise EngineError(f"the e2e harness cannot carry out resources of type {args.typ}")
        resource_id, outputs = handler(inputs)
        # Outputs keep the program's view of its inputs (still secret-wrapped) plus real values.
        return resource_id, {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        raise EngineError(f"the e2e harness does not support provider function {args.token}")

    # --- resources -----------------------------------------------------------------------

    def _labels(self, program_labels: list[dict[str, str]] | None = None) -> list[str]:
        flags = ["--label", f"{LABEL}={self.run_id}"]
        for item in program_labels or []:
            flags += ["--label", f"{item['label']}={item['value']}"]
        return flags

    def _network(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        _unknown("network", inputs, NETWORK_INPUTS)
        flags = self._labels(inputs.get("labels"))
        if inputs.get("internal"):
            flags.append("--internal")
        network_id = docker("network", "create", *flags, inputs["name"]).strip()
        return network_id, {"name": inputs["name"]}

    def _volume(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        _unknown("volume", inputs, VOLUME_INPUTS)
        docker("volume", "create", *self._labels(), inputs["name"])
        return inputs["name"], {"name": inputs["name"], "mountpoint": ""}

    def _image(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        _unknown("image", inputs, IMAGE_INPUTS)
        build = inputs["build"]
        _unknown("image build", build, BUILD_INPUTS)
        if not inputs.get("skipPush"):
            raise EngineError("the e2e harness has no registry: images must set skipPush")
        name = inputs["imageName"]
        # Tags are content digests: an image already present was built from the same context.
        if docker("image", "ls", "-q", name).strip() == "":
            flags = ["--tag", name, "--file", build["dockerfile"], *self._labels()]
            for key, value in sorted((build.get("args") or {}).items()):
                flags += ["--build-arg", f"{key}={value}"]
            buildkit = "1" if build.get("builderVersion") == "BuilderBuildKit" else "0"
            docker(
                "build",
                "--quiet",
                *flags,
                build["context"],
                env={"DOCKER_BUILDKIT": buildkit},
                timeout=1800,
                errors=BUILD_ERRORS,
            )
        image_id = docker("image", "inspect", "--format", "{{.Id}}", name).strip()
        return name, {"imageName": name, "repoDigest": image_id}

    def _random_password(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        _unknown("randomPassword", inputs, RANDOM_INPUTS)
        alphabet = string.ascii_letters + string.digits
        if inputs.get("special", True):
            alphabet += "!#$%&*()-_=+[]{}<>:?"
        value = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
        return "none", {"result": value}

    def _container(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        _unknown("container", inputs, CONTAINER_INPUTS)
        name = inputs["name"]
        flags = ["--name", name, *self._labels(inputs.get("labels"))]
        # The environment holds secrets: through a private file, never on a command line
        # that `ps` shows to everyone on the host.
        env_file = tempfile.NamedTemporaryFile("w", suffix=".env", delete=False)
        with env_file:
            os.chmod(env_file.name, 0o600)
            for env in inputs.get("envs") or []:
                if "\n" in env:
                    raise EngineError(f"container {name}: an env value holds a newline")
                env_file.write(env + "\n")
        flags += ["--env-file", env_file.name]
        networks = inputs.get("networksAdvanced") or []
        if networks:
            first = networks[0]
            flags += ["--network", first["name"]]
            for alias in first.get("aliases") or []:
                flags += ["--network-alias", alias]
        for port in inputs.get("ports") or []:
            host = f"{port['ip']}:" if port.get("ip") else ""
            external = int(port["external"]) if port.get("external") else ""
            flags += [
                "--publish",
                f"{host}{external}:{int(port['internal'])}/{port.get('protocol', 'tcp')}",
            ]
        if inputs.get("user"):
            flags += ["--user", inputs["user"]]
        if inputs.get("readOnly"):
            flags.append("--read-only")
        for path, options in (inputs.get("tmpfs") or {}).items():
            flags += ["--tmpfs", f"{path}:{options}" if options else path]
        caps = inputs.get("capabilities") or {}
        for cap in caps.get("drops") or []:
            flags += ["--cap-drop", cap]
        for cap in caps.get("adds") or []:
            flags += ["--cap-add", cap]
        for opt in inputs.get("securityOpts") or []:
            flags += ["--security-opt", opt]
        if inputs.get("memory"):
            flags += ["--memory", f"{int(inputs['memory'])}m"]
        if inputs.get("memorySwap"):
            flags += ["--memory-swap", f"{int(inputs['memorySwap'])}m"]
        if inputs.get("cpus"):
            flags += ["--cpus", str(inputs["cpus"])]
        for limit in inputs.get("ulimits") or []:
            flags += ["--ulimit", f"{limit['name']}={int(limit['soft'])}:{int(limit['hard'])}"]
        for key, value in (inputs.get("sysctls") or {}).items():
            flags += ["--sysctl", f"{key}={value}"]
        if inputs.get("restart"):
            flags += ["--restart", inputs["restart"]]
        if inputs.get("stopSignal"):
            flags += ["--stop-signal", inputs["stopSignal"]]
        if inputs.get("stopTimeout"):
            flags += ["--stop-timeout", str(int(inputs["stopTimeout"]))]
        if inputs.get("logDriver"):
            flags += ["--log-driver", inputs["logDriver"]]
        for key, value in (inputs.get("logOpts") or {}).items():
            flags += ["--log-opt", f"{key}={value}"]
        for volume in inputs.get("volumes") or []:
            unknown = set(volume) - {"volumeName", "hostPath", "containerPath", "readOnly"}
            if unknown:
                raise EngineError(
                    f"the e2e harness does not understand volume inputs {sorted(unknown)}"
                )
            mode = ":ro" if volume.get("readOnly") else ""
            source = volume.get("volumeName") or volume["hostPath"]
            flags += ["--volume", f"{source}:{volume['containerPath']}{mode}"]
        check = inputs.get("healthcheck")
        if check:
            tests = check["tests"]
            if tests[0] != "CMD":
                raise EngineError(f"unsupported health check form {tests[0]}")
            flags += ["--health-cmd", _shell_join(tests[1:])]
            for key, flag in (
                ("interval", "--health-interval"),
                ("timeout", "--health-timeout"),
                ("startPeriod", "--health-start-period"),
            ):
                if check.get(key):
                    flags += [flag, check[key]]
            if check.get("retries"):
                flags += ["--health-retries", str(int(check["retries"]))]

        try:
            container_id = docker(
                "create", *flags, inputs["image"], *(inputs.get("command") or [])
            ).strip()
        finally:
            os.unlink(env_file.name)
        for network in networks[1:]:
            aliases = [f"--alias={a}" for a in network.get("aliases") or []]
            docker("network", "connect", *aliases, network["name"], container_id)
        docker("start", container_id)

        logs: str | None = None
        if inputs.get("attach"):
            # As the docker provider does: wait for the end, keep the output (with `logs`),
            # and record the exit code without failing on it; the program checks it.
            docker("wait", container_id, timeout=1800)
            if inputs.get("logs"):
                logs = _logs(container_id, tail=None)
        elif inputs.get("wait"):
            _wait_healthy(container_id, name, timeout=float(inputs.get("waitTimeout") or 60))
        details = json.loads(docker("inspect", container_id))[0]
        addresses = {
            net: info.get("IPAddress", "")
            for net, info in (details["NetworkSettings"].get("Networks") or {}).items()
        }
        return container_id, {
            "networkDatas": [{"networkName": n, "ipAddress": ip} for n, ip in addresses.items()],
            "exitCode": details["State"].get("ExitCode"),
            **({"containerLogs": logs} if logs is not None else {}),
        }


def ssh_flags(
    key_file: Path, *, user: str, port: int = 22, connect_timeout: int = 15, attempts: int = 1
) -> list[str]:
    """ssh flags for a key login (no user config, no known_hosts: the hosts are new)."""
    return [
        "-F",
        "/dev/null",
        "-i",
        str(key_file),
        "-p",
        str(port),
        "-l",
        user,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        f"ConnectTimeout={connect_timeout}",
        "-o",
        f"ConnectionAttempts={attempts}",
        "-o",
        "ServerAliveInterval=15",
    ]


def _shell_join(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def _logs(container_id: str, *, tail: int | None = 60) -> str:
    """The container's output (the last `tail` lines, for error messages; None: all)."""
    result = subprocess.run(
        [DOCKER, "logs", *(["--tail", str(tail)] if tail else []), container_id],
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    return output if tail is None else output[-6000:]


def _wait_healthy(container_id: str, name: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container_id))
        if not state.get("Running") and state.get("Status") == "exited":
            raise EngineError(
                f"container {name} exited ({state.get('ExitCode')}): {_logs(container_id)}"
            )
        status = (state.get("Health") or {}).get("Status", "none")
        if status in ("healthy", "none"):
            return
        time.sleep(0.5)
    raise EngineError(
        f"container {name} not healthy after {timeout:.0f}s ({status}): {_logs(container_id)}"
    )


def _labelled(kind: str, selector: str) -> list[str]:
    """IDs of the containers, networks or volumes that carry `selector`."""
    listing = {"container": ["ps", "-aq"], "network": ["network", "ls", "-q"]}.get(
        kind, [kind, "ls", "-q"]
    )
    return docker(*listing, "--filter", selector, check=False).split()


# vfs keeps every layer as a whole copy of its filesystem, and the build cache holds every
# layer built (removing an image frees nothing while the cache holds its layers): the first
# Docker stack takes about 12 GB of it, each other server pair 3-4 GB more, and a whole suite
# with nothing removed outgrew a CI machine's disk (seen: 75 GB, and the disk full). Below
# this much free space, removing a stack removes its images and the build cache too, and the
# stacks after it build from scratch (50 s more each): 20 GB is room for the largest next step
# (two stacks built cold) with the cache of every server pair kept until then.
LOW_DISK_BYTES = 20 * 1024**3


def free_bytes() -> int:
    root = "/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/"
    return shutil.disk_usage(root).free


def disk_is_low() -> bool:
    """Whether the engine's disk has less than LOW_DISK_BYTES free."""
    return free_bytes() < LOW_DISK_BYTES


def remove_images(images: list[str], *, whatever_the_disk: bool = False) -> None:
    """Remove `images` and the build cache, if asked or when the disk is low (LOW_DISK_BYTES)."""
    if not (whatever_the_disk or disk_is_low()):
        return
    free = free_bytes() >> 30
    print(f"\n[e2e] removing {len(images)} images and the build cache ({free} GB free)")
    if images:
        docker("image", "rm", "-f", *sorted(set(images)), check=False)
    docker("builder", "prune", "-af", check=False)


def remove_everything(
    run_id: str | None = None, *, images: bool = False, volumes: bool = True
) -> None:
    """Remove the containers, networks and volumes (and images, if asked) the harness made.

    `volumes=False` keeps the volumes, as `pulumi up` does across a release: the next run
    of the program creates them again by name, which hands back the existing ones.

    Checked, not hoped for: a removal can fail on a busy engine (vfs deletes a whole copy of
    the filesystem), and a container left behind keeps running and holds its name. So each
    kind is removed until none is left, and what cannot be removed fails the run.
    """
    selector = f"label={LABEL}" + (f"={run_id}" if run_id else "")
    removal = {
        "container": ["rm", "-f", "-v"],
        "network": ["network", "rm"],
        **({"volume": ["volume", "rm", "-f"]} if volumes else {}),
    }
    left: dict[str, list[str]] = {}
    for kind, command in removal.items():
        for attempt in range(3):
            found = _labelled(kind, selector)
            if not found:
                break
            docker(*command, *found, check=False)
            time.sleep(attempt)
        left[kind] = _labelled(kind, selector)
    remove_images(
        docker("image", "ls", "-q", "--filter", selector, check=False).split(),
        whatever_the_disk=images,
    )
    if any(left.values()):
        raise EngineError(f"could not remove what the harness made ({selector}): {left}")
