"""Alembic migrations of the MeterHub schema."""
