from datetime import UTC, datetime, timedelta

import pytest

from meterhub.extensions import (
    AuthenticationFailed,
    DriverError,
    ErrorKind,
    FrameTrace,
    LinkLost,
    MeterTimeout,
    ProtocolError,
)
from meterhub.extensions.trace import Direction


def _clock():
    times = iter(
        datetime(2026, 11, 28, 12, 0, tzinfo=UTC) + timedelta(seconds=i) for i in range(99)
    )
    return lambda: next(times)


def test_trace_records_frames_and_notes_in_order() -> None:
    trace = FrameTrace(clock=_clock())
    trace.sent(b"\x7e\xa0\x07")
    trace.received(b"")
    trace.received(b"\x7e\xa0")
    trace.note("bad FCS")
    assert [e.direction for e in trace.entries] == [Direction.TX, Direction.RX, Direction.NOTE]
    assert trace.text().splitlines() == [
        "2026-11-28T12:00:00.000000Z tx 7E A0 07",
        "2026-11-28T12:00:01.000000Z rx 7E A0",
        "2026-11-28T12:00:02.000000Z note bad FCS",
    ]
    assert trace.last_received() == b"\x7e\xa0"
    assert trace.as_records()[0] == {
        "time": "2026-11-28T12:00:00+00:00",
        "direction": "tx",
        "hex": "7ea007",
        "text": "",
        "masked": [],
    }


def test_trace_keeps_within_its_limit_dropping_the_oldest() -> None:
    trace = FrameTrace(limit=10)
    for byte in range(6):
        trace.sent(bytes([byte]) * 4)
    assert [e.data[0] for e in trace.entries] == [4, 5]
    assert trace.dropped == 4


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LinkLost, ErrorKind.LINK),
        (MeterTimeout, ErrorKind.TIMEOUT),
        (AuthenticationFailed, ErrorKind.AUTHENTICATION),
        (ProtocolError, ErrorKind.PROTOCOL),
    ],
)
def test_driver_errors_are_classified_and_carry_the_frame(error: type, kind: ErrorKind) -> None:
    exc = error("what happened", frame=b"\x01\x02")
    assert isinstance(exc, DriverError)
    assert exc.kind is kind
    assert exc.frame == b"\x01\x02"
    assert str(exc) == "what happened"
