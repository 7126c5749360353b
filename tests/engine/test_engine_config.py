"""The program under the real Pulumi engine, where no provider plugin is needed yet.

A bad config must stop `pulumi preview` and `pulumi up` before any resource exists, with the
program's own message; secrets set on a stack must be stored encrypted.
"""

from __future__ import annotations

import datetime

import pytest
from pulumi import automation as auto

from components.render.tls import self_signed
from tests.engine.conftest import EngineStack

pytestmark = pytest.mark.engine
NOW = datetime.datetime.now(datetime.UTC)


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


def test_a_production_stack_without_media_says_so_in_the_preview(
    engine_stack: EngineStack,
) -> None:
    """The warning is in what `pulumi preview` prints, before any resource (so whether the
    provider plugins are installed does not matter)."""
    stack = engine_stack.stack
    stack.set_config("django-stack:production", auto.ConfigValue("true"))
    stack.set_config("django-stack:media", auto.ConfigValue('{"kind": "none"}'))
    output: list[str] = []
    try:
        stack.preview(on_output=output.append)
    except auto.CommandError as failure:
        output.append(str(failure))
    printed = "\n".join(output)
    assert "warning: django-stack:media.kind is 'none' on a production stack" in printed, printed


def test_a_tls_key_set_as_a_nested_secret_is_encrypted_and_read_by_the_program(
    engine_stack: EngineStack,
) -> None:
    """`pulumi config set --secret --path django-stack:tls.key`: encrypted in the stack file,
    decrypted for the program, which checks it belongs to the certificate (it does not here,
    so the preview stops with that message, and without the key in it)."""
    ours = self_signed(seed="engine-" + "e" * 40, stack="e", allowed_hosts=("localhost",), now=NOW)
    other = self_signed(seed="other-" + "o" * 40, stack="e", allowed_hosts=("localhost",), now=NOW)
    stack = engine_stack.stack
    stack.set_config("django-stack:tls.mode", auto.ConfigValue("files"), path=True)
    stack.set_config("django-stack:tls.certificate", auto.ConfigValue(ours.chain_pem), path=True)
    stack.set_config(
        "django-stack:tls.key", auto.ConfigValue(other.key_pem, secret=True), path=True
    )
    body = other.key_pem.splitlines()[1]
    assert body not in engine_stack.stack_file().read_text()
    output: list[str] = []
    with pytest.raises(auto.CommandError) as failure:
        stack.preview(on_output=output.append)
    message = str(failure.value) + "\n".join(output)
    assert "django-stack:tls.key: the key does not belong" in message, message
    assert body not in message
    assert [t for t in _resource_types(stack) if t != "pulumi:pulumi:Stack"] == []


def test_a_production_stack_with_its_own_ca_says_so_in_the_preview(
    engine_stack: EngineStack,
) -> None:
    stack = engine_stack.stack
    stack.set_config("django-stack:production", auto.ConfigValue("true"))
    stack.set_config("django-stack:tls", auto.ConfigValue('{"mode": "self-signed"}'))
    output: list[str] = []
    try:
        stack.preview(on_output=output.append)
    except auto.CommandError as failure:
        output.append(str(failure))
    printed = "\n".join(output)
    assert "warning: django-stack:tls.mode is 'self-signed' on a production stack" in printed


S3_MEDIA = '{"kind": "s3", "bucket": "site-uploads", "endpoint": "http://127.0.0.1:9"}'
S3_KEY_ID = "AKIDENGINETEST0000001"
S3_SECRET = "an-s3-secret-access-key-" + "s" * 20


@pytest.mark.parametrize("as_secret", [False, True], ids=["plain-text", "secret"])
def test_s3_keys_must_be_set_as_secrets(engine_stack: EngineStack, as_secret: bool) -> None:
    """What the engine passes as secret is what the program accepts: `pulumi config set` of
    the key pair in plain text stops the preview naming each key (and not its value)."""
    stack = engine_stack.stack
    stack.set_config("django-stack:media", auto.ConfigValue(S3_MEDIA))
    stack.set_config("django-stack:mediaAccessKeyId", auto.ConfigValue(S3_KEY_ID, as_secret))
    stack.set_config("django-stack:mediaSecretAccessKey", auto.ConfigValue(S3_SECRET, as_secret))
    output: list[str] = []
    try:
        stack.preview(on_output=output.append)
    except auto.CommandError as failure:
        output.append(str(failure))
    printed = "\n".join(output)
    plain = [
        f"django-stack:{key}: is set in plain text"
        for key in ("mediaAccessKeyId", "mediaSecretAccessKey")
    ]
    if as_secret:
        assert not any(p in printed for p in plain), printed
        assert "Invalid configuration" not in printed, printed
    else:
        assert all(p in printed for p in plain), printed
    assert S3_SECRET not in printed
