"""Runs of VEE validation profiles as a REST resource (read only)."""
