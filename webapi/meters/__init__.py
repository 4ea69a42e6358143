"""Physical meters as a REST resource, with credentials and assignments."""
