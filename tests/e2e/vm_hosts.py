"""Stand-ins for the VM target's machines: containers running systemd and sshd.

Each stand-in is a container of the stack's Debian release (debian:<codename>-slim, as
scripts/start-docker-engine.sh builds them) booted with /sbin/init (systemd as PID 1), sshd
listening, and one user with passwordless sudo that accepts a key pair made for the run, on a
private Docker network of its own. The program then configures them over SSH exactly as it
would configure real machines (components/vm/), under the real Pulumi engine.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.choices import DebianRelease
from components.debian import release_image
from components.render.vm_scripts import BUILD_PACKAGES
from tests.e2e.engine import (
    LABEL,
    SSH,
    EngineError,
    docker,
    remove_everything,
    ssh_flags,
)
from tests.e2e.real_engine import ProgramStack, program_stack
from tests.support.stack_files import stack_config

# Debian's own packages, as on a fresh Debian cloud image: systemd, sshd, sudo. The Python
# build packages every host installs anyway come preinstalled to keep the suite fast; the
# servers (nginx, Apache, PostgreSQL, mod_wsgi) are installed by the program's own steps.
DOCKERFILE = f"""ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
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
# one capability it needs for its mounts (--privileged is refused on these machines); and
# NET_ADMIN, which nftables needs for the stand-in's firewall (in its own network namespace).
SYSTEMD_FLAGS = [
    "--cap-add",
    "SYS_ADMIN",
    "--cap-add",
    "NET_ADMIN",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup:ro",
]


def standin_image(*, run_id: str, ssh_user: str, release: DebianRelease) -> str:
    """Build (once: the tag is a digest of the recipe) the stand-in image of a Debian release;
    return its tag."""
    base = release_image(release)
    recipe = DOCKERFILE + ssh_user + base
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
            "--build-arg",
            f"BASE_IMAGE={base}",
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
    aliases: Sequence[str] = (),
) -> Machine:
    """Boot one stand-in and let the key in; wait until its sshd answers."""
    flags = ["--name", name, "--hostname", name, "--label", f"{LABEL}={run_id}"]
    flags += ["--network", network, *SYSTEMD_FLAGS]
    for port in publish:
        flags += ["--publish", port]
    for alias in aliases:
        flags += ["--network-alias", alias]
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


@contextmanager
def key_file(key: KeyPair) -> Iterator[Path]:
    """The private key in a file of its own (mode 0600, as ssh requires), for the block."""
    with tempfile.TemporaryDirectory(prefix="django-stack-ssh-") as work:
        path = Path(work) / "key"
        path.write_text(key.private)
        path.chmod(0o600)
        yield path


def ssh(
    machine: Machine, command: str, *, key: KeyPair, ssh_user: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`command` on `machine` over SSH from this machine, logged in as the deployment is."""
    with key_file(key) as path:
        return subprocess.run(
            [SSH, *ssh_flags(path, user=ssh_user), machine.address, command],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def wait_for_ssh(machine: Machine, *, key: KeyPair, ssh_user: str, timeout: float = 60) -> None:
    """Until a login with the key works (systemd starts sshd a moment after boot)."""
    with key_file(key) as path:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [
                    SSH,
                    *ssh_flags(path, user=ssh_user, connect_timeout=5),
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


@dataclass(frozen=True)
class VmDeployed:
    """A stack deployed onto stand-in machines, and how to reach them."""

    name: str
    run_id: str
    config: dict[str, str]
    outputs: dict[str, Any]
    port: int
    proxy: Machine
    apps: list[Machine]
    database: Machine
    key: KeyPair
    ssh_user: str
    deployer: str
    """The address the program's SSH comes from (this machine, on the private network):
    with the proxy host's, all vm.sshAllowedFrom admits."""
    engine: ProgramStack
    """The stack under the real engine."""

    def ssh(
        self, machine: Machine, command: str, *, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """`command` on `machine` over SSH from this machine, as the deployment logs in."""
        return ssh(machine, command, key=self.key, ssh_user=self.ssh_user, stdin=stdin)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def psql(self, sql: str, *, database: str = "django") -> str:
        """SQL on the database host, as the postgres superuser over the local socket."""
        return self.database.run(
            "runuser", "-u", "postgres", "--", "psql", "-d", database, "-At", "-c", sql
        ).strip()


@contextmanager
def deployed_on_standins(
    *,
    run_id: str,
    name: str,
    release: DebianRelease,
    port: int,
    overrides: Mapping[str, Any],
    app_hosts: int = 2,
    ssh_user: str = "admin",
    proxy_ports: Sequence[int] = (),
    proxy_aliases: Sequence[str] = (),
    services: Callable[[str], Mapping[str, Any]] | None = None,
    secret_keys: Collection[str] = (),
) -> Iterator[VmDeployed]:
    """Boot a proxy host, `app_hosts` app hosts and a database host of `release` on a network
    of their own, run the program onto them over SSH (the dev stack file with `overrides`,
    `platform: vm`), yield the deployment, then remove it all. The proxy host also publishes
    `proxy_ports` and is known on the network by `proxy_aliases` too.

    `services`, given the network's name, starts what else the stack uses there (an S3
    server) and returns more overrides; `secret_keys` are the overrides given as secrets.

    The program runs under the real Pulumi engine (`pulumi up`; its state in a scratch backend
    of its own; the SSH key, like `secret_keys`, a secret), as a user deploys onto machines."""
    prefix = f"django-stack-{run_id}-{name}"
    stack: ProgramStack | None = None
    started = time.monotonic()
    try:
        image = standin_image(run_id=run_id, ssh_user=ssh_user, release=release)
        network = f"{prefix}-net"
        docker("network", "create", "--label", f"{LABEL}={run_id}", network)
        # This machine reaches the stand-ins from the network's gateway address.
        ipam = json.loads(docker("network", "inspect", network))[0]["IPAM"]["Config"]
        deployer = ipam[0]["Gateway"]
        key = new_key_pair()

        def machine(
            role: str, publish: list[str] | None = None, aliases: Sequence[str] = ()
        ) -> Machine:
            return start_machine(
                run_id=run_id,
                image=image,
                name=f"{prefix}-{role}",
                network=network,
                ssh_user=ssh_user,
                public_key=key.public,
                publish=publish or [],
                aliases=aliases,
            )

        # Only the proxy host publishes a port (the stack's, on 127.0.0.1): every request of
        # the checks goes through it. SSH reaches the machines on the private network.
        published = [f"127.0.0.1:{p}:{p}" for p in (port, *proxy_ports)]
        proxy_host = machine("proxy", published, proxy_aliases)
        apps = [machine(f"app-{i}") for i in range(app_hosts)]
        database = machine("database")
        for m in (proxy_host, *apps, database):
            wait_for_ssh(m, key=key, ssh_user=ssh_user)
        extra = services(network) if services is not None else {}
        config = stack_config(
            "dev",
            {
                **overrides,
                **extra,
                "platform": "vm",
                "debianRelease": release.value,
                "replicas": app_hosts,
                "httpPort": port,
                "vm": {
                    "provider": "hosts",
                    "sshUser": ssh_user,
                    "proxyHost": proxy_host.address,
                    "appHosts": [m.address for m in apps],
                    "databaseHost": database.address,
                    # SSH from here and from the proxy host (the jump host of the harness's
                    # EC2-like check) only: the other machines are outside it.
                    "sshAllowedFrom": [f"{deployer}/32", f"{proxy_host.address}/32"],
                },
                "sshPrivateKey": key.private,
            },
        )
        secrets = [f"django-stack:{k}" for k in (*secret_keys, "sshPrivateKey")]
        stack = program_stack(name, config, secret_keys=secrets)
        outputs = stack.up()
        took = time.monotonic() - started
        print(f"\n[e2e] deployed {name} on stand-in VMs by `pulumi up` in {took:.0f}s")
        yield VmDeployed(
            name=name,
            run_id=run_id,
            config=config,
            outputs=outputs,
            port=port,
            proxy=proxy_host,
            apps=apps,
            database=database,
            key=key,
            ssh_user=ssh_user,
            deployer=deployer,
            engine=stack,
        )
    finally:
        try:
            if stack is not None:
                stack.remove()
        finally:
            remove_everything(run_id)
