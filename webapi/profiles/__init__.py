"""VEE validation profiles as a REST resource, and running them on demand."""
