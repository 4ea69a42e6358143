"""Validation checks and estimation strategies (VEE)."""
