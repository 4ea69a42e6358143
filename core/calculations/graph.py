"""The dependency graph of calculated channels: who depends on whom, cycles refused.

A calculation's target depends on its inputs; a calculation whose inputs include another's
target runs after it. A definition that would close a cycle (its target reaching itself through
the inputs of other calculations) is refused at save time, naming the cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from meterhub.errors import InvalidValue

__all__ = ["check_acyclic", "dependents_in_order"]


def check_acyclic(
    edges: Mapping[int, Iterable[int]], names: Mapping[int, str] | None = None
) -> None:
    """Refuse a cycle in ``edges`` (target channel → its input channels)."""
    graph = {target: sorted(set(inputs)) for target, inputs in edges.items()}
    state: dict[int, int] = {}  # 1 visiting, 2 done
    path: list[int] = []

    def label(channel: int) -> str:
        name = (names or {}).get(channel)
        return f"channel {channel}" + (f" ({name})" if name else "")

    def visit(node: int) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                raise InvalidValue(
                    "inputs",
                    "the calculation would form a cycle: " + " → ".join(label(c) for c in cycle),
                )
            if state.get(nxt) is None:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)


def dependents_in_order(edges: Mapping[int, Iterable[int]], changed: Iterable[int]) -> list[int]:
    """The targets that depend (directly or not) on the ``changed`` channels, each after the
    targets it depends on."""
    users: dict[int, set[int]] = {}
    for target, inputs in edges.items():
        for channel in inputs:
            users.setdefault(channel, set()).add(target)
    reached: set[int] = set()
    todo = list(changed)
    while todo:
        channel = todo.pop()
        for target in users.get(channel, ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    ordered: list[int] = []
    done: set[int] = set()

    def place(target: int) -> None:
        if target in done:
            return
        done.add(target)
        for channel in edges.get(target, ()):
            if channel in reached:
                place(channel)
        ordered.append(target)

    for target in sorted(reached):
        place(target)
    return ordered
