"""Schemas of firmware images and their upload."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from meterhub.webapi.crud.fields import text
from meterhub.webapi.extensions import Schema


class FirmwareSchema(Schema):
    """A firmware image: name, version, size and SHA-256 hash (the bytes are not returned)."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    version = ma.fields.String(dump_only=True)
    sha256 = ma.fields.String(dump_only=True, metadata={"description": "hex"})
    size_bytes = ma.fields.Integer(dump_only=True)
    description = ma.fields.String(dump_only=True, allow_none=True)
    created_by = ma.fields.String(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)


class FirmwareFormSchema(Schema):
    """The form fields of an upload."""

    name = text(100, required=True)
    version = text(64, required=True)
    description = text(2000)
    sha256 = text(
        64, metadata={"description": "the vendor's SHA-256 (hex): the upload must match it"}
    )


class FirmwareFileSchema(Schema):
    """The file of an upload."""

    file = Upload(required=True, metadata={"description": "the image (at most 64 MiB)"})
