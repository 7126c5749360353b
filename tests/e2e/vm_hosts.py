"""Stand-ins for the VM target's machines: containers running systemd and sshd.

Each stand-in is a Debian 12 container booted with /sbin/init (systemd as PID 1), sshd
listening, and one user with passwordless sudo that accepts a key pair made for the run, on a
private Docker network of its own. The program then configures them over SSH exactly as it
would configure real machines (components/vm/), through the DockerEngine harness.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from components.render.vm_scripts import BUILD_PACKAGES
from tests.e2e.engine import LABEL, SSH, EngineError, docker, ssh_flags

# Debian's own packages, as on a fresh Debian 12 cloud image: systemd, sshd, sudo. The Python
# build packages every host installs anyway come preinstalled to keep the suite fast; the
# servers (nginx, Apache, PostgreSQL, mod_wsgi) are installed by the program's own steps.
DOCKERFILE = f"""FROM debian:bookworm-slim
ARG SSH_USER
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      systemd systemd-sysv openssh-server sudo {" ".join(sorted(BUILD_PACKAGES))} >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --shell /bin/bash "$SSH_USER" \\
 && echo "$SSH_USER ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/$SSH_USER" \\
 && chmod 0440 "/etc/sudoers.d/$SSH_USER" \\
 && systemctl enable ssh
"""
# systemd as PID 1 in a container: cgroups from the host (read-only), /run on tmpfs, and the
# one capability it needs for its mounts (--privileged is refused on these machines).
SYSTEMD_FLAGS = [
    "--cap-add",
    "SYS_ADMIN",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup:ro",
]


def standin_image(*, run_id: str, ssh_user: str) -> str:
    """Build (once: the tag is a digest of the recipe) the stand-in image; return its tag."""
    recipe = DOCKERFILE + ssh_user
    tag = f"django-stack-e2e-vm:{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    if docker("image", "ls", "-q", tag).strip():
        return tag
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "Dockerfile").write_text(DOCKERFILE)
        docker(
            "build",
            "--quiet",
            "--tag",
            tag,
            "--label",
            f"{LABEL}={run_id}",
            "--build-arg",
            f"SSH_USER={ssh_user}",
            context,
            env={"DOCKER_BUILDKIT": "0"},
            timeout=1200,
        )
    return tag


@dataclass(frozen=True)
class KeyPair:
    """An SSH key pair made for one run (the private half only ever goes to the program)."""

    private: str
    public: str


def new_key_pair() -> KeyPair:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "django-stack-e2e", "-f", path],
            check=True,
        )
        return KeyPair(private=path.read_text(), public=(path.with_suffix(".pub")).read_text())


@dataclass(frozen=True)
class Machine:
    """One stand-in: its container and its address on the private network."""

    container: str
    address: str

    def run(self, *command: str, check: bool = True) -> str:
        """A command inside the machine as root (docker exec, not SSH: for the checks)."""
        return docker("exec", self.container, *command, check=check)


def start_machine(
    *,
    run_id: str,
    image: str,
    name: str,
    network: str,
    ssh_user: str,
    public_key: str,
    publish: list[str] = [],  # noqa: B006 (never mutated)
) -> Machine:
    """Boot one stand-in and let the key in; wait until its sshd answers."""
    flags = ["--name", name, "--hostname", name, "--label", f"{LABEL}={run_id}"]
    flags += ["--network", network, *SYSTEMD_FLAGS]
    for port in publish:
        flags += ["--publish", port]
    docker("run", "--detach", *flags, image, "/sbin/init")
    home = f"/home/{ssh_user}" if ssh_user != "root" else "/root"
    install_key = (
        f"install -d -m 0700 -o {ssh_user} -g {ssh_user} {home}/.ssh"
        f" && cat > {home}/.ssh/authorized_keys"
        f" && chown {ssh_user}:{ssh_user} {home}/.ssh/authorized_keys"
        f" && chmod 0600 {home}/.ssh/authorized_keys"
    )
    subprocess.run(
        ["/usr/bin/docker", "exec", "-i", name, "sh", "-c", install_key],
        input=public_key,
        text=True,
        check=True,
        capture_output=True,
    )
    details = json.loads(docker("inspect", name))[0]
    address = details["NetworkSettings"]["Networks"][network]["IPAddress"]
    return Machine(container=name, address=address)


def wait_for_ssh(machine: Machine, *, key: KeyPair, ssh_user: str, timeout: float = 60) -> None:
    """Until a login with the key works (systemd starts sshd a moment after boot)."""
    with tempfile.TemporaryDirectory() as work:
        key_file = Path(work) / "key"
        key_file.write_text(key.private)
        key_file.chmod(0o600)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [
                    SSH,
                    *ssh_flags(key_file, user=ssh_user, connect_timeout=5),
                    machine.address,
                    "sudo -n true",
                ],
                capture_output=True,
                text=True,
            )
            if probe.returncode == 0:
                return
            time.sleep(1)
    raise EngineError(f"sshd on {machine.container} did not let the key in: {probe.stderr}")
