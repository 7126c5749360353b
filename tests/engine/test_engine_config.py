"""The program under the real Pulumi engine, where no provider plugin is needed yet.

A bad config must stop `pulumi preview` and `pulumi up` before any resource exists, with the
program's own message; secrets set on a stack must be stored encrypted.
"""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from tests.engine.conftest import EngineStack

pytestmark = pytest.mark.engine


def _resource_types(stack: auto.Stack) -> list[str]:
    deployment = stack.export_stack().deployment or {}
    return [r["type"] for r in deployment.get("resources") or []]


@pytest.mark.parametrize("operation", ["preview", "up"])
def test_bad_config_stops_the_engine_before_any_resource(
    engine_stack: EngineStack, operation: str
) -> None:
    stack = engine_stack.stack
    stack.set_config("django-stack:replicas", auto.ConfigValue("0"))
    stack.set_config("django-stack:proxy", auto.ConfigValue("caddy"))
    output: list[str] = []
    with pytest.raises(auto.CommandError) as failure:
        run = stack.preview if operation == "preview" else stack.up
        run(on_output=output.append)
    message = str(failure.value) + "\n".join(output)
    # Each bad key, its value and what is allowed, in one message.
    assert "django-stack:replicas" in message and "0" in message
    assert "django-stack:proxy" in message and "'caddy'" in message
    assert "nginx" in message and "apache" in message
    # Nothing but the stack itself was registered: the error came before any resource.
    assert [t for t in _resource_types(stack) if t != "pulumi:pulumi:Stack"] == []


def test_secrets_are_stored_encrypted_in_the_stack_file(engine_stack: EngineStack) -> None:
    plaintext = "a-secret-key-that-must-never-be-written-out-" + "x" * 20
    engine_stack.stack.set_config(
        "django-stack:secretKey", auto.ConfigValue(plaintext, secret=True)
    )
    text = engine_stack.stack_file().read_text()
    assert plaintext not in text
    assert "secure:" in text and "encryptionsalt:" in text
    # The engine decrypts it with the stack's passphrase.
    value = engine_stack.stack.get_config("django-stack:secretKey")
    assert value.value == plaintext and value.secret
