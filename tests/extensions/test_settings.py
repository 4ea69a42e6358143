"""Plugin settings: text in, typed settings out, one error adapter, secrets never shown."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from meterhub.errors import InvalidValue
from meterhub.extensions.settings import PluginSettings, SecretSpec, WholeNumber, secret


class Example(PluginSettings):
    timeout: float = Field(5.0, gt=0, le=600, description="seconds per answer")
    address: WholeNumber = Field(16, ge=1, le=127, description="client address")
    fast: bool = Field(False, description="go fast")
    mode: Literal["a", "b"] = Field("a", description="a or b")
    key: bytes | None = secret(encoding="hex", sizes=(16, 32), description="the key")
    password: str | None = secret(max_length=8, description="the password")


KEY = "000102030405060708090A0B0C0D0E0F"


def test_text_becomes_typed_values() -> None:
    parsed = Example.parse(
        {"timeout": " 2.5 ", "address": "0x10", "fast": "yes", "mode": "b", "key": KEY}
    )
    assert parsed.timeout == 2.5 and parsed.address == 16 and parsed.fast is True
    assert parsed.mode == "b" and parsed.key == bytes.fromhex(KEY)


def test_blank_means_the_default() -> None:
    parsed = Example.parse({"timeout": "", "address": "  ", "key": None})
    assert parsed.timeout == 5.0 and parsed.address == 16 and parsed.key is None


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"timeout": "abc"}, "settings.timeout", "valid number, unable to parse string"),
        ({"timeout": "0"}, "settings.timeout", "greater than 0"),
        ({"address": "200"}, "settings.address", "less than or equal to 127, got 200"),
        ({"fast": "maybe"}, "settings.fast", "valid boolean"),
        ({"mode": "c"}, "settings.mode", "'a' or 'b'"),
        ({"tiemout": "3"}, "settings", "unknown setting 'tiemout'; known: address, fast"),
    ],
)
def test_a_bad_setting_is_named(settings: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(InvalidValue) as info:
        Example.parse(settings)
    assert info.value.field == field
    assert words in info.value.reason


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"key": "00112233"}, "settings.key", "32 hex digits or 64 hex digits"),
        ({"key": "zz" * 16}, "settings.key", "32 hex digits"),
        ({"password": "sec" * 5}, "settings.password", "at most 8 characters"),
    ],
)
def test_a_bad_secret_is_named_but_never_shown(
    settings: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(InvalidValue) as info:
        Example.parse(settings)
    assert info.value.field == field and words in info.value.reason
    assert next(iter(settings.values())) not in str(info.value)


def test_secrets_are_declared_with_their_sizes_and_hidden() -> None:
    assert Example.secrets() == {
        "key": SecretSpec("key", "hex", (16, 32)),
        "password": SecretSpec("password", "text", (), 8),
    }
    parsed = Example.parse({"key": KEY, "password": "pw"})
    assert KEY.lower() not in repr(parsed).lower() and "pw" not in repr(parsed)
    assert "key" not in parsed.as_text() and "password" not in parsed.as_text()


def test_syntax_lists_every_setting_with_its_default() -> None:
    lines = Example.syntax().splitlines()
    assert lines[0] == "timeout=5  seconds per answer"
    assert "fast=false  go fast" in lines
    assert "key=<secret, hex>  the key" in lines
    assert len(lines) == len(Example.model_fields)


def test_a_secret_needs_a_valid_declaration() -> None:
    with pytest.raises(ValueError, match="declares its sizes"):
        secret(encoding="hex")
    with pytest.raises(ValueError, match="hex or text"):
        secret(encoding="base64")  # type: ignore[arg-type]
