"""The guards RestrictedPython calls, and the built-ins a script gets: allow-lists throughout.

RestrictedPython rewrites ``a.b`` to ``_getattr_(a, "b")``, ``a[k]`` to ``_getitem_(a, k)``,
``for x in a`` to ``_getiter_(a)``, assignments to attributes and items through ``_write_``,
``x += y`` through ``_inplacevar_``, unpacking through ``_unpack_sequence_`` and
``_iter_unpack_sequence_``, ``print`` through ``_print_`` and calls with ``*``/``**`` through
``_apply_``; it supplies none of them (``safe_globals`` does not either). Here each one allows
only what a script needs:

- attributes: names not starting with ``_``, and only those listed for the object's type
  (:data:`ALLOWED_ATTRIBUTES`, or an API object's ``_public_``); ``str.format`` and
  ``format_map`` are never listed; every other type (functions, generators, frames, code,
  modules, exceptions) has none;
- items and iteration: only plain containers, ranges, strings and the API's series;
- writes: only into lists, dicts and sets the script made;
- built-ins: numbers, containers, a few pure functions and the common exception classes.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector

from meterhub.sandbox.api import Output, ScriptData, Series

__all__ = ["ALLOWED_ATTRIBUTES", "restricted_globals"]

_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)

#: Attributes a script may read, by type (exact type, no subclasses).
ALLOWED_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    list: frozenset(
        {
            "append",
            "clear",
            "copy",
            "count",
            "extend",
            "index",
            "insert",
            "pop",
            "remove",
            "reverse",
            "sort",
        }
    ),
    dict: frozenset(
        {
            "clear",
            "copy",
            "get",
            "items",
            "keys",
            "pop",
            "popitem",
            "setdefault",
            "update",
            "values",
        }
    ),
    set: frozenset(
        {
            "add",
            "clear",
            "copy",
            "difference",
            "discard",
            "intersection",
            "isdisjoint",
            "issubset",
            "issuperset",
            "pop",
            "remove",
            "symmetric_difference",
            "union",
            "update",
        }
    ),
    frozenset: frozenset({"difference", "intersection", "isdisjoint", "issubset", "union"}),
    tuple: frozenset({"count", "index"}),
    int: frozenset({"bit_length", "real", "imag"}),
    float: frozenset({"is_integer", "real", "imag"}),
    Series: Series._public_,
    ScriptData: ScriptData._public_,
    Output: Output._public_,
}

_ITERABLE: tuple[type, ...] = (
    list,
    tuple,
    dict,
    set,
    frozenset,
    str,
    range,
    Series,
    type({}.items()),
    type({}.keys()),
    type({}.values()),
    type(zip()),
    type(enumerate(())),
    type(reversed(())),
    type(map(abs, ())),
    type(filter(None, ())),
    type(iter(range(0))),
    type(iter([])),
    type(iter(())),
    types.GeneratorType,
)
_SUBSCRIPTABLE = (list, tuple, dict, str, range, Series)
_WRITABLE = (list, dict, set)


class SandboxViolation(Exception):
    """A script tried something the guards refuse (the message says what)."""


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` if the allow-list of ``obj``'s type has ``name``; else an error."""
    if not isinstance(name, str) or name.startswith("_"):
        raise SandboxViolation(f"attribute {name!r} is not allowed")
    allowed = ALLOWED_ATTRIBUTES.get(type(obj))
    if allowed is None or name not in allowed:
        raise SandboxViolation(f"{type(obj).__name__}.{name} is not allowed in scripts")
    return getattr(obj, name)


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]`` for plain containers, strings and series."""
    if not isinstance(obj, _SUBSCRIPTABLE) or type(obj) not in _SUBSCRIPTABLE:
        raise SandboxViolation(f"{type(obj).__name__} objects cannot be indexed in scripts")
    if isinstance(key, str) and key.startswith("_") and not isinstance(obj, dict):
        raise SandboxViolation(f"item {key!r} is not allowed")
    return obj[key]


def guarded_getiter(obj: Any) -> Any:
    """``iter(obj)`` for containers, strings, ranges, series and the built-in iterators."""
    if type(obj) not in _ITERABLE:
        raise SandboxViolation(f"{type(obj).__name__} objects cannot be iterated in scripts")
    return iter(obj)


def guarded_write(obj: Any) -> Any:
    """Allow item writes into the script's own lists, dicts and sets only."""
    if type(obj) not in _WRITABLE:
        raise SandboxViolation(f"{type(obj).__name__} objects cannot be changed by scripts")
    return obj


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """``target op= value`` for the arithmetic and bit operators."""
    function = _INPLACE.get(op)
    if function is None:
        raise SandboxViolation(f"the operator {op} is not allowed in scripts")
    return function(target, value)


def guarded_apply(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A call with ``*args``/``**kwargs``."""
    return function(*args, **kwargs)


def _sorted(iterable: Any, *, reverse: bool = False) -> list[Any]:
    return sorted(guarded_getiter(iterable), reverse=bool(reverse))


SAFE_BUILTINS: dict[str, Any] = {
    "None": None,
    "True": True,
    "False": False,
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "divmod": divmod,
    "enumerate": enumerate,
    "float": float,
    "int": int,
    "len": len,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "max": max,
    "min": min,
    "range": range,
    "reversed": reversed,
    "round": round,
    "sorted": _sorted,
    "str": str,
    "sum": sum,
    "zip": zip,
    "map": map,
    "filter": filter,
    "isinstance": isinstance,
    "repr": repr,
    "pow": pow,
    "ArithmeticError": ArithmeticError,
    "Exception": Exception,
    "IndexError": IndexError,
    "KeyError": KeyError,
    "LookupError": LookupError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "ZeroDivisionError": ZeroDivisionError,
}


def restricted_globals(extra: dict[str, Any]) -> dict[str, Any]:
    """Fresh globals for one run: the built-ins, every guard, and ``extra`` (data, result,
    vetted functions)."""
    scope: dict[str, Any] = {
        "__builtins__": dict(SAFE_BUILTINS),
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": guarded_getiter,
        "_write_": guarded_write,
        "_inplacevar_": guarded_inplacevar,
        "_apply_": guarded_apply,
        "_print_": PrintCollector,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    }
    scope.update(extra)
    return scope
