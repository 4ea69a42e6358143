"""Calculated channels as a REST resource, and running a calculation over a period."""
