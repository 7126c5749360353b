"""The proxy's certificate chain and key, for both targets: the user's files, or the stack's
own CA (components/render/tls.py).

The self-signed material is made from a seed that a RandomPassword keeps in the stack's state,
so it is made the same on every `up` (nothing to replace) and stays until `destroy`; the
seed, and the key made from it, are secrets wherever they go.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.choices import TlsMode
from components.config import StackConfig, TlsConfig
from components.render.tls import TlsMaterial, self_signed


@dataclass(frozen=True)
class StackCertificateArgs:
    """Inputs of a StackCertificate."""

    tls: TlsConfig
    """The stack's `tls` config (not `off`)."""
    stack: str
    """The stack's name, in the CA's name."""
    allowed_hosts: tuple[str, ...]
    """The names the certificate is for."""


class StackCertificate(pulumi.ComponentResource):
    """The chain (leaf first) and key the proxy serves."""

    chain: pulumi.Output[str]
    key: pulumi.Output[str]
    """A secret."""
    ca: pulumi.Output[str]
    """The stack's own CA certificate (self-signed), for clients to trust; else empty."""

    def __init__(
        self, name: str, args: StackCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:StackCertificate", name, None, opts)
        tls = args.tls
        if tls.mode is TlsMode.FILES:
            assert tls.certificate is not None and tls.key is not None  # config checked
            self.chain = pulumi.Output.from_input(tls.certificate)
            self.key = tls.key.as_output()
            self.ca = pulumi.Output.from_input("")
        else:
            seed = random.RandomPassword(
                f"{name}-seed", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            # Read once per run: within one validity period the result does not depend on it.
            now = datetime.datetime.now(datetime.UTC)
            material: pulumi.Output[TlsMaterial] = seed.result.apply(
                lambda value: self_signed(
                    seed=value, stack=args.stack, allowed_hosts=args.allowed_hosts, now=now
                )
            )
            # The certificates are public; only the key stays secret.
            self.chain = pulumi.Output.unsecret(material.apply(lambda m: m.chain_pem))
            self.key = pulumi.Output.secret(material.apply(lambda m: m.key_pem))
            self.ca = pulumi.Output.unsecret(material.apply(lambda m: m.ca_pem or ""))
        self.register_outputs({"chain": self.chain, "ca": self.ca})


def stack_certificate(
    name: str, config: StackConfig, opts: pulumi.ResourceOptions
) -> StackCertificate | None:
    """The stack's certificate when its `tls` is on (either target), else None; also None
    with `acme`, whose certificate is made on the proxy host (components/vm/acme.py)."""
    if not config.tls.enabled or config.tls.mode is TlsMode.ACME:
        return None
    return StackCertificate(
        f"{name}-certificate",
        StackCertificateArgs(
            tls=config.tls, stack=config.stack, allowed_hosts=config.allowed_hosts
        ),
        opts,
    )
