"""Meter data store: raw and normalized interval data, registers and events, versioned."""
