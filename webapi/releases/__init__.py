"""Releases of channels' periods for billing as a REST resource."""
