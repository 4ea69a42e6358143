"""Domain model."""
