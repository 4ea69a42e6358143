"""Placeholder replaced by the plugin-core work."""
