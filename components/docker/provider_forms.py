"""Inputs written the way the docker provider stores them, so a second `up` sees no change.

The provider (the Terraform docker provider, bridged) reads each container back from the
engine after creating it and keeps what it read in the state. Where that form differs from
the one sent, the next `pulumi up` sees a difference; on a ForceNew field such as `cpus` that
means replacing every container, every time.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NANO = Decimal(10) ** 9


def _nano_cpus(cpus: float) -> int:
    """NanoCPUs as the engine keeps them (docker's `--cpus` parsing: exact decimal x 1e9)."""
    return int((Decimal(str(cpus)) * NANO).to_integral_value(rounding=ROUND_HALF_UP))


def _decimal_places(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals, halves rounded away from zero (Go's
    big.Rat.FloatString)."""
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def container_cpus(cpus: float) -> str:
    """`cpus` as the provider reads it back from the engine (`nanoInt64ToDecimalString` in
    the provider's internal/provider/helpers.go): nine decimals; then one decimal when the
    string holds exactly nine zeros, else the trailing zeros cut. So 1 is "1.0", 1.5 "1.5",
    0.25 "0.25" and, as the provider has it, 10 "10."."""
    nanos = _nano_cpus(cpus)
    if nanos == 0:
        return "0"
    value = Decimal(nanos) / NANO
    nine = _decimal_places(value, 9)
    if nine.count("0") == 9:
        return _decimal_places(value, 1)
    return nine.rstrip("0")


def cpus_kept_exactly(cpus: float) -> bool:
    """Whether the provider's read-back form still means `cpus` (0.05 reads back as "0.1")."""
    return _nano_cpus(float(container_cpus(cpus))) == _nano_cpus(cpus)
