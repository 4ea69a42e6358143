"""``/api/v1/elements``: the business tree."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.errors import PermissionDenied
from meterhub.inventory import elements as ops
from meterhub.inventory import segments as segment_ops
from meterhub.model.elements import Element, ElementAttribute
from meterhub.model.segments import DataSegment
from meterhub.model.templates import Template
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.elements.schemas import (
    ElementCreateSchema,
    ElementSchema,
    ElementUpdateSchema,
)
from meterhub.webapi.extensions import Blueprint

blp = Blueprint(
    "elements", __name__, url_prefix="/api/v1/elements", description="The business tree"
)


def _parent(session: Session, access: AccessContext, parent_id: int | None) -> Element | None:
    if parent_id is None:
        if not access.scope.unrestricted:
            raise PermissionDenied(
                "an element at the top level would lie outside your data segments"
            )
        return None
    return reference(session, access, Element, "element", parent_id, "parent_id")


def _set_segments(
    session: Session, access: AccessContext, element: Element, segment_ids: list[int]
) -> None:
    wanted = [
        reference(session, access, DataSegment, "segment", sid, f"segments[{i}]")
        for i, sid in enumerate(segment_ids)
    ]
    for link in list(element.segment_links):
        if link.segment_id not in {s.id for s in wanted}:
            segment_ops.unassign_segment(session, element, link.segment)
    for segment in wanted:
        segment_ops.assign_segment(session, element, segment)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Element:
    """Create an element (under a visible parent; at the top only with every segment)."""
    template = reference(session, access, Template, "template", data["template_id"], "template_id")
    element = ops.create_element(
        session,
        template=template,
        name=data["name"],
        parent=_parent(session, access, data["parent_id"]),
        attributes=data["attributes"],
        valid_from=data["valid_from"],
        valid_to=data["valid_to"],
    )
    _set_segments(session, access, element, data["segments"])
    return element


def update(
    session: Session, access: AccessContext, element: Element, data: dict[str, Any]
) -> Element:
    """Rename, move, set attributes, validity, enabled, segments."""
    if "parent_id" in data:
        ops.move(session, element, _parent(session, access, data["parent_id"]))
    if "name" in data:
        ops.rename(session, element, data["name"])
    if "attributes" in data:
        ops.set_attributes(session, element, data["attributes"])
    if "valid_from" in data or "valid_to" in data:
        periods = {key: data[key] for key in ("valid_from", "valid_to") if key in data}
        ops.set_validity(session, element, **periods)
    if "enabled" in data:
        if data["enabled"]:
            ops.enable(session, element)
        else:
            ops.disable(session, element)
    if "segments" in data:
        _set_segments(session, access, element, data["segments"])
    return element


def delete(session: Session, access: AccessContext, element: Element) -> None:
    """Delete an element without children and references."""
    ops.delete(session, element)


RESOURCE = Resource(
    name="elements",
    object_type="element",
    model=Element,
    schema=ElementSchema,
    title="elements",
    create_schema=ElementCreateSchema,
    update_schema=ElementUpdateSchema,
    create=create,
    update=update,
    delete=delete,
    search=(Element.name,),
    exclude_filters=("sibling_scope",),
    default_sort="name",
    load_options=(
        selectinload(Element.attribute_values).joinedload(ElementAttribute.template_attribute),
        selectinload(Element.segment_links),
    ),
)
register_resource(blp, RESOURCE)
