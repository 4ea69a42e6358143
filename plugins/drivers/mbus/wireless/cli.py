"""``meterhub wmbus``: commands of the wireless M-Bus plugin (``meterhub.commands`` entry point).

``meterhub wmbus import-keys FILE`` reads a manufacturer's CSV or XML key file and stores every
key in the encrypted credential store of the ``wmbus`` meter with that identification number,
all in one transaction; it prints how many were stored and lists the meters not in the
inventory.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["wmbus_group"]


@click.group("wmbus")
def wmbus_group() -> None:
    """Wireless M-Bus / OMS meters: key files."""


@wmbus_group.command("import-keys")
@click.argument("key_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def import_keys_command(key_file: Path) -> None:
    """Store the AES keys of KEY_FILE (CSV or XML) in the encrypted credential store."""
    from meterhub.cli.state import current_state
    from meterhub.credential_keys import open_cipher
    from meterhub.db import transaction
    from meterhub.plugins.drivers.mbus.wireless.keys import import_keys, read_key_file

    entries = read_key_file(key_file.read_bytes())
    state = current_state()
    runtime = state.runtime()
    cipher = open_cipher(state.settings().effective_credential_key_file, runtime.sessions)
    with transaction(runtime.sessions) as session:
        result = import_keys(session, cipher, entries, drivers=runtime.plugins.drivers())
    click.echo(f"{len(result.imported)} key(s) stored, {len(result.unknown)} meter(s) unknown")
    for meter_id in result.unknown:
        click.echo(f"  not in the inventory: {meter_id}")
