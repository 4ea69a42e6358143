"""Virtual meters as a REST resource."""
