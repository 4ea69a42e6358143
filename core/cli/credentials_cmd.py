"""``meterhub credentials``: the key that encrypts meter credentials — status and rotation."""

from __future__ import annotations

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state

__all__ = ["credentials_group"]


@click.group("credentials")
def credentials_group() -> None:
    """The credential key: where it is, how many meters use it, rotation."""


@credentials_group.command("status")
def status_command() -> None:
    """Show the key file, its key id and how many meters have encrypted credentials."""
    from meterhub.credentials import key_id, load_or_create_key, pending_key_path
    from meterhub.inventory.meters import count_encrypted_credentials

    runtime = current_state().runtime()
    path = runtime.settings.effective_credential_key_file
    with runtime.sessions() as session:
        count = count_encrypted_credentials(session)
    rows = [("Key file", str(path))]
    rows.append(("Key id", key_id(load_or_create_key(path)) if path.exists() else "(missing)"))
    rows.append(("Meters with encrypted credentials", str(count)))
    if pending_key_path(path).exists():
        rows.append(("Rotation", "interrupted: run `meterhub credentials rotate` again"))
    echo_table(rows)


@credentials_group.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every meter's credentials under a new key, in one transaction."""
    from meterhub.credential_keys import rotate_key

    runtime = current_state().runtime()
    done = rotate_key(runtime.settings.effective_credential_key_file, runtime.sessions)
    click.echo(
        f"credential key rotated: {done.meters} meter(s) re-encrypted, key id "
        f"{done.old_key_id} -> {done.new_key_id}; the old key is kept in {done.old_key_file} "
        "(keep it with the backups made before today)"
    )
