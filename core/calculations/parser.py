"""The formula language of calculated channels, parsed without ``eval``.

A formula is one expression over the calculation's named inputs::

    import_a + import_b - export_a            # substation balance
    abs(main - check)                         # main/check difference
    tan_phi_excess(p, q, 0.4)                 # kvarh above tan φ 0.4
    when(flow > 0, flow * (t_in - t_out) * 1.163, 0)
    day(a) - day(b)                           # daily totals (local days)
    shift(a, 4)                               # a delayed by four intervals

It is parsed by Python's own parser (``ast.parse(..., mode="eval")``) and then checked node by
node against a whitelist: numbers, input names, ``+ − × ÷``, unary minus, one comparison
(``< <= > >= == !=``, giving 1 or 0) and calls of the aggregations ``hour``, ``day``,
``month`` or of a calculation function a plugin contributes (``sum``, ``min``, ``max``,
``abs``, ``shift``, ``when``, ``tan_phi_excess``, ...). Anything else — attributes, subscripts,
lambdas, strings, names that are not inputs, unknown functions, wrong argument counts,
parameters a function refuses, series of different intervals combined — is refused with the
line, the column and the reason. The result is a small tree of :class:`Node` that
:mod:`~meterhub.calculations.evaluate` computes with numpy.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from meterhub.errors import InvalidValue
from meterhub.extensions.calculation import Calculation

__all__ = ["AGGREGATIONS", "CompiledFormula", "Functions", "Node", "compile_formula"]

#: Aggregations of the language itself, by the interval they produce.
AGGREGATIONS = ("hour", "day", "month")

#: The longest formula and the deepest nesting accepted.
MAX_FORMULA_CHARS = 5_000
MAX_DEPTH = 40

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_LEVELS = {"base": 0, "hour": 1, "day": 2, "month": 3}


class Functions(Protocol):
    """Where calculation functions come from: the plugin host."""

    def calculations(self) -> Mapping[str, type[Calculation]]:
        """Calculation functions by name."""


@dataclass(frozen=True, eq=False)
class Node:
    """One node of a compiled formula.

    ``op`` is ``const``, ``input``, ``+ - * /``, ``neg``, a comparison, ``agg`` (``name`` the
    aggregation) or ``call`` (``function`` the plugin instance, ``parameters`` parsed).
    ``level`` is the time axis of the node's result: ``base`` (the inputs' interval), ``hour``,
    ``day`` or ``month``.
    """

    op: str
    level: str
    value: float = 0.0
    name: str = ""
    children: tuple[Node, ...] = ()
    function: Calculation | None = None
    parameters: Any = None
    lookback: int = 0


@dataclass(frozen=True, eq=False)
class CompiledFormula:
    """A checked formula: its tree, the inputs it uses and the interval its result has."""

    text: str
    root: Node
    inputs: frozenset[str]
    level: str
    lookback: int = 0
    functions: tuple[str, ...] = field(default_factory=tuple)


def _refuse(node: ast.AST | None, reason: str) -> InvalidValue:
    line = getattr(node, "lineno", None)
    if line is not None:
        column = int(getattr(node, "col_offset", 0)) + 1
        return InvalidValue("formula", f"line {line}, column {column}: {reason}")
    return InvalidValue("formula", reason)


def _level(node: ast.AST, children: list[Node]) -> str:
    levels = {child.level for child in children if child.op != "const"}
    if len(levels) > 1:
        raise _refuse(
            node, f"cannot combine series of different intervals ({', '.join(sorted(levels))})"
        )
    return levels.pop() if levels else "base"


class _Compiler:
    def __init__(self, inputs: frozenset[str], functions: Mapping[str, type[Calculation]]) -> None:
        self.inputs = inputs
        self.functions = functions
        self.used: set[str] = set()
        self.called: list[str] = []

    def node(self, tree: ast.AST, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise _refuse(tree, f"the formula is nested more than {MAX_DEPTH} levels deep")
        if isinstance(tree, ast.Constant):
            if isinstance(tree.value, bool) or not isinstance(tree.value, int | float):
                raise _refuse(tree, f"only numbers are allowed as constants, not {tree.value!r}")
            return Node("const", "base", value=float(tree.value))
        if isinstance(tree, ast.Name):
            if tree.id not in self.inputs:
                known = ", ".join(sorted(self.inputs)) or "none"
                raise _refuse(tree, f"unknown input {tree.id!r}; the inputs are {known}")
            self.used.add(tree.id)
            return Node("input", "base", name=tree.id)
        if isinstance(tree, ast.BinOp):
            op = _BINARY.get(type(tree.op))
            if op is None:
                raise _refuse(
                    tree, f"the operator {type(tree.op).__name__} is not allowed; use + - * /"
                )
            children = [self.node(tree.left, depth + 1), self.node(tree.right, depth + 1)]
            return Node(
                op,
                _level(tree, children),
                children=tuple(children),
                lookback=max(c.lookback for c in children),
            )
        if isinstance(tree, ast.UnaryOp):
            if isinstance(tree.op, ast.UAdd):
                return self.node(tree.operand, depth + 1)
            if not isinstance(tree.op, ast.USub):
                raise _refuse(tree, f"the operator {type(tree.op).__name__} is not allowed")
            child = self.node(tree.operand, depth + 1)
            return Node("neg", child.level, children=(child,), lookback=child.lookback)
        if isinstance(tree, ast.Compare):
            if len(tree.ops) != 1:
                raise _refuse(tree, "one comparison at a time (a < b, not a < b < c)")
            op = _COMPARE.get(type(tree.ops[0]))
            if op is None:
                raise _refuse(tree, f"the comparison {type(tree.ops[0]).__name__} is not allowed")
            children = [self.node(tree.left, depth + 1), self.node(tree.comparators[0], depth + 1)]
            return Node(
                op,
                _level(tree, children),
                children=tuple(children),
                lookback=max(c.lookback for c in children),
            )
        if isinstance(tree, ast.Call):
            return self.call(tree, depth)
        raise _refuse(tree, f"{type(tree).__name__} is not allowed in a formula")

    def call(self, tree: ast.Call, depth: int) -> Node:
        if not isinstance(tree.func, ast.Name):
            raise _refuse(tree, "call functions by name, e.g. sum(a, b)")
        name = tree.func.id
        if name in AGGREGATIONS:
            if len(tree.args) != 1 or tree.keywords:
                raise _refuse(tree, f"{name}() takes one series")
            child = self.node(tree.args[0], depth + 1)
            if _LEVELS[child.level] >= _LEVELS[name]:
                raise _refuse(tree, f"{name}() of a series that is already per {child.level}")
            self.called.append(name)
            return Node("agg", name, name=name, children=(child,), lookback=child.lookback)
        cls = self.functions.get(name)
        if cls is None:
            known = ", ".join(sorted([*AGGREGATIONS, *self.functions])) or "none"
            raise _refuse(tree, f"unknown function {name!r}; available: {known}")
        args = list(tree.args)
        fields = list(cls.parameters.model_fields)
        extra: list[ast.expr] = []
        series: list[ast.expr]
        if cls.inputs:
            if len(args) < len(cls.inputs):
                raise _refuse(
                    tree,
                    f"{name}() takes {len(cls.inputs)} series ({', '.join(cls.inputs)}) and then "
                    f"its parameters; got {len(args)}",
                )
            series, extra = args[: len(cls.inputs)], args[len(cls.inputs) :]
        else:
            series = args
            while (
                series and fields and len(extra) < len(fields) and _number(series[-1]) is not None
            ):
                extra.insert(0, series.pop())
            if not series:
                raise _refuse(tree, f"{name}() needs at least one series")
        if extra and not fields:
            raise _refuse(
                tree,
                f"{name}() takes {len(cls.inputs)} series ({', '.join(cls.inputs)}); "
                f"got {len(args)}",
            )
        if len(extra) > len(fields):
            raise _refuse(
                tree,
                f"{name}() takes at most {len(fields)} parameters ({', '.join(fields) or 'none'})",
            )
        constants = []
        for item in extra:
            number = _number(item)
            if number is None:
                raise _refuse(item, f"{name}(): parameters are numbers")
            constants.append(number)
        given: dict[str, Any] = dict(zip(fields, constants, strict=False))
        for keyword in tree.keywords:
            value = _number(keyword.value)
            if keyword.arg is None or value is None:
                raise _refuse(keyword.value, f"{name}(): keyword parameters take numbers")
            given[keyword.arg] = value
        try:
            parameters = cls.parse_parameters(given, f"{name}")
        except InvalidValue as error:
            raise _refuse(tree, f"{error.field}: {error.reason}") from None
        children = [self.node(arg, depth + 1) for arg in series]
        function = cls()
        own = function.lookback(parameters)
        self.called.append(name)
        return Node(
            "call",
            _level(tree, children),
            name=name,
            children=tuple(children),
            function=function,
            parameters=parameters,
            lookback=own + max((c.lookback for c in children), default=0),
        )


def _number(node: ast.AST) -> float | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def compile_formula(
    text: str, inputs: set[str] | frozenset[str], functions: Functions
) -> CompiledFormula:
    """Parse and check ``text`` over the input names ``inputs`` (see the module docstring);
    :class:`InvalidValue` (field ``formula``) names the line, column and reason."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidValue("formula", "give a formula")
    if len(text) > MAX_FORMULA_CHARS:
        raise InvalidValue("formula", f"is {len(text)} characters; at most {MAX_FORMULA_CHARS}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise InvalidValue(
            "formula", f"line {error.lineno}, column {error.offset}: syntax error: {error.msg}"
        ) from None
    except (RecursionError, MemoryError):
        raise InvalidValue("formula", "is nested too deeply") from None
    compiler = _Compiler(frozenset(inputs), functions.calculations())
    try:
        root = compiler.node(tree.body)
    except RecursionError:
        raise InvalidValue("formula", "is nested too deeply") from None
    if not compiler.used:
        raise InvalidValue("formula", "uses no input: a calculation needs at least one")
    return CompiledFormula(
        text=text,
        root=root,
        inputs=frozenset(compiler.used),
        level=root.level,
        lookback=root.lookback,
        functions=tuple(compiler.called),
    )
