"""Templates and their typed attributes; template changes propagate to every instance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from tree_helpers import Factory, audit_rows, make_tree, refuse

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.elements import attribute_values, create_element, set_attributes
from meterhub.inventory.templates import (
    add_attribute,
    change_attribute,
    change_template,
    create_template,
    delete_template,
    from_text,
    get_template,
    remove_attribute,
    to_text,
)
from meterhub.model.elements import Element, ElementAttribute
from meterhub.model.templates import Template, TemplateAttribute

EIC = "10YCZ-CEPS-----N"
EAN = "859182400100000011"


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value_type", "value", "text"),
    [
        ("string", "Main street 1", "Main street 1"),
        ("integer", 42, "42"),
        ("integer", " -7 ", "-7"),
        ("integer", Decimal("3"), "3"),
        ("integer", 5.0, "5"),
        ("decimal", "12.50", "12.5"),
        ("decimal", Decimal("1E+2"), "100"),
        ("decimal", 0.1, "0.1"),
        ("decimal", -0.0, "0"),
        ("decimal", 3, "3"),
        ("decimal", "10000000000000000000000.000001", "10000000000000000000000.000001"),
        ("decimal", "-1.2300e3", "-1230"),
        ("boolean", True, "true"),
        ("boolean", "No", "false"),
        ("boolean", 1, "true"),
        ("date", date(2024, 2, 29), "2024-02-29"),
        ("date", "2024-02-29", "2024-02-29"),
        (
            "datetime",
            datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            "2024-01-01T00:00:00+00:00",
        ),
        ("datetime", "2024-06-01T12:00:00Z", "2024-06-01T12:00:00+00:00"),
        ("choice", "D02", "D02"),
        ("obis", "1.8.0", "1-0:1.8.0*255"),
        ("eic", " 10ycz-ceps-----n", EIC),
        ("ean", EAN, EAN),
    ],
)
def test_values_are_stored_in_canonical_text(value_type: str, value: Any, text: str) -> None:
    assert to_text(value_type, value, field="x", choices=["D01", "D02"]) == text


@pytest.mark.parametrize(
    ("value_type", "value", "reason"),
    [
        ("string", 5, "expected text"),
        ("integer", "abc", "'abc' is not a valid integer"),
        ("integer", True, "expected an integer"),
        ("integer", 1.5, "not a whole number"),
        ("integer", "1.0", "not a valid integer"),
        ("decimal", "1,5", "not a valid decimal"),
        ("decimal", "NaN", "not a valid decimal"),
        ("decimal", float("inf"), "not a finite number"),
        ("decimal", False, "expected a decimal"),
        ("decimal", "1e5000", "too large or too small"),
        ("boolean", "maybe", "not a valid boolean"),
        ("boolean", 2, "expected true or false"),
        ("date", "2023-02-29", "not a valid date"),
        ("date", datetime(2024, 1, 1, tzinfo=UTC), "expected a date without time"),
        ("datetime", "2024-01-01T00:00:00", "has no time zone"),
        ("datetime", datetime(2024, 1, 1), "has no time zone"),
        ("datetime", "yesterday", "not a valid date and time"),
        ("choice", "D03", "not one of the choices 'D01', 'D02'"),
        ("obis", "1-0:1.8.0*256", ""),
        ("eic", "10YCZ-CEPS-----X", ""),
        ("ean", "859182400100000012", ""),
    ],
)
def test_invalid_values_are_refused_naming_the_field(
    value_type: str, value: Any, reason: str
) -> None:
    with pytest.raises(InvalidValue) as info:
        to_text(value_type, value, field="attributes.x", choices=["D01", "D02"])
    assert info.value.field == "attributes.x"
    assert reason in info.value.reason


def test_blank_is_no_value() -> None:
    assert to_text("integer", None, field="x") is None
    assert to_text("string", "  ", field="x") is None


def test_text_reads_back_typed() -> None:
    assert from_text("integer", "-7") == -7
    assert from_text("decimal", "12.5") == Decimal("12.5")
    assert from_text("boolean", "false") is False
    assert from_text("date", "2024-02-29") == date(2024, 2, 29)
    assert from_text("datetime", "2024-06-01T12:00:00+00:00") == datetime(
        2024, 6, 1, 12, tzinfo=UTC
    )
    assert from_text("obis", "1-0:1.8.0*255") == "1-0:1.8.0*255"
    assert from_text("string", None) is None


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
def test_decimal_text_round_trips(value: Decimal) -> None:
    text = to_text("decimal", value, field="x")
    assert text is not None
    assert from_text("decimal", text) == value
    assert to_text("decimal", text, field="x") == text


@given(st.integers())
def test_integer_text_round_trips(value: int) -> None:
    text = to_text("integer", value, field="x")
    assert text is not None and from_text("integer", text) == value


@given(st.datetimes(timezones=st.timezones()))
def test_datetime_text_is_the_same_instant(value: datetime) -> None:
    text = to_text("datetime", value, field="x")
    # (compared in UTC: Python never finds an ambiguous local time equal to another zone's)
    assert text is not None and from_text("datetime", text) == value.astimezone(UTC)


# -- templates ----------------------------------------------------------------------------------


def test_create_template(session_factory: Factory) -> None:
    with transaction(session_factory, user="ann") as session:
        template = create_template(session, " consumer ", kind="consumer", description="A")
        assert template.name == "consumer"
    with session_factory() as session:
        assert get_template(session, "consumer").kind == "consumer"
        rows = audit_rows(session, object_type="template")
        assert {(row.attribute, row.new_value) for row in rows} == {
            ("name", "consumer"),
            ("kind", "consumer"),
            ("description", "A"),
        }
        assert {row.changed_by for row in rows} == {"ann"}
        with pytest.raises(NotFound, match="no template named 'nope'"):
            get_template(session, "nope")


def test_duplicate_template_name_is_a_conflict(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        create_template(session, "consumer")
    error = refuse(
        session_factory, Conflict, lambda s: create_template(s, "consumer"), field="name"
    )
    assert "a template named 'consumer' already exists" in str(error)


@pytest.mark.parametrize("name", ["", "   ", "a\tb", "x" * 201, 7])
def test_bad_template_names_are_refused(session_factory: Factory, name: Any) -> None:
    refuse(session_factory, InvalidValue, lambda s: create_template(s, name), field="name")


def test_change_and_delete_template(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        create_template(session, "a")
        create_template(session, "b")
    refuse(session_factory, Conflict, lambda s: change_template(s, "a", name="b"), field="name")
    with transaction(session_factory) as session:
        change_template(session, "a", name="c", kind="region", description=None)
    with transaction(session_factory) as session:
        delete_template(session, "c")
    with session_factory() as session:
        assert session.scalars(select(Template.name)).all() == ["b"]
        assert audit_rows(session, object_type="template", action="delete")


def test_template_with_instances_cannot_be_deleted(session_factory: Factory) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory, Conflict, lambda s: delete_template(s, "consumer"), field="template"
    )
    assert "has 3 element(s)" in str(error)


# -- adding attributes --------------------------------------------------------------------------


def test_add_attribute_of_every_type(session_factory: Factory) -> None:
    defaults = {
        "string": "x",
        "integer": 1,
        "decimal": "1.50",
        "boolean": False,
        "date": date(2024, 1, 1),
        "datetime": datetime(2024, 1, 1, tzinfo=UTC),
        "choice": "b",
        "obis": "1.8.0",
        "eic": EIC,
        "ean": EAN,
    }
    with transaction(session_factory) as session:
        template = create_template(session, "all")
        for value_type, default in defaults.items():
            add_attribute(
                session,
                template,
                f"a_{value_type}",
                value_type,
                default=default,
                choices=["a", "b"] if value_type == "choice" else None,
                unit="kW" if value_type == "decimal" else None,
            )
        element = create_element(session, template=template, name="E")
        values = attribute_values(element)
    assert values["a_decimal"] == Decimal("1.5")
    assert values["a_boolean"] is False
    assert values["a_obis"] == "1-0:1.8.0*255"
    assert values["a_datetime"] == datetime(2024, 1, 1, tzinfo=UTC)
    with session_factory() as session:
        stored = session.scalars(select(TemplateAttribute).order_by(TemplateAttribute.id)).all()
        assert [a.value_type for a in stored] == list(defaults)
        assert stored[6].choices == ["a", "b"]
        assert stored[2].unit == "kW"


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"name": "1st", "value_type": "string"}, "name", "not a valid attribute name"),
        ({"name": "a.b", "value_type": "string"}, "name", "not a valid attribute name"),
        ({"name": "a" * 101, "value_type": "string"}, "name", "at most 100 characters"),
        ({"name": "x", "value_type": "float"}, "value_type", "'float' is not one of"),
        ({"name": "x", "value_type": "integer", "default": "ten"}, "default", "valid integer"),
        ({"name": "x", "value_type": "choice"}, "choices", "needs a list of choices"),
        ({"name": "x", "value_type": "choice", "choices": []}, "choices", "at least one"),
        ({"name": "x", "value_type": "choice", "choices": "ab"}, "choices", "list of choices"),
        ({"name": "x", "value_type": "choice", "choices": ["a", "a"]}, "choices", "twice"),
        (
            {"name": "x", "value_type": "choice", "choices": ["a"], "default": "b"},
            "default",
            "not one of the choices",
        ),
        ({"name": "x", "value_type": "string", "choices": ["a"]}, "choices", "only a choice"),
        ({"name": "x", "value_type": "string", "required": "yes"}, "required", "true or false"),
        ({"name": "x", "value_type": "eic", "default": "nonsense"}, "default", ""),
    ],
)
def test_invalid_attribute_definitions_are_refused(
    session_factory: Factory, kwargs: dict[str, Any], field: str, reason: str
) -> None:
    with transaction(session_factory) as session:
        create_template(session, "t")
    name, value_type = kwargs.pop("name"), kwargs.pop("value_type")
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: add_attribute(s, "t", name, value_type, **kwargs),
        field=field,
    )
    assert reason in str(error)


def test_duplicate_attribute_is_a_conflict(session_factory: Factory) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        Conflict,
        lambda s: add_attribute(s, "region", "code", "string"),
        field="name",
    )
    assert "template 'region' already has an attribute 'code'" in str(error)


def test_required_attribute_without_default_needs_no_instances(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        create_template(session, "empty")
        add_attribute(session, "empty", "must", "string", required=True)
    make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: add_attribute(s, "consumer", "meter_code", "string", required=True),
        field="default",
    )
    assert "template 'consumer' has 3 element(s)" in error.reason  # type: ignore[attr-defined]
    assert "needs a default value" in str(error)


def test_new_attribute_with_default_reaches_every_instance(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        add_attribute(session, "consumer", "phases", "integer", required=True, default=3)
        add_attribute(session, "consumer", "note", "string")
    with session_factory() as session:
        for element_id in (tree.c1, tree.c2, tree.c3):
            values = attribute_values(session.get_one(Element, element_id))
            assert values["phases"] == 3
            assert "note" not in values
        rows = audit_rows(session, attribute="attributes.phases")
        assert sorted(int(row.object_id) for row in rows) == [tree.c1, tree.c2, tree.c3]
        assert {(row.action, row.old_value, row.new_value, row.changed_by) for row in rows} == {
            ("change", None, "3", "ann")
        }
        # a new instance gets the default too
    with transaction(session_factory) as session:
        parent = session.get_one(Element, tree.north)
        element = create_element(session, template="consumer", name="C9", parent=parent)
        assert attribute_values(element)["phases"] == 3


# -- changing attributes ------------------------------------------------------------------------


def test_rename_attribute_keeps_the_values(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        change_attribute(session, "consumer", "power", new_name="max_power", unit="MW")
    with session_factory() as session:
        values = attribute_values(session.get_one(Element, tree.c2))
        assert values["max_power"] == Decimal("12.5")
        assert "power" not in values
        rows = audit_rows(session, object_type="template_attribute", action="change")
        assert {(r.attribute, r.old_value, r.new_value) for r in rows} == {
            ("name", "power", "max_power"),
            ("unit", "kW", "MW"),
        }


def test_rename_attribute_to_a_taken_name_is_a_conflict(session_factory: Factory) -> None:
    make_tree(session_factory)
    refuse(
        session_factory,
        Conflict,
        lambda s: change_attribute(s, "consumer", "power", new_name="tariff"),
        field="new_name",
    )
    refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "power", new_name="max power"),
        field="new_name",
    )
    refuse(session_factory, NotFound, lambda s: change_attribute(s, "consumer", "nope"))


def test_type_change_converts_every_instance_value(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        change_attribute(session, "region", "code", value_type="decimal")
        change_attribute(session, "region", "code", value_type="string")
    with session_factory() as session:
        assert attribute_values(session.get_one(Element, tree.north))["code"] == "1"
    with transaction(session_factory) as session:
        change_attribute(session, "region", "code", value_type="integer")
        change_attribute(session, "consumer", "tariff", value_type="string")
    with session_factory() as session:
        assert attribute_values(session.get_one(Element, tree.south))["code"] == 2
        attribute = get_template(session, "consumer").attribute("tariff")
        assert attribute is not None and attribute.choices is None


def test_type_change_that_does_not_fit_names_element_and_value(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        change_attribute(session, "consumer", "power", value_type="string")
        element = session.get_one(Element, tree.c2)
        set_attributes(session, element, {"power": "about 12"})
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "power", value_type="decimal"),
        field="attributes.power",
    )
    assert "element 'Top/North/C2' has the value 'about 12'" in str(error)
    assert "not a valid decimal number" in str(error)


def test_narrowing_choices_re_validates_instances(session_factory: Factory) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "tariff", choices=["D01"]),
        field="attributes.tariff",
    )
    assert "'Top/North/C2' has the value 'D02'" in str(error)
    with transaction(session_factory) as session:
        change_attribute(session, "consumer", "tariff", choices=["D01", "D02", "D03"])


def test_default_that_no_longer_fits_is_refused(session_factory: Factory) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "tariff", choices=["D02"]),
        field="default",
    )
    assert "the current default 'D01' does not fit" in str(error)
    refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "tariff", default="D09"),
        field="default",
    )


def test_making_an_attribute_required(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: change_attribute(s, "consumer", "power", required=True),
        field="required",
    )
    assert "2 element(s) of template 'consumer' have no value for 'power'" in str(error)
    assert "'Top/North/C1'" in str(error)
    with transaction(session_factory) as session:
        change_attribute(session, "consumer", "power", required=True, default=1)
    with session_factory() as session:
        powers = {
            element_id: attribute_values(session.get_one(Element, element_id))["power"]
            for element_id in (tree.c1, tree.c2, tree.c3)
        }
    assert powers == {tree.c1: 1, tree.c2: Decimal("12.5"), tree.c3: 1}


def test_remove_attribute_removes_instance_values(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        remove_attribute(session, "consumer", "tariff")
    with session_factory() as session:
        template = get_template(session, "consumer")
        assert [a.name for a in template.attributes] == ["power"]
        assert "tariff" not in attribute_values(session.get_one(Element, tree.c2))
        values = session.scalars(select(ElementAttribute.value)).all()
        assert "D01" not in values and "D02" not in values
        rows = audit_rows(session, attribute="attributes.tariff", action="change")
        assert {(int(r.object_id), r.old_value, r.new_value) for r in rows} == {
            (tree.c1, "D01", None),
            (tree.c2, "D02", None),
            (tree.c3, "D01", None),
        }
    refuse(session_factory, NotFound, lambda s: remove_attribute(s, "consumer", "tariff"))
