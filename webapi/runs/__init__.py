"""Runs of acquisition jobs as a REST resource: follow them (progress, success), cancel them."""
