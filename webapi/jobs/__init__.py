"""Acquisition jobs as a REST resource, and starting their runs."""
