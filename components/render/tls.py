"""TLS for the proxy: Mozilla's "intermediate" profile, and the stack's own self-signed CA.

Pure functions of plain data (no Pulumi here). `self_signed` makes a CA and a server
certificate for the stack's host names from a seed, deterministically: the engine here has no
provider plugins (pulumi-tls would need one), so the material is made while the program runs,
and an `up` that made different bytes each time would replace the proxy on every run. The
seed is a secret kept in the stack's state (components/docker/stack.py: a RandomPassword made
once), so the same stack always gets the same CA (trust it once) and, within one validity
period, the same certificate. ECDSA keys are derived from the seed (HKDF), and signatures are
deterministic (RFC 6979), so equal inputs give equal bytes.

https://ssl-config.mozilla.org/#server=nginx&config=intermediate
https://wiki.mozilla.org/Security/Server_Side_TLS
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Mozilla's intermediate profile (guidelines 5.7): TLS 1.2 and 1.3; for TLS 1.2 only AEAD
# ciphers with forward secrecy. Its DHE-RSA suites are left out: they need a dhparam file of
# our own, and every client that TLS 1.2 with DHE serves also has ECDHE. (TLS 1.3's suites are
# OpenSSL's defaults, all acceptable: neither server can restrict them with this directive.)
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
CURVES = ("X25519", "prime256v1", "secp384r1")
# Mozilla's HSTS value: two years. https://infosec.mozilla.org/guidelines/web_security#http-strict-transport-security
DEFAULT_HSTS_MAX_AGE = 63072000
# Where the proxy finds its certificate chain and key (each target puts them there).
TLS_DIR = "/etc/django-stack/tls"

# The CA lives as long as the stack (its validity starts at a fixed date so it never
# changes); a server certificate is renewed every period and valid for about two, so the
# first `up` of a new period rotates it while the old one is still good. 800 days stays
# under the 825 that Apple accepts even from a private CA.
# https://support.apple.com/en-us/103769
_CA_NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
_CA_DAYS = 20 * 365
_PERIOD_DAYS = 365
_LEAF_DAYS = 800
_EPOCH = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class TlsMaterial:
    """A certificate chain (leaf first) and its private key, as PEM text."""

    chain_pem: str
    key_pem: str = field(repr=False)
    ca_pem: str | None = None
    """The self-signed CA that issued the chain (None: the user's own certificate)."""


def certificate_names(allowed_hosts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a certificate for these Django ALLOWED_HOSTS patterns
    covers, plus localhost and the loopback addresses for the machine itself.

    `.example.com` is the domain and its subdomains (one level: a certificate wildcard is
    one label); `*` cannot be put in a certificate and adds nothing."""
    dns: list[str] = []
    ips: list[str] = []
    for host in (h.lower() for h in allowed_hosts if h != "*"):
        literal = host.strip("[]")
        try:
            ips.append(str(ipaddress.ip_address(literal)))
            continue
        except ValueError:
            pass
        if host.startswith("."):
            dns += [host[1:], f"*{host}"]
        else:
            dns.append(host)
    dns.append("localhost")
    ips += ["127.0.0.1", "::1"]
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def _derived_key(seed: str, purpose: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key that only this seed and purpose give (HKDF-SHA256 into the scalar)."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    raw = HKDF(
        algorithm=hashes.SHA256(), length=48, salt=b"django-stack tls", info=purpose.encode()
    ).derive(seed.encode())
    return ec.derive_private_key(int.from_bytes(raw) % (order - 1) + 1, ec.SECP256R1())


def _serial(*parts: str) -> int:
    """A positive serial under 2**159 (RFC 5280 4.1.2.2), from what the certificate says."""
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:19]) | 1


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(
    *, seed: str, stack: str, allowed_hosts: tuple[str, ...], now: datetime.datetime
) -> TlsMaterial:
    """A CA for the stack and a server certificate it issued for `allowed_hosts`.

    Equal arguments give equal bytes, and so does any `now` within one period."""
    if len(seed) < 16:
        raise ValueError("the TLS seed must be a long random secret")
    ca_key = _derived_key(seed, "ca")
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"django-stack {stack} CA")])
    ca_public = ca_key.public_key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_public)
        .serial_number(_serial("ca", stack, seed))
        .not_valid_before(_CA_NOT_BEFORE)
        .not_valid_after(_CA_NOT_BEFORE + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public), critical=False)
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )

    period = (now - _EPOCH).days // _PERIOD_DAYS
    not_before = _EPOCH + datetime.timedelta(days=period * _PERIOD_DAYS - 1)
    # The server key is the same in every period: only the certificate changes, and the
    # secret in the stack's state stays as it was (a new certificate, like a new key, is a
    # graceful reload of the proxy on a VM: components/render/systemd.py).
    key = _derived_key(seed, "server")
    dns, ips = certificate_names(allowed_hosts)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(_serial("server", stack, seed, str(period), *dns, *ips))
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
        )
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return TlsMaterial(chain_pem=_pem(leaf) + _pem(ca), key_pem=key_pem, ca_pem=_pem(ca))


def check_pair(*, chain_pem: str, key_pem: str) -> str | None:
    """Why a certificate chain and key cannot serve, or None when they can."""
    try:
        chain = x509.load_pem_x509_certificates(chain_pem.encode())
    except ValueError:
        return "not a PEM certificate chain ('-----BEGIN CERTIFICATE-----' ...)"
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        return "the key is not an unencrypted PEM private key"
    leaf_public = (
        chain[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if leaf_public != key_public:
        return "the key does not belong to the chain's first certificate"
    return None
