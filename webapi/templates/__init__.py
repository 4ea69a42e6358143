"""Templates of elements as a REST resource, with their attributes."""
