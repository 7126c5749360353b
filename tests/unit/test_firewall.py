"""components/render/firewall.py: each role's nftables ruleset, checked and loaded by the real
`nft` (in a network namespace of the test's own, which no traffic of this machine passes)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.render.firewall import SSH_SETS, TABLE, render_firewall

NFT = shutil.which("nft") or "/usr/sbin/nft"
APP = {
    "role": "app",
    "ssh_port": 2222,
    "ssh_from": ["203.0.113.0/24", "2001:db8:1::/48"],
    "private_ports": {8000: ["10.0.1.10"]},
}
PROXY = {"role": "proxy", "ssh_port": 22, "ssh_from": ["10.0.0.0/8"], "public_ports": [80, 443]}
DATABASE = {
    "role": "database",
    "ssh_port": 22,
    "ssh_from": ["10.0.0.0/8"],
    "private_ports": {5432: ["10.0.1.11", "fd00::12"]},
}


def _nft_in_own_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """`script` (shell, with nft) in a fresh network namespace."""
    if not shutil.which("unshare") or not shutil.which(NFT):
        pytest.fail("nft and unshare are needed (scripts/setup-host.sh --test installs nftables)")
    return subprocess.run(
        ["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("role", [APP, PROXY, DATABASE], ids=lambda r: r["role"])
def test_the_ruleset_is_valid_for_nft(role: dict, tmp_path) -> None:
    path = tmp_path / "ruleset.nft"
    path.write_text(render_firewall(**role))
    checked = subprocess.run([NFT, "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_a_loaded_ruleset_drops_by_default_and_admits_each_port_from_its_sources(
    tmp_path,
) -> None:
    path = tmp_path / "ruleset.nft"
    path.write_text(render_firewall(**DATABASE))
    # Twice: a second load replaces the table (no "exists" error, no doubled rules).
    loaded = _nft_in_own_namespace(f"nft -f {path} && nft -f {path} && nft list table inet {TABLE}")
    assert loaded.returncode == 0, loaded.stderr
    listing = loaded.stdout
    assert "policy drop;" in listing
    assert listing.count("chain input") == 1
    assert "tcp dport 5432 ip saddr 10.0.1.11 accept" in listing
    assert "tcp dport 5432 ip6 saddr fd00::12 accept" in listing
    assert 'iif "lo" accept' in listing and "ct state established,related accept" in listing
    # Nothing is open from anywhere on the database host but SSH's rules.
    assert "tcp dport 80 " not in listing and "tcp dport 8000" not in listing


def test_only_the_allowed_networks_are_in_the_ssh_sets(tmp_path) -> None:
    """The very lookup templates/vm/firewall.sh makes before loading a ruleset."""
    path = tmp_path / "ruleset.nft"
    path.write_text(render_firewall(**APP))
    probes = {
        (SSH_SETS[4], "203.0.113.77"): True,
        (SSH_SETS[4], "198.51.100.1"): False,
        (SSH_SETS[6], "2001:db8:1::5"): True,
        (SSH_SETS[6], "2001:db8:2::5"): False,
    }
    script = f"nft -f {path} && " + " ; ".join(
        f'if nft get element inet {TABLE} {name} "{{ {address} }}" >/dev/null 2>&1; '
        f"then echo {address}=in; else echo {address}=out; fi"
        for name, address in probes
    )
    result = _nft_in_own_namespace(script)
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=") for line in result.stdout.split())
    assert seen == {a: "in" if inside else "out" for (_, a), inside in probes.items()}
    ruleset = path.read_text()
    assert "tcp dport 2222 ip saddr @ssh_v4 accept" in ruleset
    assert "tcp dport 22 " not in ruleset


def test_a_proxy_opens_its_public_ports_to_anyone() -> None:
    ruleset = render_firewall(**PROXY)
    assert "    tcp dport 80 accept\n" in ruleset and "    tcp dport 443 accept\n" in ruleset


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ssh_from": []}, "at least one network"),
        ({"ssh_from": ["10.0.0.1/8"]}, "'10.0.0.1/8'"),
        ({"private_ports": {8000: ["app1.internal"]}}, "'app1.internal'"),
        ({"private_ports": {8000: []}}, "port 8000 is admitted from no address"),
    ],
)
def test_bad_sources_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_firewall(**{**APP, **change})
