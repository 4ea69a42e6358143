"""The plain value types and defaults of the extension base classes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from meterhub.errors import MeterHubError
from meterhub.extensions import (
    Action,
    ApiExtension,
    DriverConnection,
    EventLog,
    ImportRecord,
    IntervalBlock,
    LinkLost,
    LoadProfile,
    MeterEvent,
    ParseError,
    Quality,
    Reading,
    UnsupportedAction,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def test_reading_scaled_value_and_checks() -> None:
    reading = Reading("1-0:32.7.0*255", 2301, "V", -1, T0)
    assert reading.scaled == pytest.approx(230.1)
    assert reading.quality is Quality.VALID
    assert Reading("0-0:96.1.0*255", "SIM-1", None, 0, T0).scaled is None
    assert Reading("1-0:1.8.0*255", None, "Wh", 0, T0, Quality.TIMEOUT).value is None
    with pytest.raises(ValueError, match="aware"):
        Reading("1-0:1.8.0*255", 1, "Wh", 0, datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="needs a value"):
        Reading("1-0:1.8.0*255", None, "Wh", 0, T0)


def test_quality_and_action_values_are_stable_text() -> None:
    assert [q.value for q in Quality] == [
        "valid",
        "timeout",
        "device_busy",
        "not_available",
        "invalid",
        "access_denied",
        "unsupported",
        "unknown_error",
    ]
    assert Action("read_load_profile") is Action.READ_LOAD_PROFILE


def test_whole_request_quality() -> None:
    assert LoadProfile(timedelta(minutes=15), quality=Quality.TIMEOUT).readings == ()
    assert EventLog(quality=Quality.DEVICE_BUSY).events == ()
    with pytest.raises(ValueError, match="aware"):
        MeterEvent(datetime(2026, 1, 1), 1, "0-0:99.98.0*255")


class MinimalConnection(DriverConnection):
    """Implements only the required actions, the way a simple driver does."""

    driver_name = "minimal"

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        raise self.unsupported(Action.READ_LOAD_PROFILE)

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        return []

    def read_instantaneous(self) -> list[Reading]:
        return []

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        return EventLog()

    def read_clock(self) -> Reading:
        raise LinkLost("gone")

    def set_clock(self, time: datetime) -> Quality:
        return Quality.ACCESS_DENIED

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda c: c.disconnect_supply(), Action.DISCONNECT_SUPPLY),
        (lambda c: c.reconnect_supply(), Action.RECONNECT_SUPPLY),
        (lambda c: c.set_relay(1, True), Action.SET_RELAY),
        (lambda c: c.upload_tariff({}), Action.UPLOAD_TARIFF),
        (lambda c: c.upgrade_firmware(b"", "2.0"), Action.UPGRADE_FIRMWARE),
        (lambda c: c.read_load_profile(T0, T0), Action.READ_LOAD_PROFILE),
        (lambda c: c.read_submeters(), Action.READ_SUBMETERS),
    ],
)
def test_optional_actions_default_to_unsupported(call, action) -> None:  # type: ignore[no-untyped-def]
    with MinimalConnection() as connection:
        with pytest.raises(UnsupportedAction) as caught:
            call(connection)
    assert caught.value.action is action
    assert f"driver 'minimal' does not support the action '{action.value}'" == str(caught.value)
    assert connection.closed
    assert isinstance(caught.value, MeterHubError)


def test_interval_block_checks() -> None:
    values, flags = np.zeros(4), np.zeros(4, np.uint32)
    block = IntervalBlock(T0, timedelta(minutes=15), values, flags)
    assert (len(block), block.end) == (4, T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="aware"):
        IntervalBlock(datetime(2026, 1, 1), timedelta(minutes=15), values, flags)
    with pytest.raises(ValueError, match="positive"):
        IntervalBlock(T0, timedelta(0), values, flags)
    with pytest.raises(ValueError, match="4 values but 3 flags"):
        IntervalBlock(T0, timedelta(minutes=15), values, flags[:3])


def test_import_record_and_parse_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        ImportRecord("SIM-1", "1-0:1.8.0*255", datetime(2026, 1, 1), 1.0)
    error = ParseError("line 3", "expected 4 fields")
    assert (str(error), error.position) == ("line 3: expected 4 fields", "line 3")


def test_api_extension_mount_point() -> None:
    class Default(ApiExtension):
        name = "x"

        def blueprint(self):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    class Mounted(Default):
        url_prefix = "/api/x"

    assert Default.mount_point() == "/api/plugins/x"
    assert Mounted.mount_point() == "/api/x"
