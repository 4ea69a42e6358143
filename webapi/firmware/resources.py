"""``/api/v1/firmware-images``: the firmware image store (upload as multipart form data)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from meterhub.inventory import firmware as ops
from meterhub.model.firmware import FirmwareImage
from meterhub.webapi.crud import Resource, register_resource, serialize_writes
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.firmware.schemas import (
    FirmwareFileSchema,
    FirmwareFormSchema,
    FirmwareSchema,
)
from meterhub.webapi.security import current_access, request_session

blp = Blueprint(
    "firmware_images",
    __name__,
    url_prefix="/api/v1/firmware-images",
    description="Firmware images",
)

RESOURCE = Resource(
    name="firmware-images",
    object_type="firmware_image",
    model=FirmwareImage,
    schema=FirmwareSchema,
    title="firmware images",
    search=(FirmwareImage.name, FirmwareImage.version, FirmwareImage.sha256),
    default_sort="name,-id",
)
register_resource(blp, RESOURCE)


@blp.route("")
class FirmwareUpload(MethodView):
    """Add an image to the store."""

    @blp.arguments(FirmwareFormSchema, location="form")
    @blp.arguments(FirmwareFileSchema, location="files")
    @blp.response(201, FirmwareSchema)
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> FirmwareImage:
        """Upload a firmware image

        Multipart form data: `name`, `version`, optionally `description` and the vendor's
        `sha256` (the upload must match it), and the image as `file`. The store computes the
        SHA-256 hash; a name and version pair is unique (409). Needs `create` on
        `firmware_image`.
        """
        access = current_access()
        access.require("firmware_image", "create")
        session = request_session()
        serialize_writes(session)
        content = files["file"].read(ops.MAX_IMAGE_BYTES + 1)
        image = ops.add_image(
            session,
            name=form["name"],
            version=form["version"],
            content=content,
            description=form.get("description"),
            sha256=form.get("sha256"),
            user=access.username,
        )
        session.commit()
        return image
