"""Extension point base classes."""
