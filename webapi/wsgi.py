"""The WSGI application for a production server started on its own (gunicorn and the like):
``gunicorn -w 2 --threads 8 'meterhub.webapi.wsgi:app'``. The settings come from the TOML file
and ``METERHUB_*`` variables, as for every ``meterhub`` command; the database must be at this
release's schema (``meterhub init``)."""

from __future__ import annotations

from meterhub.config import load_settings
from meterhub.runtime import build_runtime
from meterhub.webapi.app import create_app

app = create_app(runtime=build_runtime(load_settings(), require_schema=True))
