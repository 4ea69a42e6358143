"""MeterHub: an open head-end system and meter data management system.

The package root re-exports the pluggy markers, so a plugin writes::

    from meterhub import hookimpl
"""

import pluggy

__version__ = "0.1.0"

#: The pluggy project name shared by the hook specifications and every plugin.
PROJECT_NAME = "meterhub"

#: Marks a function in a plugin as the implementation of a MeterHub hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Marks a function in :mod:`meterhub.hookspecs` as a hook specification.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
