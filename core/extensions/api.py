"""API extensions: plugins that add endpoints to the REST API and the web UI.

An :class:`ApiExtension` builds a Flask blueprint; the application factory registers one
blueprint per extension and per application, under :attr:`ApiExtension.url_prefix`.

Its endpoints sit behind the same authentication as the built-in ones: a request without a
login is answered 401 before the view runs, and ``flask.g.access`` holds the request's
:class:`meterhub.access.AccessContext`, whose ``require(object_type, action)`` and
``scope.restrict(statement, object_type)`` a view uses like the built-in resources do. A view
that needs no login is marked with :func:`public`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from flask import Blueprint

__all__ = ["PUBLIC_ATTRIBUTE", "ApiExtension", "public"]

#: The attribute a view function carries when it needs no login.
PUBLIC_ATTRIBUTE = "_meterhub_public"

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark a view function (or a ``MethodView`` method) that needs no login."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


class ApiExtension(ABC):
    """Contributes one Flask blueprint.

    The application factory creates an instance with no arguments and calls
    :meth:`blueprint` once per application. Handlers reach the running system through
    ``flask.current_app``, never through module globals.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_api_blueprints"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: A unique name, used as the blueprint's name.
    name: ClassVar[str]
    #: One line for the API documentation.
    description: ClassVar[str] = ""
    #: Where the blueprint is mounted; ``None`` means ``/api/plugins/<name>``.
    url_prefix: ClassVar[str | None] = None

    @abstractmethod
    def blueprint(self) -> Blueprint:
        """Build and return a new :class:`flask.Blueprint` (a new one on every call)."""

    @classmethod
    def mount_point(cls) -> str:
        """The URL prefix the blueprint is registered under."""
        return cls.url_prefix if cls.url_prefix is not None else f"/api/plugins/{cls.name}"
