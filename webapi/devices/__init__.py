"""Communication devices as a REST resource."""
