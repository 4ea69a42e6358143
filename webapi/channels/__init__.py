"""Channels as a REST resource."""
