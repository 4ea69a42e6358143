"""Data segments: create and delete them, assign elements, and find what a set of segments sees.

An element is visible for a set of segments when it or one of its ancestors is assigned to one
of them: assigning a region shows its whole subtree.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import UNSET, Unset, check_name, chunks, flush, optional_text
from meterhub.inventory.elements import ancestors, descendant_ids
from meterhub.model.elements import Element
from meterhub.model.segments import DataSegment, ElementSegment


def get_segment(session: Session, name: str) -> DataSegment:
    """The segment named ``name``; :class:`NotFound` when there is none."""
    segment = session.scalar(select(DataSegment).where(DataSegment.name == name))
    if segment is None:
        raise NotFound(f"no data segment named {name!r}")
    return segment


def resolve_segment(session: Session, segment: DataSegment | str) -> DataSegment:
    """``segment`` itself, or the segment of that name."""
    if isinstance(segment, DataSegment):
        return segment
    if not isinstance(segment, str):
        raise InvalidValue("segment", f"expected a data segment or its name, got {segment!r}")
    return get_segment(session, segment)


def create_segment(session: Session, name: str, *, description: str | None = None) -> DataSegment:
    """Create a data segment; its name must be unique."""
    name = check_name(name)
    description = optional_text(description, field="description")
    if session.scalar(select(DataSegment.id).where(DataSegment.name == name)) is not None:
        raise Conflict("name", f"a data segment named {name!r} already exists")
    segment = DataSegment(name=name, description=description)
    session.add(segment)
    flush(session, reason=f"a data segment named {name!r} already exists")
    return segment


def delete_segment(session: Session, segment: DataSegment | str) -> None:
    """Delete a segment with its assignments to elements and grants to users."""
    segment = resolve_segment(session, segment)
    session.delete(segment)
    flush(session, field="segment")


def assign_segment(session: Session, element: Element, segment: DataSegment | str) -> None:
    """Assign ``element`` (and so its subtree) to ``segment``; assigning twice changes nothing."""
    segment = resolve_segment(session, segment)
    if any(link.segment_id == segment.id for link in element.segment_links):
        return
    element.segment_links.append(ElementSegment(segment=segment))
    flush(session, field="segment", reason="the element was assigned to the segment already")


def unassign_segment(session: Session, element: Element, segment: DataSegment | str) -> None:
    """Remove the assignment of ``element`` to ``segment``; nothing happens when it has none."""
    segment = resolve_segment(session, segment)
    for link in list(element.segment_links):
        if link.segment_id == segment.id:
            element.segment_links.remove(link)
    flush(session, field="segment")


def segments_of(element: Element) -> list[DataSegment]:
    """The segments ``element`` itself is assigned to (not those inherited from ancestors)."""
    return sorted((link.segment for link in element.segment_links), key=lambda s: s.name)


def _segment_ids(session: Session, segments: Iterable[DataSegment | str]) -> set[int]:
    return {resolve_segment(session, segment).id for segment in segments}


def visible_element_ids(session: Session, segments: Iterable[DataSegment | str]) -> set[int]:
    """Ids of the elements visible for ``segments``: those assigned and everything below."""
    segment_ids = _segment_ids(session, segments)
    assigned: set[int] = set()
    for batch in chunks(segment_ids):
        statement = select(ElementSegment.element_id).where(ElementSegment.segment_id.in_(batch))
        assigned.update(session.scalars(statement))
    return assigned | descendant_ids(session, assigned)


def visible_elements(session: Session, segments: Iterable[DataSegment | str]) -> list[Element]:
    """The elements visible for ``segments``, ordered by id."""
    ids = sorted(visible_element_ids(session, segments))
    result: list[Element] = []
    for batch in chunks(ids):
        result.extend(session.scalars(select(Element).where(Element.id.in_(batch))))
    return sorted(result, key=lambda element: element.id)


def is_visible(session: Session, element: Element, segments: Iterable[DataSegment | str]) -> bool:
    """Whether ``element`` or one of its ancestors is assigned to one of ``segments``."""
    segment_ids = _segment_ids(session, segments)
    return any(
        link.segment_id in segment_ids
        for node in [*ancestors(element), element]
        for link in node.segment_links
    )


def change_segment(
    session: Session,
    segment: DataSegment,
    *,
    name: str | None = None,
    description: str | None | Unset = UNSET,
) -> DataSegment:
    """Rename a segment or change its description."""
    if name is not None:
        name = check_name(name)
        clash = session.scalar(
            select(DataSegment.id).where(DataSegment.name == name, DataSegment.id != segment.id)
        )
        if clash is not None:
            raise Conflict("name", f"a data segment named {name!r} already exists")
        segment.name = name
    if not isinstance(description, Unset):
        segment.description = optional_text(description, field="description")
    flush(session)
    return segment
