"""The web layer's commands, added to ``meterhub`` through the ``meterhub.commands`` entry points.

``serve`` (the web UI and REST API), ``demo`` (a simulated fleet behind the web UI) and ``openapi``
(the REST API's description). Each module imports Flask and waitress only when its command runs.
"""

from meterhub.webapi.cli.demo import demo_command
from meterhub.webapi.cli.openapi import openapi_group
from meterhub.webapi.cli.serve import serve_command

__all__ = ["demo_command", "openapi_group", "serve_command"]
