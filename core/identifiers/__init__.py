"""Identifiers as value types: OBIS codes, EICs and GS1 (EAN-18) numbers.

Every parser raises :class:`meterhub.errors.InvalidValue` naming the field (``"obis"``,
``"eic"``, ``"ean"`` unless the caller passes its own) and saying exactly what is wrong.
"""

from meterhub.identifiers.ean import gs1_check_digit, validate_ean18
from meterhub.identifiers.eic import eic_check_character, validate_eic
from meterhub.identifiers.obis import ObisCode, canonical_obis, parse_obis

__all__ = [
    "ObisCode",
    "canonical_obis",
    "eic_check_character",
    "gs1_check_digit",
    "parse_obis",
    "validate_eic",
    "validate_ean18",
]
