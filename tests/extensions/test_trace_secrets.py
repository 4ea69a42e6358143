"""Frame traces mask secrets before storing a frame: same length, marked, never in the records."""

from __future__ import annotations

from meterhub.extensions.trace import MASK_BYTE, FrameTrace, mask_spans


def _everything(trace: FrameTrace) -> str:
    return trace.text() + repr(trace.as_records()) + repr(trace.entries)


def test_a_session_secret_is_masked_in_every_frame() -> None:
    trace = FrameTrace()
    trace.add_secret(b"s3cr3t")
    trace.sent(b"\x01P1(s3cr3t)\x03")
    trace.received(b"echo s3cr3t")
    sent, received = trace.entries
    assert sent.data == b"\x01P1(" + bytes([MASK_BYTE]) * 6 + b")\x03"
    assert sent.masked == ((4, 10),) and received.masked == ((5, 11),)
    assert "** ** ** ** ** **" in sent.line() and sent.line().endswith("(masked)")
    assert "s3cr3t" not in _everything(trace)
    assert "73 33 63 72 33 74" not in _everything(trace).upper()
    assert trace.as_records()[0]["masked"] == [[4, 10]]


def test_a_scoped_secret_is_masked_only_inside_its_block() -> None:
    trace = FrameTrace()
    with trace.secret("pw"):
        trace.sent(b"login pw")
    trace.sent(b"plain pw")
    assert trace.entries[0].masked == ((6, 8),)
    assert trace.entries[1].masked == () and trace.entries[1].data == b"plain pw"


def test_mask_next_masks_exact_spans_of_the_next_frame_only() -> None:
    trace = FrameTrace()
    trace.mask_next([(2, 4)])
    trace.received(b"\x00\x01\x02\x03\x04")  # a received frame does not use the spans
    trace.sent(b"\x00\x01\x02\x03\x04")
    trace.sent(b"\x00\x01\x02\x03\x04")
    assert trace.entries[0].masked == ()
    assert trace.entries[1].data == b"\x00\x01**\x04" and trace.entries[1].masked == ((2, 4),)
    assert trace.entries[2].masked == ()


def test_overlapping_secrets_are_merged() -> None:
    assert mask_spans(b"abcabc", [b"abc", b"bca", b""]) == [(0, 6)]
    assert mask_spans(b"xyz", [b"q"]) == []


def test_a_secret_split_across_two_chunks_is_masked_in_both() -> None:
    trace = FrameTrace()
    trace.add_secret(b"s3cr3t")
    trace.received(b"(echo P1(s3c")
    trace.received(b"r3t))")
    first, second = trace.entries
    assert first.data.endswith(b"(***") and first.masked == ((9, 12),)
    assert second.data == b"***))" and second.masked == ((0, 3),)
    assert b"s3c" not in first.data and b"r3t" not in second.data
    # Another direction in between: no stitching across directions.
    trace.sent(b"ok")
    trace.received(b"r3t")
    assert trace.entries[-1].masked == ()
