"""components/docker/provider_forms.py: inputs in the form the docker provider stores them."""

from __future__ import annotations

import pytest

from components.docker.provider_forms import container_cpus, cpus_kept_exactly

# What the provider's nanoInt64ToDecimalString returns after docker's ParseCPUs of the value
# (both run in Go on 2026-12-01 with the provider's code path, math/big).
READ_BACK = {
    1: "1.0",
    2: "2.0",
    3: "3.0",
    10: "10.",
    16: "16.0",
    20: "20.",
    64: "64.0",
    0.1: "0.1",
    0.25: "0.25",
    0.3: "0.3",
    0.125: "0.125",
    1.5: "1.5",
    10.5: "10.5",
    0.05: "0.1",
    20.05: "20.1",
}


@pytest.mark.parametrize(("cpus", "stored"), READ_BACK.items())
def test_cpus_are_sent_as_the_provider_reads_them_back(cpus: float, stored: str) -> None:
    assert container_cpus(cpus) == stored
    # Sending what it stores is a fixed point: the next read gives the same string.
    assert container_cpus(float(stored)) == stored


@pytest.mark.parametrize("cpus", [1, 2, 10, 0.1, 0.25, 1.5, 64])
def test_ordinary_cpu_counts_are_kept_exactly(cpus: float) -> None:
    assert cpus_kept_exactly(cpus)


@pytest.mark.parametrize("cpus", [0.05, 20.05])
def test_counts_the_provider_would_round_are_caught(cpus: float) -> None:
    assert not cpus_kept_exactly(cpus)
