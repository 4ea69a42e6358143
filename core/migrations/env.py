"""Alembic environment: runs MeterHub's migrations online (an engine) or offline (SQL text)."""

from __future__ import annotations

from typing import Any

from alembic import context

from meterhub.db import make_engine
from meterhub.model import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Autogenerate hook: a MeterHub column type is rendered by its full module path, so the
    revision file needs that module imported (``meterhub.model.types.UTCDateTime()``)."""
    if type_ == "type" and type(obj).__module__.startswith("meterhub."):
        autogen_context.imports.add(f"import {type(obj).__module__}")
    return False


def run_offline() -> None:
    """Render the migrations as SQL for the dialect of the configured URL."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply the migrations through an engine given by the caller or built from the URL."""
    engine = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
