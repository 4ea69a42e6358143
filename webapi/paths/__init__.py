"""Communication paths as a REST resource."""
