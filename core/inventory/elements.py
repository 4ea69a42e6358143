"""Operations on the business tree: create, change attributes, rename, validity, enable and
disable, move, copy, delete, and walking the tree.

Rules every operation keeps (checked before anything is written; the database enforces the
name rule too):

* A name is unique among its siblings (roots are siblings of each other) and contains no
  ``/``, which separates the names of a path (``Top/North/Consumer 1``).
* A validity period is ``[valid_from, valid_to)`` with ``valid_to`` ``None`` as an open end. A
  child's period lies within its parent's; shrinking a parent's period is refused while a child
  would fall outside (change the child first). :func:`create_element` without ``valid_from`` /
  ``valid_to`` takes the parent's (for a root: from :data:`DEFAULT_VALID_FROM`, open end).
* **Disabling cascades**: :func:`disable` disables the element and its whole subtree, so the
  stored flag is the effective state (a disabled element never has an enabled descendant) and
  acquisition can filter on ``enabled`` alone. :func:`enable` enables only the element (or
  the subtree with ``recursive=True``) and is refused under a disabled parent. Moving or
  copying a subtree under a disabled parent disables it; elements created under a disabled
  parent start disabled.
* :func:`copy` copies the subtree with its attribute values; segment assignments and metering
  data are not copied (the copy's visibility comes from its new ancestors).
* :func:`delete` refuses an element with children unless ``recursive=True``, and an element
  (or subtree) still referenced from another table (a metering point) — the error names the
  table and count; remove or move those first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_name,
    check_period,
    chunks,
    flush,
    format_period,
    period_within,
    quoted_list,
)
from meterhub.inventory.templates import from_text, resolve_template, to_text
from meterhub.model.base import Base
from meterhub.model.elements import PATH_SEPARATOR, ROOT_SCOPE, Element, ElementAttribute
from meterhub.model.templates import NAME_LENGTH, Template, TemplateAttribute
from meterhub.model.types import utcnow

#: Start of the validity of a root element created without ``valid_from``: "always".
DEFAULT_VALID_FROM = datetime(1970, 1, 1, tzinfo=UTC)


# -- checks -------------------------------------------------------------------------------------


def check_element_name(value: Any, *, field: str = "name") -> str:
    """A valid element name: non-empty text without control characters or ``/``."""
    return check_name(value, field=field, max_length=NAME_LENGTH, forbidden=PATH_SEPARATOR)


def _check_parent(parent: Any, *, field: str = "parent") -> Element | None:
    if parent is None or isinstance(parent, Element):
        return parent
    raise InvalidValue(field, f"expected an element or None, got {type(parent).__name__}")


def _place(parent: Element | None) -> str:
    return f"under {parent.path!r}" if parent is not None else "at the top level"


def _check_name_free(
    session: Session, parent: Element | None, name: str, element: Element | None
) -> None:
    scope = parent.id if parent is not None else ROOT_SCOPE
    statement = select(Element).where(Element.sibling_scope == scope, Element.name == name)
    existing = session.scalar(statement)
    if existing is not None and existing is not element:
        raise Conflict("name", f"an element named {name!r} already exists {_place(parent)}")


def _duplicate_reason(name: str, parent: Element | None) -> str:
    return f"an element named {name!r} already exists {_place(parent)}"


def _check_within_parent(
    valid_from: datetime,
    valid_to: datetime | None,
    parent: Element | None,
    *,
    what: str = "the parent",
) -> None:
    if parent is None:
        return
    if period_within(valid_from, valid_to, parent.valid_from, parent.valid_to):
        return
    field_name = "valid_from" if valid_from < parent.valid_from else "valid_to"
    raise InvalidValue(
        field_name,
        f"the period {format_period(valid_from, valid_to)} must lie within the period "
        f"{format_period(parent.valid_from, parent.valid_to)} of {what} {parent.path!r}",
    )


def _attribute_texts(
    template: Template, values: Any
) -> dict[str, tuple[TemplateAttribute, str | None]]:
    """Validate ``values`` (attribute name → value) against ``template``."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidValue(
            "attributes", f"expected a mapping of attribute names to values, got {values!r}"
        )
    result: dict[str, tuple[TemplateAttribute, str | None]] = {}
    for key, value in values.items():
        attribute = template.attribute(key) if isinstance(key, str) else None
        if attribute is None:
            raise InvalidValue(
                f"attributes.{key}",
                f"template {template.name!r} has no attribute {key!r}; it has "
                f"{quoted_list([a.name for a in template.attributes])}",
            )
        text = to_text(
            attribute.value_type, value, field=f"attributes.{key}", choices=attribute.choices
        )
        result[key] = (attribute, text)
    return result


def _required_error(template: Template, attribute: TemplateAttribute) -> InvalidValue:
    return InvalidValue(
        f"attributes.{attribute.name}",
        f"is required by template {template.name!r} and has no default",
    )


# -- creating -----------------------------------------------------------------------------------


def create_element(
    session: Session,
    *,
    template: Template | str,
    name: str,
    parent: Element | None = None,
    attributes: Mapping[str, Any] | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> Element:
    """Create an element of ``template`` under ``parent`` (``None``: a root).

    ``attributes`` maps attribute names to values (typed or text), validated per type;
    attributes left out get the template's default. ``valid_from``/``valid_to`` default to
    the parent's period (see the module documentation).
    """
    template = resolve_template(session, template)
    name = check_element_name(name)
    parent = _check_parent(parent)
    if valid_from is None:
        valid_from = parent.valid_from if parent is not None else DEFAULT_VALID_FROM
    if valid_to is None and parent is not None:
        valid_to = parent.valid_to
    start, end = check_period(valid_from, valid_to)
    _check_within_parent(start, end, parent)
    given = _attribute_texts(template, attributes)
    values: list[tuple[TemplateAttribute, str]] = []
    for attribute in template.attributes:
        text = given[attribute.name][1] if attribute.name in given else attribute.default_value
        if text is None:
            if attribute.required:
                raise _required_error(template, attribute)
            continue
        values.append((attribute, text))
    _check_name_free(session, parent, name, None)

    element = Element(
        template=template,
        parent=parent,
        name=name,
        enabled=parent.enabled if parent is not None else True,
        valid_from=start,
        valid_to=end,
    )
    session.add(element)
    for attribute, text in values:
        element.attribute_values.append(ElementAttribute(template_attribute=attribute, value=text))
    flush(session, reason=_duplicate_reason(name, parent))
    return element


# -- attributes ---------------------------------------------------------------------------------


def attribute_values(element: Element) -> dict[str, Any]:
    """The element's attribute values, typed (``int``, ``Decimal``, ``date``, ...), by name."""
    result: dict[str, Any] = {}
    for row in element.attribute_values:
        attribute = row.template_attribute
        result[attribute.name] = from_text(attribute.value_type, row.value)
    return result


def set_attributes(session: Session, element: Element, values: Mapping[str, Any]) -> Element:
    """Set attribute values; ``None`` (or blank text) removes a value (not a required one)."""
    template = element.template
    given = _attribute_texts(template, values)
    for attribute, text in given.values():
        if text is None and attribute.required:
            raise InvalidValue(
                f"attributes.{attribute.name}",
                f"is required by template {template.name!r} and cannot be removed",
            )
    rows = {row.template_attribute_id: row for row in element.attribute_values}
    changed = False
    for attribute, text in given.values():
        row = rows.get(attribute.id)
        if text is None:
            if row is not None:
                element.attribute_values.remove(row)
                changed = True
        elif row is None:
            element.attribute_values.append(
                ElementAttribute(template_attribute=attribute, value=text)
            )
            changed = True
        elif row.value != text:
            row.value = text
            changed = True
    if changed:
        element.changed_at = utcnow()
    flush(session, field="attributes", reason="an attribute value was set concurrently")
    return element


# -- name, validity, enabled --------------------------------------------------------------------


def rename(session: Session, element: Element, name: str) -> Element:
    """Rename an element; the name must be free among its siblings."""
    name = check_element_name(name)
    if name == element.name:
        return element
    _check_name_free(session, element.parent, name, element)
    element.name = name
    flush(session, reason=_duplicate_reason(name, element.parent))
    return element


def set_validity(
    session: Session,
    element: Element,
    *,
    valid_from: datetime | Unset = UNSET,
    valid_to: datetime | None | Unset = UNSET,
) -> Element:
    """Change the validity period; it must lie within the parent's and hold every child's."""
    start = element.valid_from if isinstance(valid_from, Unset) else valid_from
    end = element.valid_to if isinstance(valid_to, Unset) else valid_to
    start, end = check_period(start, end)
    _check_within_parent(start, end, element.parent)
    for child in element.children:
        if not period_within(child.valid_from, child.valid_to, start, end):
            field_name = "valid_from" if child.valid_from < start else "valid_to"
            child_period = format_period(child.valid_from, child.valid_to)
            raise InvalidValue(
                field_name,
                f"the child {child.path!r} is valid {child_period}, which would lie outside "
                f"the new period {format_period(start, end)} of {element.path!r}; change the "
                "child's period first",
            )
    element.valid_from = start
    element.valid_to = end
    flush(session, field="valid_to", reason="the period is not valid")
    return element


def disable(session: Session, element: Element) -> list[Element]:
    """Disable the element and its whole subtree; returns the elements that changed."""
    changed = [node for node in [element, *descendants(session, element)] if node.enabled]
    for node in changed:
        node.enabled = False
    flush(session, field="enabled")
    return changed


def enable(session: Session, element: Element, *, recursive: bool = False) -> list[Element]:
    """Enable the element (and with ``recursive`` its subtree); refused under a disabled parent.

    Returns the elements that changed.
    """
    parent = element.parent
    if parent is not None and not parent.enabled:
        raise InvalidValue(
            "enabled",
            f"cannot enable {element.path!r}: its parent {parent.path!r} is disabled; "
            "enable the parent first",
        )
    nodes = [element, *descendants(session, element)] if recursive else [element]
    changed = [node for node in nodes if not node.enabled]
    for node in changed:
        node.enabled = True
    flush(session, field="enabled")
    return changed


# -- moving, copying, deleting ------------------------------------------------------------------


def move(session: Session, element: Element, new_parent: Element | None) -> Element:
    """Move ``element`` (with its subtree) under ``new_parent`` (``None``: make it a root).

    Refused when ``new_parent`` is the element or one of its descendants, when the name is
    taken there, or when the element's period does not lie within the new parent's.
    """
    new_parent = _check_parent(new_parent)
    if new_parent is element:
        raise InvalidValue("parent", f"cannot move {element.path!r} under itself")
    if new_parent is not None and element in ancestors(new_parent):
        raise InvalidValue(
            "parent",
            f"cannot move {element.path!r} under its own descendant {new_parent.path!r}",
        )
    if new_parent is element.parent:
        return element
    _check_name_free(session, new_parent, element.name, element)
    _check_within_parent(element.valid_from, element.valid_to, new_parent, what="the new parent")
    element.parent = new_parent
    if new_parent is not None and not new_parent.enabled:
        for node in [element, *descendants(session, element)]:
            node.enabled = False
    flush(session, reason=_duplicate_reason(element.name, new_parent))
    return element


@dataclass
class _Snapshot:
    """What :func:`copy` copies of one element, taken before anything is created."""

    element: Element
    values: list[tuple[TemplateAttribute, str]]
    children: list[_Snapshot] = field(default_factory=list)


def _snapshot(element: Element) -> _Snapshot:
    values = [(row.template_attribute, row.value) for row in element.attribute_values]
    return _Snapshot(element, values, [_snapshot(child) for child in element.children])


def copy(
    session: Session,
    element: Element,
    new_parent: Element | None,
    *,
    name: str | None = None,
) -> Element:
    """Copy ``element`` and its subtree with attribute values under ``new_parent``.

    The copy is named ``name`` (default: the element's name) and keeps the periods, which
    must lie within the new parent's; segment assignments are not copied.
    """
    new_parent = _check_parent(new_parent)
    name = check_element_name(name if name is not None else element.name)
    _check_name_free(session, new_parent, name, None)
    _check_within_parent(element.valid_from, element.valid_to, new_parent, what="the new parent")
    snapshot = _snapshot(element)
    enabled = new_parent.enabled if new_parent is not None else True

    def build(node: _Snapshot, parent: Element | None, node_name: str) -> Element:
        original = node.element
        clone = Element(
            template=original.template,
            parent=parent,
            name=node_name,
            enabled=original.enabled and enabled,
            valid_from=original.valid_from,
            valid_to=original.valid_to,
        )
        session.add(clone)
        for attribute, text in node.values:
            clone.attribute_values.append(
                ElementAttribute(template_attribute=attribute, value=text)
            )
        for child in node.children:
            build(child, clone, child.element.name)
        return clone

    with session.no_autoflush:
        clone = build(snapshot, new_parent, name)
    flush(session, reason=_duplicate_reason(name, new_parent))
    return clone


#: References to elements that deleting an element removes itself (children are refused first).
_OWN_REFERENCES = frozenset(
    {
        ("element", "parent_id"),
        ("element_attribute", "element_id"),
        ("element_segment", "element_id"),
    }
)


def _references(session: Session, element_ids: list[int]) -> list[tuple[str, int]]:
    """Rows of other tables (metering points, ...) that refer to any of ``element_ids``."""
    found: list[tuple[str, int]] = []
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name != Element.__tablename__:
                continue
            if (table.name, key.parent.name) in _OWN_REFERENCES:
                continue
            count = 0
            for batch in chunks(element_ids):
                statement = select(func.count()).select_from(table).where(key.parent.in_(batch))
                count += session.scalar(statement) or 0
            if count:
                found.append((table.name, count))
    return found


def delete(session: Session, element: Element, *, recursive: bool = False) -> None:
    """Delete an element with its attribute values and segment assignments.

    An element with children is refused unless ``recursive`` (then the subtree goes too).
    """
    children = element.children
    if children and not recursive:
        raise Conflict(
            "children",
            f"element {element.path!r} has {len(children)} child element(s) "
            f"({quoted_list([child.name for child in children])}); delete them first or "
            "delete recursively",
        )
    path = element.path
    parent = element.parent
    nodes = [element, *descendants(session, element)]
    references = _references(session, [node.id for node in nodes])
    if references:
        where = ", ".join(f"{count} {table} row(s)" for table, count in references)
        raise Conflict(
            "element",
            f"element {path!r} or an element below it is still referenced by {where}; "
            "remove or move them first",
        )
    for node in reversed(nodes):
        session.delete(node)
    flush(
        session,
        field="element",
        reason=f"element {path!r} (or an element below it) is still referenced",
    )
    if parent is not None:
        session.expire(parent, ["children"])


# -- walking the tree ---------------------------------------------------------------------------


def ancestors(element: Element) -> list[Element]:
    """The element's ancestors from the root down to its parent."""
    result: list[Element] = []
    node = element.parent
    while node is not None:
        result.append(node)
        node = node.parent
    result.reverse()
    return result


def breadcrumb(element: Element) -> list[Element]:
    """The elements from the root down to ``element`` itself (for breadcrumbs)."""
    return [*ancestors(element), element]


def element_path(element: Element) -> str:
    """The element's path, names joined by ``/``: ``Top/North/Consumer 1``."""
    return element.path


def descendant_ids(session: Session, element_ids: set[int] | list[int]) -> set[int]:
    """The ids of all elements below the given ones (not including them), one query a level."""
    found: set[int] = set()
    level = list(element_ids)
    while level:
        next_level: list[int] = []
        for batch in chunks(level):
            statement = select(Element.id).where(Element.parent_id.in_(batch))
            next_level.extend(i for i in session.scalars(statement) if i not in found)
        found.update(next_level)
        level = next_level
    return found


def descendants(session: Session, element: Element) -> list[Element]:
    """All elements below ``element``, breadth first, siblings by name."""
    result: list[Element] = []
    level = [element.id]
    while level:
        next_level: list[Element] = []
        for batch in chunks(level):
            statement = (
                select(Element)
                .where(Element.parent_id.in_(batch))
                .order_by(Element.parent_id, Element.name)
            )
            next_level.extend(session.scalars(statement))
        result.extend(next_level)
        level = [node.id for node in next_level]
    return result


def children(session: Session, parent: Element | None) -> list[Element]:
    """The children of ``parent`` by name; the roots when ``parent`` is ``None``."""
    scope = parent.id if parent is not None else ROOT_SCOPE
    statement = select(Element).where(Element.sibling_scope == scope).order_by(Element.name)
    return list(session.scalars(statement))


def find_element(session: Session, path: str) -> Element:
    """The element at ``path`` (``Top/North/Consumer 1``); :class:`NotFound` when absent."""
    if not isinstance(path, str) or not path.strip(PATH_SEPARATOR + " "):
        raise InvalidValue("path", f"expected a path like 'Top/North', got {path!r}")
    node: Element | None = None
    for part in path.strip(PATH_SEPARATOR).split(PATH_SEPARATOR):
        scope = node.id if node is not None else ROOT_SCOPE
        statement = select(Element).where(Element.sibling_scope == scope, Element.name == part)
        found = session.scalar(statement)
        if found is None:
            raise NotFound(f"no element named {part!r} {_place(node)} (looking for {path!r})")
        node = found
    assert node is not None
    return node
