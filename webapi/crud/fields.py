"""Fields shared by the resources' schemas."""

from __future__ import annotations

import marshmallow as ma

#: Largest value of an ``INTEGER`` column (ids are 32-bit on PostgreSQL and Oracle).
INT32_MAX = 2**31 - 1
#: A database id (positive, within a 32-bit integer).
Id = ma.validate.Range(min=1, max=INT32_MAX)


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ma.ValidationError("must not contain the NUL character (0x00)")


#: Refuses text with the NUL character, which PostgreSQL cannot store or compare.
NoNul = _no_nul


def text(max_length: int, **kwargs: object) -> ma.fields.String:
    """Text of at most ``max_length`` characters without NUL (the inventory checks the rest)."""
    return ma.fields.String(
        validate=[ma.validate.Length(max=max_length), NoNul],
        **kwargs,  # type: ignore[arg-type]
    )


def id_field(**kwargs: object) -> ma.fields.Integer:
    """An integer id of another object."""
    return ma.fields.Integer(validate=Id, **kwargs)  # type: ignore[arg-type]


def id_list(**kwargs: object) -> ma.fields.List:
    """A list of ids (at most 10,000)."""
    return ma.fields.List(
        ma.fields.Integer(validate=Id),
        validate=ma.validate.Length(max=10_000),
        **kwargs,  # type: ignore[arg-type]
    )


def json_object(**kwargs: object) -> ma.fields.Dict:
    """A JSON object with text keys."""
    return ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(max=200)), **kwargs)  # type: ignore[arg-type]
