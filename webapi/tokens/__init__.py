"""API tokens as a REST resource."""
