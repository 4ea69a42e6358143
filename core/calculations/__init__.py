"""Calculated channels: formulas over channels (a safe parser, no ``eval``), their dependency
graph and the engine that stores their results like measured values.

- :func:`compile_formula` (:mod:`~.parser`) checks a formula: refused with line, column and
  reason;
- :func:`check_acyclic` and :func:`dependents_in_order` (:mod:`~.graph`) keep the graph free of
  cycles and run dependents in order;
- :class:`CalculationEngine` (:mod:`~.engine`) computes and stores, and reacts to changed
  inputs.

See ``docs/calculations.md``.
"""

from meterhub.calculations.engine import CalculationEngine, CalculationRun
from meterhub.calculations.evaluate import evaluate
from meterhub.calculations.graph import check_acyclic, dependents_in_order
from meterhub.calculations.parser import CompiledFormula, compile_formula

__all__ = [
    "CalculationEngine",
    "CalculationRun",
    "CompiledFormula",
    "check_acyclic",
    "compile_formula",
    "dependents_in_order",
    "evaluate",
]
