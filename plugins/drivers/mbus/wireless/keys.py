"""Bulk import of meter keys from manufacturers' key files into the encrypted credential store.

Manufacturers deliver AES keys with the meters as CSV or XML files. :func:`read_key_file` reads
either into :class:`KeyEntry` rows, checked before anything is written:

* **CSV** (``,`` ``;`` or tab separated) with a header row naming the columns; the meter number
  column is one of ``meter_id``, ``id``, ``serial``, ``serial_number``, ``identification``,
  ``device``; the key column ``key``, ``aes_key``, ``aes``, ``encryption_key``; an optional
  ``manufacturer`` (or ``mfct``) column;
* **XML**: every element that holds a meter number and a key, as attributes or as child
  elements with the same names (case does not matter). Documents with a DOCTYPE are refused
  (no entity expansion, no external entities).

:func:`import_keys` stores each key as the ``key`` credential of the ``wmbus`` meter with that
identification number through :func:`meterhub.inventory.meters.set_credentials`; keys of meters
not in the inventory are reported (they usually arrive before the meters are installed), and a
bad row stops the import before anything is written. ``meterhub wmbus import-keys FILE`` runs it.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.credentials import CredentialCipher
from meterhub.errors import InvalidValue
from meterhub.inventory.meters import set_credentials
from meterhub.model.meters import Meter

__all__ = ["KeyEntry", "KeyImport", "import_keys", "read_key_file"]

_ID_NAMES = {
    "meter_id",
    "meterid",
    "id",
    "serial",
    "serial_number",
    "serialnumber",
    "identification",
    "ident",
    "device",
    "devicenumber",
}
_KEY_NAMES = {"key", "aes_key", "aeskey", "aes", "encryption_key", "encryptionkey"}
_MANUFACTURER_NAMES = {"manufacturer", "mfct", "man", "vendor"}
_ID = re.compile(r"\d{8}")
_KEY = re.compile(r"[0-9A-Fa-f]{32}")
_MANUFACTURER = re.compile(r"[A-Za-z]{3}")
MAX_FILE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One meter's key from a key file (``where`` says where it was: ``line 3``)."""

    meter_id: str
    key: str
    manufacturer: str | None
    where: str


@dataclass
class KeyImport:
    """What :func:`import_keys` did: meters whose key was stored, keys of unknown meters."""

    imported: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _entry(values: Mapping[str, str], where: str) -> KeyEntry:
    def pick(names: set[str]) -> str:
        for name, value in values.items():
            if name.strip().lower().replace("-", "_").replace(" ", "_") in names:
                return (value or "").strip()
        return ""

    meter_id, key, manufacturer = pick(_ID_NAMES), pick(_KEY_NAMES), pick(_MANUFACTURER_NAMES)
    key = key.replace(" ", "").replace(":", "")
    if not _ID.fullmatch(meter_id):
        raise InvalidValue(f"key_file.{where}", "needs the meter's 8-digit identification number")
    if not _KEY.fullmatch(key):
        # Never show the value: it may be a key with a typo.
        raise InvalidValue(f"key_file.{where}", "needs an AES-128 key of 32 hex digits")
    if manufacturer and not _MANUFACTURER.fullmatch(manufacturer):
        raise InvalidValue(f"key_file.{where}", "manufacturer must be a 3-letter code")
    return KeyEntry(meter_id, key.upper(), manufacturer.upper() or None, where)


def _csv(text: str) -> list[KeyEntry]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames:
        raise InvalidValue("key_file", "is empty")
    names = {name.strip().lower().replace("-", "_").replace(" ", "_") for name in reader.fieldnames}
    if not names & _ID_NAMES or not names & _KEY_NAMES:
        raise InvalidValue("key_file", "the header row names no meter number and key columns")
    return [
        _entry({k or "": v or "" for k, v in row.items()}, f"line {number}")
        for number, row in enumerate(reader, start=2)
        if any((value or "").strip() for value in row.values())
    ]


def _xml(data: bytes) -> list[KeyEntry]:
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise InvalidValue("key_file", "XML with a DOCTYPE or entities is refused")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InvalidValue("key_file", f"is not well-formed XML: {exc}") from None
    found = []
    for number, element in enumerate(root.iter()):
        values = {name.rpartition("}")[2]: value for name, value in element.attrib.items()}
        for child in element:
            if len(child) == 0 and child.text:
                values.setdefault(child.tag.rpartition("}")[2], child.text)
        lowered = {name.lower() for name in values}
        if lowered & _ID_NAMES and lowered & _KEY_NAMES:
            found.append(_entry(values, f"element {number} <{element.tag.rpartition('}')[2]}>"))
    return found


def read_key_file(data: bytes) -> list[KeyEntry]:
    """The keys of a CSV or XML key file; :class:`InvalidValue` names the first bad row."""
    if len(data) > MAX_FILE:
        raise InvalidValue("key_file", f"is larger than {MAX_FILE // (1024 * 1024)} MiB")
    text = data.lstrip(b"\xef\xbb\xbf").lstrip()
    entries = _xml(text) if text.startswith(b"<") else _csv(text.decode("utf-8", "replace"))
    if not entries:
        raise InvalidValue("key_file", "holds no meter keys")
    seen: dict[str, KeyEntry] = {}
    for entry in entries:
        earlier = seen.get(entry.meter_id)
        if earlier is not None and earlier.key != entry.key:
            raise InvalidValue(
                f"key_file.{entry.where}",
                f"meter {entry.meter_id} has another key at {earlier.where}",
            )
        seen[entry.meter_id] = entry
    return list(seen.values())


def import_keys(
    session: Session,
    cipher: CredentialCipher,
    entries: Sequence[KeyEntry],
    *,
    drivers: Mapping[str, Any] | None = None,
    driver: str = "wmbus",
) -> KeyImport:
    """Store each entry's key as the ``key`` credential of its ``driver`` meter (see above)."""
    result = KeyImport()
    for entry in entries:
        candidates = session.scalars(
            select(Meter).where(Meter.driver == driver, Meter.serial_number == entry.meter_id)
        ).all()
        if entry.manufacturer and len(candidates) > 1:
            candidates = [m for m in candidates if m.manufacturer.upper() == entry.manufacturer]
        if len(candidates) != 1:
            result.unknown.append(entry.meter_id)
            continue
        set_credentials(session, candidates[0], cipher, {"key": entry.key}, drivers=drivers)
        result.imported.append(entry.meter_id)
    return result
