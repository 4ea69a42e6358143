"""System parameters as a REST resource."""
