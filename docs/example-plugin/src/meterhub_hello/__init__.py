"""meterhub-hello: an example MeterHub plugin contributing the ``hello`` export destination.

The entry point ``hello`` in the group ``meterhub.exports`` names :class:`HelloPlugin`. MeterHub
instantiates that class once per application and registers it with pluggy; its methods marked
with ``@hookimpl`` are the hooks it implements. Nothing happens at import time: the destination
touches the file system only when it delivers.
"""

from __future__ import annotations

import logging
from pathlib import Path

from meterhub import hookimpl
from meterhub.extensions.events import FinishedJob
from meterhub.extensions.export import DeliveryFailed, ExportDestination, ExportMetadata

__all__ = ["HelloDestination", "HelloPlugin"]

log = logging.getLogger(__name__)


class HelloDestination(ExportDestination):
    """Writes each payload to ``<target directory>/<metadata.filename>``.

    Option ``greeting``: a line logged for each delivery (default ``Hello``).
    """

    name = "hello"
    description = "Writes each exported payload to a file in a directory"

    def deliver(self, payload: bytes, metadata: ExportMetadata) -> str:
        """Write the payload; return the file's path."""
        directory = Path(self.target)
        # Only the last part of the file name: an export never writes outside its directory.
        path = directory / Path(metadata.filename).name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
        except OSError as exc:
            raise DeliveryFailed(f"hello: cannot write {path}: {exc.strerror or exc}") from exc
        greeting = self.options.get("greeting", "Hello")
        log.info(
            "%s: delivered %s (%d bytes) to %s", greeting, metadata.export_name, len(payload), path
        )
        return str(path)


class HelloPlugin:
    """The plugin object: contributes :class:`HelloDestination` and counts finished jobs."""

    #: The license feature that enables this plugin (the default would be the same).
    feature = "export:hello"

    def __init__(self) -> None:
        self.finished_jobs: list[int] = []

    @hookimpl
    def register_exports(self) -> list[type[ExportDestination]]:
        """Contribute the ``hello`` destination."""
        return [HelloDestination]

    @hookimpl
    def job_finished(self, job: FinishedJob) -> None:
        """Remember the ids of finished jobs (a real plugin might send a notification)."""
        self.finished_jobs.append(job.job_id)
