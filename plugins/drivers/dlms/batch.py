"""Reading several attributes in as few exchanges as the meter allows.

Every exchange costs a round trip: tens of milliseconds on TCP, a few hundred at 9600 Bd over
HDLC. When the association's negotiated conformance has *multiple-references* (most meters),
:meth:`BatchReading.read_items` reads up to ten attributes with one GET-request-with-list; the
setting ``get_with_list=false`` (or a meter without it) falls back to one GET per attribute.

gurux reports a refused item of a list as ``None`` plus the data-access-result in the reply
(the last refused item's, when several are refused in one list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gurux_dlms.enums import Conformance
from gurux_dlms.objects.GXDLMSObject import GXDLMSObject

from meterhub.extensions.driver import Quality
from meterhub.plugins.drivers.dlms.association import Association
from meterhub.plugins.drivers.dlms.cosem import obis_text
from meterhub.plugins.drivers.dlms.session import ACCESS_RESULT

__all__ = ["BatchReading", "Item"]

#: gurux puts at most ten attribute descriptors in one GET-request-with-list.
_LIST_LIMIT = 10


@dataclass(slots=True)
class Item:
    """One attribute to read, and what came back.

    ``raw`` keeps the value as sent (a register's value: the scaler stays apart); otherwise
    gurux decodes it into the object (scaler and unit, times) and ``value`` is the decoded one.
    ``required``: when it is refused, the rest of its reading need not be read.
    """

    obj: GXDLMSObject
    attribute: int
    raw: bool = False
    required: bool = True
    value: Any = None
    quality: Quality = Quality.NOT_AVAILABLE
    #: The data-access-result of a refused item (``None``: valid or not read).
    result: int | None = None
    done: bool = False


class BatchReading(Association):
    """:meth:`read_items`: attributes of several objects, by list when the meter can."""

    def _with_list(self) -> bool:
        """Whether GET-request-with-list may be used on this association."""
        if not self.settings.get_with_list:
            return False
        return bool(int(self.client.negotiatedConformance) & Conformance.MULTIPLE_REFERENCES)

    def read_items(self, groups: Sequence[Sequence[Item]]) -> None:
        """Read every item; ``groups`` are the items of one reading each (in reading order).

        By list: all items, ten per request. One by one: a group stops at its first refused
        ``required`` item (its other items stay unread).
        """
        for group in groups:
            for item in group:
                if not self._addressed(item.obj):
                    item.quality, item.result, item.done = Quality.NOT_AVAILABLE, 4, True
        items = [item for group in groups for item in group if not item.done]
        if len(items) > 1 and self._with_list():
            size = max(1, min(_LIST_LIMIT, (int(self.client.maxReceivePDUSize) - 12) // 10))
            for start in range(0, len(items), size):
                self._read_list(items[start : start + size])
            return
        for group in groups:
            for item in group:
                if not item.done:
                    self._read_single(item)
                if item.quality is not Quality.VALID and item.required:
                    break

    def _read_single(self, item: Item) -> None:
        item.value, item.quality = self._get(item.obj, item.attribute, raw=item.raw)
        item.result = self.last_access_result
        item.done = True

    def _read_list(self, chunk: list[Item]) -> None:
        if len(chunk) == 1:
            self._read_single(chunk[0])
            return
        frames = self.client.readList([(item.obj, item.attribute) for item in chunk])[0]
        note = "GET with list: " + ", ".join(
            f"{obis_text(item.obj.logicalName)} attr {item.attribute}" for item in chunk
        )
        reply = self._request(frames, note)
        values = reply.value if isinstance(reply.value, list) else None
        error = int(reply.error) if reply.error else None
        if self.short_names and (values is None or len(values) != len(chunk)):
            # gurux's client leaves a refused item out of an SN read-response list and may
            # reset its error (defect 37): which one is unknown, so the items are read one
            # by one.
            self.trace.note("the SN list answer left a refused item out: reading one by one")
            for item in chunk:
                self._read_single(item)
            return
        if values is None or len(values) != len(chunk):
            quality = ACCESS_RESULT.get(error, Quality.INVALID) if error else Quality.INVALID
            self.trace.note(f"the list answer has no value per item: {quality.value}")
            for item in chunk:
                item.quality, item.result, item.done = quality, error, True
            return
        for item, value in zip(chunk, values, strict=True):
            item.done = True
            if value is None and error is not None:
                item.result = error
                item.quality = ACCESS_RESULT.get(error, Quality.UNKNOWN_ERROR)
                self.trace.note(
                    f"{obis_text(item.obj.logicalName)} attr {item.attribute}: "
                    f"data-access-result {error} → {item.quality.value}"
                )
                continue
            if item.raw:
                item.value, item.quality = value, Quality.VALID
                continue
            try:
                item.value = self.client.updateValue(item.obj, item.attribute, value)
                item.quality = Quality.VALID
            except Exception as exc:
                self.trace.note(f"cannot decode attribute {item.attribute}: {exc}")
                item.value, item.quality = None, Quality.INVALID
