"""``meterhub firmware add|list``: the firmware image store (version and SHA-256 per image)."""

from __future__ import annotations

from pathlib import Path

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state

__all__ = ["firmware_group"]


@click.group("firmware")
def firmware_group() -> None:
    """Firmware images for upgrade jobs."""


@firmware_group.command("add")
@click.argument("name")
@click.argument("version")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sha256", default=None, help="The vendor's hash; the file must match it.")
@click.option("--description", default=None)
@click.option("--user", default="cli", show_default=True)
def add_firmware_command(
    name: str, version: str, file: Path, sha256: str | None, description: str | None, user: str
) -> None:
    """Store FILE as firmware NAME VERSION."""
    from meterhub.db import transaction
    from meterhub.inventory.firmware import add_image

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user=user) as session:
        image = add_image(
            session, name=name, version=version, content=file.read_bytes(), sha256=sha256,
            description=description, user=user,
        )  # fmt: skip
        click.echo(f"firmware {image.name} {image.version}: {image.size_bytes} bytes, sha256 "
                   f"{image.sha256}")  # fmt: skip


@firmware_group.command("list")
def list_firmware_command() -> None:
    """The images in the store."""
    from meterhub.inventory.firmware import images

    runtime = current_state().runtime()
    with runtime.sessions() as session:
        rows = [
            [image.name, image.version, str(image.size_bytes), image.sha256, image.created_by]
            for image in images(session)
        ]
    if not rows:
        click.echo("no firmware images")
        return
    echo_table(rows, headers=["name", "version", "bytes", "sha256", "added by"])
