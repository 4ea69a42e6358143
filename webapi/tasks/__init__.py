"""Acquisition tasks as a REST resource, with their debug logs."""
