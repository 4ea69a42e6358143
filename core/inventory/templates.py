"""Operations on templates and their attributes; every change reaches all instances.

* :func:`add_attribute` with a default gives every existing instance that value; a *required*
  attribute without a default cannot be added while the template has instances.
* :func:`change_attribute` renames, changes the type, choices, default, unit or description;
  a new type or new choices re-validate every instance value first (the error names the element
  and its value) and convert the values to the new type's canonical text. Making an attribute
  required fills missing instance values with the default, or refuses without one. A new
  default applies to elements created later; existing values stay.
* :func:`remove_attribute` removes the values of all instances too.

Attribute values are stored as text in one canonical form per type (:func:`to_text`) and read
back typed with :func:`from_text`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_name,
    flush,
    optional_text,
    quoted_list,
)
from meterhub.model.elements import Element, ElementAttribute
from meterhub.model.templates import (
    NAME_LENGTH,
    VALUE_LENGTH,
    VALUE_TYPES,
    Template,
    TemplateAttribute,
)

#: An attribute name: a letter or ``_``, then letters, digits, ``_`` (usable in scripts, paths).
ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Longest attribute name.
MAX_ATTRIBUTE_NAME_LENGTH = 100

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


# -- values -------------------------------------------------------------------------------------


def to_text(
    value_type: str,
    value: Any,
    *,
    field: str,
    choices: Sequence[str] | None = None,
) -> str | None:
    """Validate ``value`` as ``value_type`` and return its canonical text (``None``: no value).

    Accepted input: the Python type (``int``, ``Decimal``, ``bool``, ``date``, aware
    ``datetime``) or text in the canonical or a common form. ``None`` and blank text are no
    value. Raises :class:`InvalidValue` for ``field`` saying what is wrong.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    converter = _CONVERTERS.get(value_type)
    if converter is None:
        raise InvalidValue(field, f"unknown value type {value_type!r}")
    text = converter(value, field, choices)
    if len(text) > VALUE_LENGTH:
        raise InvalidValue(field, f"must have at most {VALUE_LENGTH} characters, has {len(text)}")
    return text


def from_text(value_type: str, text: str | None) -> Any:
    """The typed value of canonical ``text`` (as :func:`to_text` wrote it).

    ``integer`` → ``int``, ``decimal`` → ``Decimal``, ``boolean`` → ``bool``, ``date`` →
    ``date``, ``datetime`` → aware UTC ``datetime``; the others stay text.
    """
    if text is None:
        return None
    if value_type == "integer":
        return int(text)
    if value_type == "decimal":
        return Decimal(text)
    if value_type == "boolean":
        return text == "true"
    if value_type == "date":
        return date.fromisoformat(text)
    if value_type == "datetime":
        return datetime.fromisoformat(text)
    return text


def _text_input(value: Any, field: str, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, f"expected {what}, got {type(value).__name__} {value!r}")
    return value.strip()


def _string(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, f"expected text, got {type(value).__name__} {value!r}")
    return value


def _integer(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if isinstance(value, bool):
        raise InvalidValue(field, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if finite and value == int(value):
            return str(int(value))
        raise InvalidValue(field, f"{value!r} is not a whole number")
    text = _text_input(value, field, "an integer")
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidValue(field, f"{text!r} is not a valid integer")
    return str(int(text))


def _decimal(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if isinstance(value, bool):
        raise InvalidValue(field, f"expected a decimal number, got {value!r}")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = _text_input(value, field, "a decimal number")
        if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
            raise InvalidValue(field, f"{text!r} is not a valid decimal number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InvalidValue(field, f"{text!r} is not a valid decimal number") from None
    if not number.is_finite():
        raise InvalidValue(field, f"{value!r} is not a finite number")
    if number.is_zero():
        return "0"
    if abs(number.adjusted()) > VALUE_LENGTH:
        raise InvalidValue(field, f"{value!r} is too large or too small")
    # every digit kept (``normalize()`` would round to the context's 28 digits)
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _boolean(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value in (0, 1):
        return "true" if value else "false"
    text = _text_input(value, field, "true or false").lower()
    if text in _TRUE:
        return "true"
    if text in _FALSE:
        return "false"
    raise InvalidValue(field, f"{value!r} is not a valid boolean (use true or false)")


def _date(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if isinstance(value, datetime):
        raise InvalidValue(field, f"expected a date without time, got {value.isoformat()}")
    if isinstance(value, date):
        return value.isoformat()
    text = _text_input(value, field, "a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(field, f"{text!r} is not a valid date (YYYY-MM-DD)") from None


def _datetime(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text_input(value, field, "a date and time with time zone")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidValue(
                field, f"{text!r} is not a valid date and time (ISO 8601 with time zone)"
            ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(field, f"{moment.isoformat()} has no time zone; give an aware time")
    return moment.astimezone(UTC).isoformat()


def _choice(value: Any, field: str, choices: Sequence[str] | None) -> str:
    text = _text_input(value, field, "one of the choices")
    if text not in (choices or ()):
        raise InvalidValue(
            field, f"{text!r} is not one of the choices {quoted_list(choices or [])}"
        )
    return text


def _obis(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    from meterhub.identifiers import ObisCode, canonical_obis

    if isinstance(value, ObisCode):
        return str(value)
    return canonical_obis(_text_input(value, field, "an OBIS code"), field)


def _eic(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    from meterhub.identifiers import validate_eic

    return validate_eic(_text_input(value, field, "an EIC"), field)


def _ean(value: Any, field: str, _choices: Sequence[str] | None) -> str:
    from meterhub.identifiers import validate_ean18

    return validate_ean18(_text_input(value, field, "an 18-digit EAN"), field)


_CONVERTERS = {
    "string": _string,
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "choice": _choice,
    "obis": _obis,
    "eic": _eic,
    "ean": _ean,
}
assert set(_CONVERTERS) == set(VALUE_TYPES)


# -- templates ----------------------------------------------------------------------------------


def get_template(session: Session, name: str) -> Template:
    """The template named ``name``; :class:`NotFound` when there is none."""
    template = session.scalar(select(Template).where(Template.name == name))
    if template is None:
        raise NotFound(f"no template named {name!r}")
    return template


def resolve_template(session: Session, template: Template | str) -> Template:
    """``template`` itself, or the template of that name."""
    if isinstance(template, Template):
        return template
    if not isinstance(template, str):
        raise InvalidValue("template", f"expected a template or its name, got {template!r}")
    return get_template(session, template)


def _check_template_name_free(session: Session, name: str, template: Template | None) -> None:
    existing = session.scalar(select(Template).where(Template.name == name))
    if existing is not None and existing is not template:
        raise Conflict("name", f"a template named {name!r} already exists")


def create_template(
    session: Session,
    name: str,
    *,
    kind: str | None = None,
    description: str | None = None,
) -> Template:
    """Create a template with no attributes yet (add them with :func:`add_attribute`)."""
    name = check_name(name, max_length=NAME_LENGTH)
    kind = optional_text(kind, field="kind", max_length=100)
    description = optional_text(description, field="description")
    _check_template_name_free(session, name, None)
    template = Template(name=name, kind=kind, description=description)
    session.add(template)
    flush(session, reason=f"a template named {name!r} already exists")
    return template


def change_template(
    session: Session,
    template: Template | str,
    *,
    name: str | Unset = UNSET,
    kind: str | None | Unset = UNSET,
    description: str | None | Unset = UNSET,
) -> Template:
    """Rename a template or change its kind or description."""
    template = resolve_template(session, template)
    if not isinstance(name, Unset):
        name = check_name(name, max_length=NAME_LENGTH)
        _check_template_name_free(session, name, template)
    if not isinstance(kind, Unset):
        kind = optional_text(kind, field="kind", max_length=100)
    if not isinstance(description, Unset):
        description = optional_text(description, field="description")
    if not isinstance(name, Unset):
        template.name = name
    if not isinstance(kind, Unset):
        template.kind = kind
    if not isinstance(description, Unset):
        template.description = description
    flush(session, reason=f"a template named {template.name!r} already exists")
    return template


def _instance_count(session: Session, template: Template) -> int:
    statement = select(func.count()).select_from(Element).where(Element.template_id == template.id)
    return session.scalar(statement) or 0


def delete_template(session: Session, template: Template | str) -> None:
    """Delete a template and its attributes; refused while elements are instances of it."""
    template = resolve_template(session, template)
    count = _instance_count(session, template)
    if count:
        raise Conflict(
            "template",
            f"template {template.name!r} has {count} element(s); delete them first",
        )
    session.delete(template)
    flush(session, field="template", reason=f"template {template.name!r} is still in use")


# -- attributes ---------------------------------------------------------------------------------


def check_attribute_name(value: Any, *, field: str = "name") -> str:
    """Return a valid attribute name: a letter or ``_``, then letters, digits and ``_``, at most
    :data:`MAX_ATTRIBUTE_NAME_LENGTH` characters (``attributes.<name>`` fits the audit log)."""
    name = check_name(value, field=field, max_length=MAX_ATTRIBUTE_NAME_LENGTH)
    if not ATTRIBUTE_NAME.match(name):
        raise InvalidValue(
            field,
            f"{name!r} is not a valid attribute name (a letter or _, then letters, digits, _)",
        )
    return name


def _check_value_type(value_type: Any) -> str:
    if value_type not in VALUE_TYPES:
        raise InvalidValue("value_type", f"{value_type!r} is not one of {quoted_list(VALUE_TYPES)}")
    return str(value_type)


def _check_choices(value_type: str, choices: Any) -> list[str] | None:
    if value_type != "choice":
        if choices is not None:
            raise InvalidValue("choices", f"only a choice attribute has choices, not {value_type}")
        return None
    if choices is None or isinstance(choices, str) or not isinstance(choices, Sequence):
        raise InvalidValue("choices", "a choice attribute needs a list of choices")
    result: list[str] = []
    for position, choice in enumerate(choices):
        text = check_name(choice, field=f"choices[{position}]", max_length=VALUE_LENGTH)
        if text in result:
            raise InvalidValue("choices", f"{text!r} is listed twice")
        result.append(text)
    if not result:
        raise InvalidValue("choices", "a choice attribute needs at least one choice")
    return result


def _check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(field, f"expected true or false, got {value!r}")
    return value


def get_attribute(template: Template, name: str) -> TemplateAttribute:
    """The attribute ``name`` of ``template``; :class:`NotFound` when it has none."""
    attribute = template.attribute(name)
    if attribute is None:
        raise NotFound(
            f"template {template.name!r} has no attribute {name!r}; it has "
            f"{quoted_list([a.name for a in template.attributes])}"
        )
    return attribute


def _instances(session: Session, template: Template) -> list[Element]:
    statement = select(Element).where(Element.template_id == template.id).order_by(Element.id)
    return list(session.scalars(statement))


def add_attribute(
    session: Session,
    template: Template | str,
    name: str,
    value_type: str,
    *,
    required: bool = False,
    default: Any = None,
    choices: Sequence[str] | None = None,
    unit: str | None = None,
    description: str | None = None,
) -> TemplateAttribute:
    """Add an attribute to a template; with a default, every instance gets that value.

    A required attribute without a default is refused while the template has instances.
    """
    template = resolve_template(session, template)
    name = check_attribute_name(name)
    if template.attribute(name) is not None:
        raise Conflict("name", f"template {template.name!r} already has an attribute {name!r}")
    value_type = _check_value_type(value_type)
    choice_list = _check_choices(value_type, choices)
    required = _check_bool(required, "required")
    default_text = to_text(value_type, default, field="default", choices=choice_list)
    unit = optional_text(unit, field="unit", max_length=50)
    description = optional_text(description, field="description")
    instances = _instances(session, template)
    if required and default_text is None and instances:
        raise InvalidValue(
            "default",
            f"template {template.name!r} has {len(instances)} element(s), so the required "
            f"attribute {name!r} needs a default value for them",
        )
    attribute = TemplateAttribute(
        name=name,
        value_type=value_type,
        required=required,
        default_value=default_text,
        choices=choice_list,
        unit=unit,
        description=description,
    )
    template.attributes.append(attribute)
    if default_text is not None:
        for element in instances:
            element.attribute_values.append(
                ElementAttribute(template_attribute=attribute, value=default_text)
            )
    flush(session, reason=f"template {template.name!r} already has an attribute {name!r}")
    return attribute


def _values_of(session: Session, attribute: TemplateAttribute) -> list[ElementAttribute]:
    statement = (
        select(ElementAttribute)
        .where(ElementAttribute.template_attribute_id == attribute.id)
        .order_by(ElementAttribute.id)
    )
    return list(session.scalars(statement))


def change_attribute(
    session: Session,
    template: Template | str,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    value_type: str | Unset = UNSET,
    required: bool | Unset = UNSET,
    default: Any = UNSET,
    choices: Sequence[str] | None | Unset = UNSET,
    unit: str | None | Unset = UNSET,
    description: str | None | Unset = UNSET,
) -> TemplateAttribute:
    """Change an attribute of a template; every instance value is re-validated when needed.

    A new ``value_type`` or new ``choices`` convert every instance value (and the default) to
    the new type, or fail naming the first element whose value does not fit; nothing is
    changed then. ``required=True`` fills instances without a value with the default.
    Arguments left out stay as they are.
    """
    template = resolve_template(session, template)
    attribute = get_attribute(template, name)

    final_name = attribute.name
    if not isinstance(new_name, Unset):
        final_name = check_attribute_name(new_name, field="new_name")
        other = template.attribute(final_name)
        if other is not None and other is not attribute:
            raise Conflict(
                "new_name", f"template {template.name!r} already has an attribute {final_name!r}"
            )
    final_type = attribute.value_type if isinstance(value_type, Unset) else value_type
    final_type = _check_value_type(final_type)
    if isinstance(choices, Unset):
        current = attribute.choices if final_type == "choice" else None
        final_choices = _check_choices(final_type, current)
    else:
        final_choices = _check_choices(final_type, choices)
    final_required = attribute.required if isinstance(required, Unset) else required
    final_required = _check_bool(final_required, "required")
    if isinstance(default, Unset):
        try:
            final_default = to_text(
                final_type, attribute.default_value, field="default", choices=final_choices
            )
        except InvalidValue as exc:
            raise InvalidValue(
                "default",
                f"the current default {attribute.default_value!r} does not fit: {exc.reason}; "
                "give a new default",
            ) from None
    else:
        final_default = to_text(final_type, default, field="default", choices=final_choices)
    final_unit = attribute.unit if isinstance(unit, Unset) else unit
    final_unit = optional_text(final_unit, field="unit", max_length=50)
    final_description = attribute.description if isinstance(description, Unset) else description
    final_description = optional_text(final_description, field="description")

    field = f"attributes.{attribute.name}"
    values = _values_of(session, attribute)
    converted: list[tuple[ElementAttribute, str]] = []
    if final_type != attribute.value_type or final_choices != attribute.choices:
        for row in values:
            try:
                text = to_text(final_type, row.value, field=field, choices=final_choices)
            except InvalidValue as exc:
                raise InvalidValue(
                    field,
                    f"element {row.element.path!r} has the value {row.value!r}, which does not "
                    f"fit the new definition: {exc.reason}",
                ) from None
            if text is None:
                raise InvalidValue(field, f"element {row.element.path!r} would lose its value")
            converted.append((row, text))
    missing: list[Element] = []
    if final_required:
        having = {row.element_id for row in values}
        missing = [element for element in _instances(session, template) if element.id not in having]
        if missing and final_default is None:
            raise InvalidValue(
                "required",
                f"{len(missing)} element(s) of template {template.name!r} have no value for "
                f"{attribute.name!r} (first: {missing[0].path!r}); give a default value",
            )

    attribute.name = final_name
    attribute.value_type = final_type
    attribute.choices = final_choices
    attribute.required = final_required
    attribute.default_value = final_default
    attribute.unit = final_unit
    attribute.description = final_description
    for row, text in converted:
        row.value = text
    if final_default is not None:
        for element in missing:
            element.attribute_values.append(
                ElementAttribute(template_attribute=attribute, value=final_default)
            )
    flush(session, field="new_name", reason=f"template {template.name!r} has a clashing attribute")
    return attribute


def remove_attribute(session: Session, template: Template | str, name: str) -> None:
    """Remove an attribute from a template and its value from every instance."""
    template = resolve_template(session, template)
    attribute = get_attribute(template, name)
    for row in _values_of(session, attribute):
        row.element.attribute_values.remove(row)
    template.attributes.remove(attribute)
    flush(session, field="name", reason=f"attribute {name!r} is still in use")
