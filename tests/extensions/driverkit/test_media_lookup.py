"""Drivers open media through their entry points and split mixed settings."""

from __future__ import annotations

import socket

import pytest
from pydantic import Field

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import (
    PluginSettings,
    line_kind,
    line_settings,
    medium_class,
    open_line,
    open_medium,
    split_settings,
)


class DriverSettings(PluginSettings):
    timeout: float = Field(2.0, description="seconds")


def test_media_are_found_by_their_entry_point_names() -> None:
    for kind in ("tcp", "serial", "modem"):
        assert medium_class(kind).name == kind
    with pytest.raises(InvalidValue, match="no installed plugin provides the medium 'ir'"):
        medium_class("ir")


def test_mixed_settings_are_split_by_the_models_that_declare_them() -> None:
    own, line = split_settings(
        {"timeout": "3", "baudrate": "300", "parity": "E"}, DriverSettings, "serial"
    )
    assert own == {"timeout": "3"} and line == {"baudrate": "300", "parity": "E"}
    assert line_settings("tcp", {"timeout": "3", "nodelay": "false"}) == {"nodelay": "false"}
    with pytest.raises(InvalidValue, match="unknown setting 'speed'; known: .*baudrate"):
        split_settings({"speed": "fast"}, DriverSettings, "serial")


def test_open_medium_opens_or_fails_cleanly() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    medium = open_medium("tcp", f"127.0.0.1:{port}", {"nodelay": "true"}, timeout=2)
    try:
        assert medium.options.nodelay is True and medium.trace is not None
    finally:
        medium.close()
        listener.close()
    with pytest.raises(InvalidValue, match="settings.nodelay"):
        open_medium("tcp", f"127.0.0.1:{port}", {"nodelay": "perhaps"}, timeout=2)
    with pytest.raises(LinkLost):
        open_medium("tcp", f"127.0.0.1:{port}", {}, timeout=1)


def test_open_line_uses_a_given_medium_or_opens_one() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        line = open_line(f"127.0.0.1:{port}", {"timeout": "1", "nodelay": "false"}, DriverSettings)
        try:
            assert line.owned and line.medium.name == "tcp" and line.options.timeout == 1
            assert line.medium.options.nodelay is False
            given = open_line("ignored", {"timeout": "3"}, DriverSettings, line.medium)
            assert not given.owned and given.medium is line.medium
        finally:
            line.medium.close()
        with pytest.raises(InvalidValue, match="settings.timeout"):
            open_line(f"127.0.0.1:{port}", {"timeout": "soon"}, DriverSettings)
    finally:
        listener.close()
    assert line_kind("10.0.0.5:4059") == "tcp" and line_kind("[::1]:502") == "tcp"
    assert line_kind("/dev/ttyUSB0") == "serial" and line_kind("COM3") == "serial"
