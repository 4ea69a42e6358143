"""``/api/v1/billing-releases``: channels' periods released for billing (a changed released
value revokes its release, through the meter data edits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.model.metering import Channel
from meterhub.model.vee import BillingRelease
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.releases.schemas import ReleaseCreateSchema, ReleaseSchema
from meterhub.webapi.state import current_runtime

blp = Blueprint(
    "billing_releases",
    __name__,
    url_prefix="/api/v1/billing-releases",
    description="Releases for billing",
)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> BillingRelease:
    """Release a period of a visible channel (refused, naming ``period``, unless every interval
    has a validated, plausible value)."""
    channel = reference(session, access, Channel, "channel", data["channel_id"], "channel_id")
    session.commit()  # the release is written in the store's own unit of work
    info = current_runtime().editing.release(
        channel.id, data["start"], data["end"], user=access.username, note=data["note"]
    )
    found = session.get(BillingRelease, info.id)
    assert found is not None
    return found


RESOURCE = Resource(
    name="billing-releases",
    object_type="billing_release",
    model=BillingRelease,
    schema=ReleaseSchema,
    title="billing releases",
    create_schema=ReleaseCreateSchema,
    create=create,
    search=(BillingRelease.released_by, BillingRelease.note),
    default_sort="-id",
)
register_resource(blp, RESOURCE)
