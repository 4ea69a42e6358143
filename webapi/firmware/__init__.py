"""The firmware image store as a REST resource."""
