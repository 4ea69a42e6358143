"""Identifiers as value types."""
