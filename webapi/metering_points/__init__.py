"""Metering points as a REST resource."""
