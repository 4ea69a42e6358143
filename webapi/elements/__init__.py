"""The business tree's elements as a REST resource."""
