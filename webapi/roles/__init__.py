"""Roles as a REST resource."""
