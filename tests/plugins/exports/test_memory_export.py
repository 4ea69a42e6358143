"""The memory export destination: payloads kept per plugin instance, for tests and demos."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from meterhub.extensions.export import ExportDestination, ExportMetadata
from meterhub.plugins.exports.memory import MemoryDestination, MemoryExportPlugin

CREATED = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def metadata(filename: str = "day.csv") -> ExportMetadata:
    return ExportMetadata(filename, "text/csv", "daily", CREATED, {"region": "north"})


def test_delivers_to_named_mailboxes() -> None:
    destination_class = MemoryExportPlugin().destination
    assert issubclass(destination_class, MemoryDestination)
    assert issubclass(destination_class, ExportDestination)
    demo = destination_class("demo", {"ignored": "yes"})
    assert demo.deliver(b"one", metadata("1.csv")) == "memory:demo/1"
    assert demo.deliver(b"two", metadata("2.csv")) == "memory:demo/2"
    assert destination_class("other").deliver(b"three", metadata()) == "memory:other/1"
    assert [d.payload for d in demo.deliveries] == [b"one", b"two"]
    assert [d.metadata.filename for d in destination_class.mailbox("demo")] == ["1.csv", "2.csv"]
    assert destination_class.mailbox_names() == ["demo", "other"]
    assert destination_class.mailbox("nobody") == []
    destination_class.clear()
    assert destination_class.mailbox("demo") == []


def test_empty_target_uses_the_default_mailbox() -> None:
    destination_class = MemoryExportPlugin().destination
    destination_class("").deliver(b"x", metadata())
    assert len(destination_class.mailbox()) == 1


def test_plugin_instances_do_not_share_mailboxes() -> None:
    first, second = MemoryExportPlugin(), MemoryExportPlugin()
    first.destination("demo").deliver(b"x", metadata())
    assert second.destination.mailbox("demo") == []
    assert first.register_exports() == [first.destination]


def test_payload_is_copied() -> None:
    destination_class = MemoryExportPlugin().destination
    payload = bytearray(b"abc")
    destination_class("demo").deliver(payload, metadata())  # type: ignore[arg-type]
    payload[0] = ord("X")
    assert destination_class.mailbox("demo")[0].payload == b"abc"


def test_concurrent_deliveries_are_all_kept() -> None:
    destination_class = MemoryExportPlugin().destination

    def deliver_many() -> None:
        destination = destination_class("busy")
        for _ in range(200):
            destination.deliver(b"x", metadata())

    threads = [threading.Thread(target=deliver_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    references = [d.reference for d in destination_class.mailbox("busy")]
    assert len(references) == len(set(references)) == 800


def test_metadata_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        ExportMetadata("a", "text/plain", "x", datetime(2026, 1, 1))
