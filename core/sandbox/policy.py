"""What a customer script may contain, checked when it is saved: RestrictedPython's rules plus
MeterHub's own AST checks, each refusal naming the line and the reason.

RestrictedPython compiles ``import`` (it fails only at run time, for want of ``__import__``),
so imports are refused here, at save time. So are class definitions, ``global`` and
``nonlocal``, ``async`` code, a bare ``except:`` (it would swallow the limits' interrupts),
``try/except*`` and the names of Python's dangerous built-ins (``eval``, ``open``, ``type``,
``getattr``, ...), which a script never gets anyway. RestrictedPython's compiler raises instead
of reporting on some inputs (``RecursionError`` for an expression of ~250 terms,
``MemoryError`` for a 20,000-deep chain of unary minus): both become a refusal too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import CodeType

from RestrictedPython.compile import compile_restricted_exec

from meterhub.errors import InvalidValue

__all__ = ["MAX_SOURCE_CHARS", "CompiledScript", "compile_script"]

#: The longest script accepted (characters).
MAX_SOURCE_CHARS = 100_000

#: Names a script may not use, even though it would not find them at run time.
FORBIDDEN_NAMES = frozenset(
    {
        "__import__",
        "format",
        "breakpoint",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "hasattr",
        "help",
        "input",
        "locals",
        "memoryview",
        "object",
        "open",
        "quit",
        "setattr",
        "super",
        "type",
        "vars",
    }
)


@dataclass(frozen=True)
class CompiledScript:
    """A script that passed the checks: its name (for messages), source and code object."""

    name: str
    source: str
    code: CodeType

    @property
    def filename(self) -> str:
        """The file name its tracebacks carry (``<script NAME>``)."""
        return self.code.co_filename


def _refuse(line: int | None, reason: str) -> InvalidValue:
    where = f"line {line}: " if line else ""
    return InvalidValue("source", f"{where}{reason}")


class _Checker(ast.NodeVisitor):
    """MeterHub's checks on top of RestrictedPython's (see the module docstring)."""

    def visit_Import(self, node: ast.Import) -> None:
        raise _refuse(
            node.lineno,
            "import is not allowed: scripts get their data from 'data' "
            "and the functions MeterHub offers",
        )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        raise _refuse(
            node.lineno,
            "import is not allowed: scripts get their data from 'data' "
            "and the functions MeterHub offers",
        )

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        raise _refuse(node.lineno, "class definitions are not allowed in scripts")

    def visit_Global(self, node: ast.Global) -> None:
        raise _refuse(node.lineno, "'global' is not allowed in scripts")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        raise _refuse(node.lineno, "'nonlocal' is not allowed in scripts")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        raise _refuse(node.lineno, "async code is not allowed in scripts")

    def visit_TryStar(self, node: ast.AST) -> None:
        raise _refuse(getattr(node, "lineno", None), "'try/except*' is not allowed in scripts")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            raise _refuse(
                node.lineno,
                "a bare 'except:' is not allowed; name the exceptions (e.g. 'except ValueError:')",
            )
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            raise _refuse(node.lineno, f"the name {node.id!r} is not allowed in scripts")
        if node.id.startswith("_"):
            raise _refuse(node.lineno, f"names starting with '_' are not allowed ({node.id!r})")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise _refuse(
                node.lineno, f"attributes starting with '_' are not allowed ({node.attr!r})"
            )
        if node.attr in ("format", "format_map"):
            raise _refuse(
                node.lineno, f"str.{node.attr} is not allowed in scripts; use f-strings or +"
            )
        self.generic_visit(node)


def compile_script(source: str, name: str) -> CompiledScript:
    """Check and compile ``source``; :class:`InvalidValue` (field ``source``) names the line
    and the reason of the first problem."""
    if not isinstance(source, str):
        raise InvalidValue("source", f"must be text, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidValue("source", f"is {len(source)} characters; at most {MAX_SOURCE_CHARS}")
    if "\x00" in source:
        raise InvalidValue("source", "contains a NUL character")
    filename = f"<script {name}>"
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise _refuse(error.lineno, f"syntax error: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise InvalidValue("source", "is nested too deeply to compile") from None
    try:
        _Checker().visit(tree)
    except RecursionError:
        raise InvalidValue("source", "is nested too deeply to compile") from None
    try:
        result = compile_restricted_exec(source, filename=filename)
    except (RecursionError, MemoryError):
        raise InvalidValue("source", "is nested too deeply to compile") from None
    except SyntaxError as error:  # pragma: no cover - ast.parse found none
        raise _refuse(error.lineno, f"syntax error: {error.msg}") from None
    if result.errors or result.code is None:
        first = result.errors[0] if result.errors else "does not compile"
        line = None
        if first.startswith("Line "):
            head, _, rest = first.partition(":")
            line = int(head.split()[1]) if head.split()[1].isdigit() else None
            first = rest.strip()
        raise _refuse(line, first)
    return CompiledScript(name=name, source=source, code=result.code)
