"""Customer scripts as a REST resource: versions, and trying a script on sample data."""
