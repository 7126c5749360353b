"""The VM target's host firewall: one nftables ruleset per machine, by its role.

Inbound traffic is dropped unless it is loopback, part of a connection already admitted, the
bits of ICMP a network needs, SSH from the configured ranges, or a service port from the
machines that use it (the app port from the proxy host, PostgreSQL from the app hosts, the
proxy's HTTP and HTTPS ports from anywhere). Outbound traffic is not filtered.

The stack owns one table, `inet django_stack`, and replaces it in a single `nft -f`
transaction (create, delete, define: the whole file applies or none of it), so other
software's tables on the machine are left alone and there is no moment without rules.
https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

TABLE = "django_stack"
# Debian's nftables.service loads this file at boot, before the network is up.
RULESET_FILE = "/etc/nftables.conf"
SSH_SETS = {4: "ssh_v4", 6: "ssh_v6"}
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(values: Sequence[str], *, what: str) -> list[_Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=True))
        except ValueError as error:
            raise ValueError(
                f"{what}: {value!r} is not an IP address or network ({error})"
            ) from None
    return networks


def _elements(networks: Sequence[_Network], version: int) -> str:
    chosen = sorted({str(n) for n in networks if n.version == version})
    return ", ".join(chosen)


def _set(name: str, version: int, networks: Sequence[_Network]) -> str:
    kind = "ipv4_addr" if version == 4 else "ipv6_addr"
    elements = _elements(networks, version)
    body = f"type {kind}; flags interval;"
    if elements:
        body += f" elements = {{ {elements} }};"
    return f"  set {name} {{ {body} }}"


def render_firewall(
    *,
    role: str,
    ssh_port: int,
    ssh_from: Sequence[str],
    public_ports: Sequence[int] = (),
    private_ports: Mapping[int, Sequence[str]] | None = None,
) -> str:
    """The ruleset of one machine: SSH (`ssh_port`) from the networks `ssh_from`, each of
    `public_ports` from anywhere, each port of `private_ports` from its addresses only."""
    ssh = _networks(ssh_from, what="SSH source")
    if not ssh:
        raise ValueError("SSH must be admitted from at least one network")
    lines = [
        "#!/usr/sbin/nft -f",
        f"# The firewall of the django-stack {role} host, rendered by django-stack",
        "# (components/render/firewall.py); loaded at boot by Debian's nftables.service.",
        "# Only the stack's own table is replaced, in one transaction.",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "  # Where SSH is admitted from (django-stack:vm.sshAllowedFrom).",
        *(_set(name, version, ssh) for version, name in SSH_SETS.items()),
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    ct state established,related accept",
        "    ct state invalid drop",
        '    iif "lo" accept',
        "    # ICMP errors of admitted connections are `related`; IPv6 needs neighbour and",
        "    # router discovery to work at all; ping helps diagnose.",
        "    icmp type echo-request accept",
        "    icmpv6 type { echo-request, nd-neighbor-solicit, nd-neighbor-advert,"
        " nd-router-solicit, nd-router-advert } accept",
        "    # DHCP answers (a lease renewal; DHCPv6 answers come from link-local servers).",
        "    udp sport 67 udp dport 68 accept",
        "    ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept",
        f"    tcp dport {ssh_port} ip saddr @{SSH_SETS[4]} accept",
        f"    tcp dport {ssh_port} ip6 saddr @{SSH_SETS[6]} accept",
    ]
    for port in sorted(set(public_ports)):
        lines.append(f"    tcp dport {port} accept")
    for port, sources in sorted((private_ports or {}).items()):
        networks = _networks(sources, what=f"source of port {port}")
        if not networks:
            raise ValueError(f"port {port} is admitted from no address")
        for version, match in ((4, "ip saddr"), (6, "ip6 saddr")):
            elements = _elements(networks, version)
            if elements:
                lines.append(f"    tcp dport {port} {match} {{ {elements} }} accept")
    lines += ["  }", "}", ""]
    return "\n".join(lines)
