"""The proxy's certificate on Docker: a volume of its own, and a one-shot job that installs a
certificate into it, so that a new certificate never touches the proxy container.

Every input of a docker container is ForceNew (`env`, `upload`, `volumes`, `name`, ...:
kreuzwerker/terraform-provider-docker, internal/provider/resource_docker_container.go), so
a certificate in the proxy's inputs would replace the proxy on rotation, and its published
ports would be down while it is recreated. So the proxy only mounts the volume (read-only)
and watches the files there (templates/docker/proxy-tls-watch.sh), and what changes with a
certificate is this job: a container whose name is the certificate's digest (so under the
engine's default create-before-delete the new job is created before the old one is deleted),
which writes the pair into the volume and, when the proxy is running, waits until it serves
the new certificate (templates/docker/proxy-certificate-install.sh). On the first `up` it
runs before the proxy starts.

The docker provider waits for an attached container and records its exit code without
failing on it, so the check is the program's, as for the migration job
(components/docker/django_app.py).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.docker.container_spec import (
    Hardening,
    Limits,
    child,
    hardened_container_args,
    job_options,
)
from components.docker.identity import ContainerRole, container_user
from components.docker.target import DockerTarget
from components.render.proxy_config import PROXY_TLS_PORT
from components.render.templates import render_template
from components.render.tls import TLS_DIR
from components.server_signals import ServerSignals

# The proxy reads the pair through this link, which the job moves in one rename.
TLS_FILES = (f"{TLS_DIR}/current/chain.pem", f"{TLS_DIR}/current/key.pem")
# How often the proxy looks at the files, and how long the job waits to see the new
# certificate served (several polls and a graceful reload, with room for a busy engine).
POLL_SECONDS = 2
WAIT_SECONDS = 30
# How much of a failed job's output the error repeats.
JOB_LOG_LINES = 20


class CertificateJobError(Exception):
    """The certificate job exited non-zero: the proxy did not take the new certificate."""


def certificate_installed(*, job: str, exit_code: int | None, logs: str | None) -> str:
    """`job`, once it has succeeded; raises with its output if not."""
    if exit_code in (None, 0):
        return job
    tail = "\n".join((logs or "").rstrip().splitlines()[-JOB_LOG_LINES:])
    raise CertificateJobError(
        f"the certificate job {job} exited with {exit_code}. Its output ends:\n"
        f"{tail or '(no output)'}"
    )


def certificate_digest(chain: str) -> str:
    """A short digest of the chain: the job's name. The chain alone says which pair it is (the
    key must match its first certificate), and it is public, unlike the key."""
    return hashlib.sha256(chain.encode()).hexdigest()[:16]


def _one_line(pem: str) -> str:
    """PEM text as one line of base64 (the job decodes it)."""
    return base64.b64encode(pem.encode()).decode()


def watch_command(
    *, server: list[str], config_test: list[str], signals: ServerSignals
) -> list[str]:
    """The proxy's start: `server`, reloaded with `signals.reload` when the files change and
    `config_test` passes; the container's stop signal (`signals.stop`) passed on to it."""
    script = render_template(
        "docker/proxy-tls-watch.sh",
        {
            "chain_file": TLS_FILES[0],
            "key_file": TLS_FILES[1],
            "poll_seconds": POLL_SECONDS,
            "config_test": " ".join(config_test),
            "reload_signal": signals.reload,
            # The shell's trap takes the name without SIG.
            "stop_signal": signals.stop.removeprefix("SIG"),
        },
    )
    return ["sh", "-c", script, "django-stack-proxy", *server]


def install_command(*, proxy_host: str, digest: str) -> list[str]:
    """The job's command: install the pair from its environment, then wait for the proxy."""
    script = render_template(
        "docker/proxy-certificate-install.sh",
        {
            "tls_dir": TLS_DIR,
            "proxy_host": proxy_host,
            "tls_port": PROXY_TLS_PORT,
            "wait_seconds": WAIT_SECONDS,
        },
    )
    return ["sh", "-c", script, "django-stack-certificate", digest]


@dataclass(frozen=True)
class ProxyCertificateArgs:
    """Inputs of a ProxyCertificate."""

    chain: pulumi.Input[str]
    """The PEM certificate chain, leaf first."""
    key: pulumi.Input[str]
    """The PEM key (a secret)."""
    image: pulumi.Input[str]
    """The proxy's image: the job runs its shell and openssl."""
    proxy_host: str
    """The proxy container's name, which the job resolves on the stack's network."""
    limits: Limits
    """The proxy's own: the job runs as the proxy's uid, whose processes share one cap."""
    target: DockerTarget
    """The stack's engine-side context (names, network)."""


class ProxyCertificate(pulumi.ComponentResource):
    """The proxy's TLS volume and the job that puts a certificate in it."""

    volume: docker.Volume
    job: docker.Container
    installed: pulumi.Output[str]
    """The job's name, once it succeeded (raises otherwise)."""

    def __init__(
        self, name: str, args: ProxyCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:ProxyCertificate", name, None, opts)
        prefix = args.target.resource_prefix
        self.volume = docker.Volume(f"{name}-volume", name=f"{prefix}-proxy-tls", opts=child(self))
        digest = pulumi.Output.from_input(args.chain).apply(certificate_digest)
        job_name = digest.apply(lambda d: f"{prefix}-tls-{d}")
        self.job = docker.Container(
            f"{name}-job",
            name=job_name,
            image=args.image,
            command=digest.apply(lambda d: install_command(proxy_host=args.proxy_host, digest=d)),
            # Output.all keeps secretness: with the key in it, the environment is a secret.
            envs=pulumi.Output.all(chain=args.chain, key=args.key).apply(
                lambda v: [
                    f"DJANGO_STACK_TLS_CHAIN={_one_line(v['chain'])}",
                    f"DJANGO_STACK_TLS_KEY={_one_line(v['key'])}",
                ]
            ),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.target.network)],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=TLS_DIR)
            ],
            # A one-shot job: run to completion; the program checks its exit code.
            attach=True,
            logs=True,
            must_run=False,
            **{
                **hardened_container_args(
                    # The proxy's uid and group: what it writes, the proxy can read.
                    hardening=Hardening(
                        user=container_user(resource_prefix=prefix, role=ContainerRole.PROXY)
                    ),
                    limits=args.limits,
                    stack=args.target.stack,
                    role="certificate",
                ),
                "restart": "no",
            },
            opts=job_options(self),
        )
        self.installed = pulumi.Output.all(
            job=job_name, exit_code=self.job.exit_code, logs=self.job.container_logs
        ).apply(lambda v: certificate_installed(**v))
        self.register_outputs({"installed": self.installed})
