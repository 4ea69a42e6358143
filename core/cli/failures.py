"""One line for every failure of a command: what went wrong, in words a user can act on.

Expected failures (a MeterHub error, a file that cannot be read or written, a database that
cannot be reached or used) become their message; anything else is a defect and says how to see
its traceback (``meterhub --debug``). Passwords never reach the line: database URLs are shown by
host and port, and engines hide SQL parameters.
"""

from __future__ import annotations

from meterhub.errors import MeterHubError

__all__ = ["failure_line"]


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _os_error(error: OSError) -> str:
    if error.filename is None:
        return _first_line(str(error))
    what = error.strerror or type(error).__name__
    if error.filename2 is not None:
        return f"{what}: {error.filename} -> {error.filename2}"
    return f"{what}: {error.filename}"


def failure_line(error: BaseException, *, database_url: str | None, command: str) -> str:
    """The one-line message for ``error`` raised by ``command`` (e.g. ``meterhub user add``)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, MeterHubError):
        return _first_line(str(error)) or type(error).__name__
    if isinstance(error, DBAPIError):
        from meterhub.db import explain_database_error

        return explain_database_error(error, database_url)
    if isinstance(error, OSError):
        return _os_error(error)
    detail = _first_line(str(error))
    described = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    debug_command = command.replace("meterhub", "meterhub --debug", 1)
    return f"unexpected {described} (run '{debug_command} ...' to see the traceback)"
