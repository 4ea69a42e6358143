"""Meter groups as a REST resource."""
