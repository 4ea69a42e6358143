"""Operations on the firmware image store: add an image (its hash computed), find one.

An image is stored with its name, version, size and SHA-256 hash; a name and version pair is
unique. A firmware upgrade job names the image (:mod:`meterhub.inventory.jobs`), and the engine
checks the hash again before it sends the image to a meter.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.model.firmware import FirmwareImage

__all__ = ["MAX_IMAGE_BYTES", "add_image", "find_image", "images"]

#: The largest image accepted (64 MiB).
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def add_image(
    session: Session,
    *,
    name: str,
    version: str,
    content: bytes,
    description: str | None = None,
    user: str = "system",
    sha256: str | None = None,
    now: datetime | None = None,
) -> FirmwareImage:
    """Store an image. ``sha256``, when given (from the vendor), must match the content."""
    name = check_name(name, field="name", max_length=100)
    version = check_name(version, field="version", max_length=64)
    if not isinstance(content, bytes | bytearray) or not content:
        raise InvalidValue("content", "a firmware image needs its bytes (the file is empty)")
    if len(content) > MAX_IMAGE_BYTES:
        raise InvalidValue("content", f"is {len(content)} bytes; at most {MAX_IMAGE_BYTES}")
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and sha256.strip().lower() != digest:
        raise InvalidValue(
            "sha256", f"the image's SHA-256 is {digest}, not {sha256.strip()}: a damaged file?"
        )
    clash = session.scalars(
        select(FirmwareImage).where(FirmwareImage.name == name, FirmwareImage.version == version)
    ).first()
    if clash is not None:
        raise Conflict("version", f"firmware {name} {version} is in the store (id {clash.id})")
    image = FirmwareImage(
        name=name,
        version=version,
        sha256=digest,
        size_bytes=len(content),
        content=bytes(content),
        description=optional_text(description, field="description"),
        created_by=user[:200],
        created_at=now or datetime.now(UTC),
    )
    session.add(image)
    flush(session, field="version")
    return image


def find_image(session: Session, name: str, version: str | None = None) -> FirmwareImage:
    """The image ``name`` of ``version`` (default: the newest added)."""
    query = select(FirmwareImage).where(FirmwareImage.name == name)
    if version is not None:
        query = query.where(FirmwareImage.version == version)
    image = session.scalars(query.order_by(FirmwareImage.id.desc())).first()
    if image is None:
        raise NotFound(f"no firmware image {name} {version or ''}".strip())
    return image


def images(session: Session) -> list[FirmwareImage]:
    """Every image, by name then id."""
    return list(
        session.scalars(select(FirmwareImage).order_by(FirmwareImage.name, FirmwareImage.id))
    )
