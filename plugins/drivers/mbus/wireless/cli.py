"""``meterhub wmbus``: commands of the wireless M-Bus plugin (``meterhub.commands`` entry point).

``meterhub wmbus import-keys FILE`` reads a manufacturer's CSV or XML key file and stores every
key in the encrypted credential store of the ``wmbus`` meter with that identification number,
all in one transaction; it prints how many were stored and lists the meters not in the
inventory.

``meterhub wmbus receive SOURCE`` stores what a receiver hears
(:class:`meterhub.acquisition.telegrams.TelegramStream`): SOURCE is a gateway's TCP feed
(``host:port``), a receiver stick (``/dev/ttyUSB0``; hex lines or Amber frames), a file of hex
lines (``file:PATH``) or ``-`` (standard input). It runs until the source ends, for
``--for SECONDS``, or until Ctrl-C, and prints what it stored and refused.

``meterhub wmbus heard [--unknown-only] [--json]`` lists the meters the receivers heard
(:func:`meterhub.acquisition.heard.list_heard`): M-Bus address, manufacturer, identification,
version, medium, first and last heard, telegrams, the last telegram's status, receiver, signal
strength, and whether the meter is in the inventory; ``--unknown-only`` those it lacks.

``meterhub wmbus add-heard ADDRESS --virtual-meter ID [--from TIME]`` adds a meter heard to the
inventory, ready to be read (:func:`.heard.add_heard_meter`).
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["wmbus_group"]


@click.group("wmbus")
def wmbus_group() -> None:
    """Wireless M-Bus / OMS meters: key files, receiving telegrams, meters heard."""


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


@wmbus_group.command("receive")
@click.argument("source")
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--baudrate", type=int, default=None, help="Baud rate of a receiver stick.")
def receive_command(source: str, seconds: float | None, baudrate: int | None) -> None:
    """Store the telegrams a receiver hears from SOURCE (host:port, a serial device,
    file:PATH or - for standard input) through the acquisition engine's writer."""
    from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
    from meterhub.acquisition.telegrams import StreamLine, TelegramStream
    from meterhub.cli.state import current_state
    from meterhub.extensions.driverkit import line_kind, medium_class
    from meterhub.extensions.medium import Medium

    runtime = current_state().runtime()
    line: Medium
    if source == "-":
        line = StreamLine(sys.stdin.buffer, "stdin")
    elif source.startswith("file:"):
        path = Path(source[5:])
        if not path.is_file():
            raise click.BadParameter(f"{path} is not a file", param_hint="SOURCE")
        line = StreamLine(path.open("rb"), str(path))
    else:
        kind = line_kind(source)
        settings = {"baudrate": str(baudrate)} if baudrate and kind == "serial" else {}
        line = medium_class(kind)(source, settings, None)
        line.open(timeout=10.0)
    # only the writer: no workers, no schedule, and no lease (a running engine keeps its own)
    options = EngineOptions(workers=0, schedule=False, lease=False, only_runs=frozenset())
    engine = AcquisitionEngine(runtime, options=options).start()
    stream = TelegramStream(engine, line)
    click.echo(f"receiving telegrams from {source}; Ctrl-C stops", err=True)
    timer = threading.Timer(seconds, stream.stop) if seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        stats = stream.run()
    except KeyboardInterrupt:
        stats = stream.stats
    finally:
        if timer is not None:
            timer.cancel()
        line.close()
        engine.stop()
    click.echo(
        f"{stats.telegrams} telegrams: {stats.stored} stored ({stats.values} values), "
        f"{stats.unknown} of meters not in the inventory, {stats.refused} refused, "
        f"{stats.damaged} damaged"
    )


@wmbus_group.command("heard")
@click.option("--unknown-only", is_flag=True, help="Only meters the inventory lacks.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def heard_command(unknown_only: bool, as_json: bool) -> None:
    """List the meters heard on air, most recent first, and whether each is in the
    inventory."""
    from meterhub.acquisition.heard import list_heard
    from meterhub.cli.output import echo_table
    from meterhub.cli.state import current_state

    runtime = current_state().runtime()
    with runtime.sessions() as session:
        rows = list_heard(session, driver="wmbus", unknown_only=unknown_only)
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    if not rows:
        click.echo("no meters heard" + (" that the inventory lacks" if unknown_only else ""))
        return
    echo_table(
        (
            (
                row.address,
                row.manufacturer or "",
                row.identification,
                "" if row.version is None else str(row.version),
                row.medium or "",
                f"{row.last_heard:%Y-%m-%d %H:%M:%S}",
                str(row.telegrams),
                row.last_status,
                "yes" if row.meter_id is not None else "no",
                row.source or "",
                "" if row.rssi is None else f"{row.rssi:g}",
            )
            for row in rows
        ),
        headers=[
            "address",
            "manufacturer",
            "identification",
            "version",
            "medium",
            "last heard (UTC)",
            "telegrams",
            "last status",
            "in inventory",
            "receiver",
            "rssi",
        ],  # fmt: skip
    )


@wmbus_group.command("add-heard")
@click.argument("address")
@click.option("--virtual-meter", "virtual_meter", type=int, required=True,
              help="Id of the virtual meter the meter serves.")  # fmt: skip
@click.option("--from", "valid_from", type=click.DateTime(), default=None,
              help="Serves from this time (UTC; default: when it was first heard).")  # fmt: skip
def add_heard_command(address: str, virtual_meter: int, valid_from: datetime | None) -> None:
    """Add the meter heard at ADDRESS (its M-Bus address or identification number) to the
    inventory as a wmbus meter serving a virtual meter; its key comes with import-keys."""
    from meterhub.cli.state import current_state
    from meterhub.db import transaction
    from meterhub.plugins.drivers.mbus.wireless.heard import add_heard_meter

    runtime = current_state().runtime()
    if valid_from is not None and valid_from.tzinfo is None:
        valid_from = valid_from.replace(tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        meter = add_heard_meter(session, address, virtual_meter, valid_from=valid_from,
                                drivers=runtime.plugins.drivers())  # fmt: skip
        text = f"meter {meter.manufacturer} {meter.serial_number} added (id {meter.id})"
    click.echo(f"{text}, serving virtual meter {virtual_meter}")
