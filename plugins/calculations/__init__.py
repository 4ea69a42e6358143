"""Calculation functions for formulas (feature ``calculation``): sum, min, max, abs, shift,
when (conditional) and the reactive energy above a tan φ limit."""
