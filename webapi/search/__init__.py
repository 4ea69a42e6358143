"""The quick search across object types."""
