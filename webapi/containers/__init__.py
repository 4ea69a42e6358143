"""Containers of processed data as a REST resource."""
