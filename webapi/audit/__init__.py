"""The audit log as a read-only REST resource."""
