"""Error groups as a REST resource: look at the failed meters, run them again."""
