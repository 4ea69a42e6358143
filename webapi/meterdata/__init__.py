"""Meter data: intervals and registers, history, conflicts, substitutes, recalculation, restore."""
