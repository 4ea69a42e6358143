"""Data segments as a REST resource."""
