"""The project's own `random` plugin (scripts/own-plugins/) under the real engine.

Four RandomPasswords: `secret-key` as the program makes Django's (length 64, the defaults),
`strict` with every minimum and overrideSpecial, `keyed` with keepers, and `raw`, declared
without the Python SDK's additionalSecretOutputs, so only the plugin can make its result
secret. One stack goes through preview (no password made), up, a no-op up, a keepers
change and a length change (each replaces that one password only), refused inputs, the
exported state, and destroy.

The plugin is scripts/build-own-plugins.sh's (DJANGO_STACK_RANDOM_PLUGIN names another binary;
the bridged terraform-provider-random of scripts/build-random-provider.sh passes too, except
for the unsupported-type message); without it the test skips, which DJANGO_STACK_REQUIRE_E2E=1
turns into a failure.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_random as random
import pytest
from pulumi import automation as auto

from tests.engine.conftest import own_plugin, plugin_engine

pytestmark = pytest.mark.engine
# The plugin version the Python SDK asks the engine for.
PLUGIN_VERSION = importlib.metadata.version("pulumi-random")
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
# terraform-provider-random's special characters (its internal/random/string.go).
DEFAULT_SPECIALS = "!@#$%&*()-_=+[]{}<>:?"
STRICT_SPECIALS = "%^~"
NAMES = ("secret-key", "strict", "keyed", "raw")
# How a secret looks in a state exported with --show-secrets.
SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class Scenario:
    """What the program is asked for in one run."""

    key_length: int = 64
    keeper: str = "image-1"
    impossible: bool = False
    unsupported: bool = False


class RawPassword(pulumi.CustomResource):
    """A RandomPassword without the Python SDK's additionalSecretOutputs (as a program in
    another language, or one that forgets it, declares it)."""

    result: pulumi.Output[str]

    def __init__(self, name: str, length: int) -> None:
        super().__init__(PASSWORD_TYPE, name, {"length": length, "result": None})


def _program(scenario: Scenario, seen: list[tuple[str, str]]) -> auto.PulumiFn:
    def main() -> None:
        passwords = {
            "secret-key": random.RandomPassword("secret-key", length=scenario.key_length),
            "strict": random.RandomPassword(
                "strict",
                length=20,
                min_upper=2,
                min_lower=3,
                min_numeric=4,
                min_special=6,
                override_special=STRICT_SPECIALS,
            ),
            "keyed": random.RandomPassword(
                "keyed", length=32, special=False, keepers={"image": scenario.keeper}
            ),
        }
        # Longer than bcrypt takes (72 bytes): upstream hashes the first 72.
        raw = RawPassword("raw", length=100)
        results = {**{name: p.result for name, p in passwords.items()}, "raw": raw.result}
        for name, result in results.items():
            # Runs only once the value is known: never in a preview, if no password is made.
            result.apply(functools.partial(_note_value, seen, name))
            pulumi.export(name, result)
        pulumi.export("ids", pulumi.Output.all(*(p.id for p in passwords.values())))
        pulumi.export("strict_hash", passwords["strict"].bcrypt_hash)
        if scenario.impossible:
            random.RandomPassword("impossible", length=6, min_upper=4, min_numeric=3)
        if scenario.unsupported:
            random.RandomString("unsupported", length=8)

    return main


def _note_value(seen: list[tuple[str, str]], name: str, value: str) -> None:
    seen.append((name, value))


def _resources(stack: auto.Stack) -> list[dict[str, Any]]:
    deployment = stack.export_stack().deployment or {}
    return list(deployment.get("resources") or [])


def _note_step(event: auto.EngineEvent, steps: list[str]) -> None:
    """Notes the operation of each step the engine starts on a password."""
    pre = event.resource_pre_event
    if pre is not None and pre.metadata.type == PASSWORD_TYPE:
        steps.append(str(pre.metadata.op.value))


def _assert_made_of(value: str, *, length: int, alphabet: str) -> None:
    assert len(value) == length, value
    assert set(value) <= set(alphabet), set(value) - set(alphabet)


def test_random_passwords_under_the_real_engine(tmp_path: Path) -> None:
    engine = plugin_engine(
        tmp_path, name="random", version=PLUGIN_VERSION, binary=own_plugin("random")
    )
    seen: list[tuple[str, str]] = []
    stack = engine.inline_stack(
        project="random-plugin-check",
        program=_program(Scenario(), seen),
        work_dir=tmp_path / "work",
    )

    def run(scenario: Scenario) -> None:
        stack.workspace.program = _program(scenario, seen)

    def values(outputs: auto.OutputMap) -> dict[str, str]:
        return {name: outputs[name].value for name in NAMES}

    try:
        # preview: four to create, and no password made (the results are unknown).
        preview = stack.preview()
        assert preview.change_summary == {"create": 5}
        assert seen == []

        # up: each password as asked, every one a secret output.
        up = stack.up()
        assert up.summary.resource_changes == {"create": 5}
        first = values(up.outputs)
        assert all(up.outputs[name].secret for name in NAMES)
        letters_digits = string.ascii_letters + string.digits
        _assert_made_of(first["secret-key"], length=64, alphabet=letters_digits + DEFAULT_SPECIALS)
        _assert_made_of(first["keyed"], length=32, alphabet=letters_digits)
        _assert_made_of(first["raw"], length=100, alphabet=letters_digits + DEFAULT_SPECIALS)
        strict = first["strict"]
        _assert_made_of(strict, length=20, alphabet=letters_digits + STRICT_SPECIALS)
        assert sum(c.isupper() for c in strict) >= 2
        assert sum(c.islower() for c in strict) >= 3
        assert sum(c.isdigit() for c in strict) >= 4
        assert sum(c in STRICT_SPECIALS for c in strict) >= 6
        assert len(set(first.values())) == 4
        assert up.outputs["ids"].value == ["none", "none", "none"]  # as the bridged one
        assert up.outputs["strict_hash"].secret
        assert up.outputs["strict_hash"].value.startswith("$2a$10$")

        # The same program again: no change, the same passwords.
        again = stack.up(expect_no_changes=True)
        assert again.summary.resource_changes == {"same": 5}
        assert values(again.outputs) == first

        # New keepers: that password is replaced (a new value), the others keep theirs.
        # The new one is made before the old one is forgotten (create-before-delete).
        run(Scenario(keeper="image-2"))
        steps: list[str] = []
        rekeyed = stack.up(on_event=lambda event: _note_step(event, steps))
        assert rekeyed.summary.resource_changes == {"replace": 1, "same": 4}
        assert [s for s in steps if s != "same"] == [
            "create-replacement",
            "replace",
            "delete-replaced",
        ]
        second = values(rekeyed.outputs)
        assert second["keyed"] != first["keyed"]
        _assert_made_of(second["keyed"], length=32, alphabet=letters_digits)
        assert {k: v for k, v in second.items() if k != "keyed"} == {
            k: v for k, v in first.items() if k != "keyed"
        }

        # A new length: replaced too (upstream replaces on every input change).
        run(Scenario(keeper="image-2", key_length=48))
        lengthened = stack.up()
        assert lengthened.summary.resource_changes == {"replace": 1, "same": 4}
        third = values(lengthened.outputs)
        assert len(third["secret-key"]) == 48
        assert {k: v for k, v in third.items() if k != "secret-key"} == {
            k: v for k, v in second.items() if k != "secret-key"
        }

        # Minimums beyond the length are refused before anything is made, with the numbers.
        run(Scenario(keeper="image-2", key_length=48, impossible=True))
        with pytest.raises(auto.CommandError) as impossible:
            stack.preview()
        assert "length (6) must be at least the sum of the minimums" in str(impossible.value)
        # A type the plugin does not carry out: refused, naming what it does.
        run(Scenario(keeper="image-2", key_length=48, unsupported=True))
        with pytest.raises(auto.CommandError) as unsupported:
            stack.preview()
        message = str(unsupported.value)
        assert "unsupported resource type random:index/randomString:RandomString" in message
        assert PASSWORD_TYPE in message
        run(Scenario(keeper="image-2", key_length=48))

        # The state holds the passwords (and the hash) only encrypted.
        resources = _resources(stack)  # exported with --show-secrets
        hashes = [r["outputs"]["bcryptHash"] for r in resources if r["type"] == PASSWORD_TYPE]
        assert len(hashes) == 4 and all(h[SECRET_SIG] == SECRET_VALUE for h in hashes)
        exported, on_disk = engine.exported_and_on_disk(stack)
        plaintexts = {*first.values(), *second.values(), *third.values()}
        plaintexts |= {json.loads(h["plaintext"]) for h in hashes}
        for text in (exported, on_disk):
            assert "ciphertext" in text
            for plaintext in plaintexts:
                assert plaintext not in text

        # destroy: nothing left.
        destroyed = stack.destroy()
        assert destroyed.summary.resource_changes == {"delete": 5}
        assert _resources(stack) == []
    finally:
        stack.workspace.remove_stack("check", force=True)
