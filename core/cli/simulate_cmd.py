"""``meterhub simulate``: serve a fleet of simulated meters on loopback sockets or ptys.

The simulators come from plugins through the ``register_simulators`` hook (the core never
imports a plugin by name): ``--protocol`` picks one by name (``dlms``, ``modbus``,
``iec62056-21``). The command prints one line per meter (serial, driver, medium, address,
settings) or, with ``--json``, one JSON list of those objects, then serves until Ctrl-C or
SIGTERM (or ``--duration`` seconds). Faults are switched on with ``--fault name=value``
(the fields of :class:`meterhub.extensions.simulator.Faults`), protocol options with
``--option key=value``.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from meterhub.cli.output import echo_table

if TYPE_CHECKING:
    from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint

__all__ = ["endpoint_row", "parse_faults", "parse_options", "simulate_command"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_FAULT = "--fault"


def build_host() -> Any:
    """The plugin host, built like ``meterhub plugins`` builds it (patched in tests)."""
    from meterhub.cli.plugins_cmd import build_host as build

    return build()


def _fault_value(name: str, kind: str, text: str) -> object:
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise click.BadParameter(
            f"{name} must be true or false, got {text!r}", param_hint="--fault"
        )
    try:
        return float(text) if kind == "float" else int(text)
    except ValueError:
        what = "a number" if kind == "float" else "a whole number"
        raise click.BadParameter(
            f"{name} must be {what}, got {text!r}", param_hint="--fault"
        ) from None


def parse_faults(items: Sequence[str]) -> Faults:
    """``["latency=0.2", "wrong_password=true"]`` → :class:`Faults`; clear errors otherwise."""
    from meterhub.extensions.simulator import Faults

    kinds = {}
    for field in dataclasses.fields(Faults):
        text = str(field.type)
        kinds[field.name] = "bool" if "bool" in text else "float" if "float" in text else "int"
    values: dict[str, object] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            name, text = name, "true"
        if name not in kinds:
            known = ", ".join(kinds)
            raise click.BadParameter(
                f"unknown fault {name!r}; known: {known}", param_hint="--fault"
            )
        values[name] = _fault_value(name, kinds[name], text.strip())
    return Faults(**values)  # type: ignore[arg-type]


def parse_options(items: Sequence[str]) -> dict[str, str]:
    """``["framing=hdlc"]`` → ``{"framing": "hdlc"}``."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--option")
        options[key.strip()] = value.strip()
    return options


def endpoint_row(endpoint: SimulatedEndpoint) -> tuple[str, str, str, str, str]:
    """``("SIM-0001", "modbus", "tcp", "127.0.0.1:5020", "map=sdm630 unit=1")``."""
    settings = " ".join(f"{key}={value}" for key, value in sorted(endpoint.settings.items()))
    return (endpoint.serial, endpoint.driver, endpoint.medium, endpoint.address, settings)


def _endpoint_dict(endpoint: SimulatedEndpoint) -> dict[str, object]:
    return {
        "serial": endpoint.serial,
        "driver": endpoint.driver,
        "medium": endpoint.medium,
        "address": endpoint.address,
        "settings": dict(endpoint.settings),
    }


def _serve(fleet: RunningFleet, duration: float | None) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        stop.wait(duration)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@click.command("simulate")
@click.option("--protocol", required=True, help="The simulator: dlms, modbus, iec62056-21, ...")
@click.option("--meters", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--base-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="First port (meter n gets base+n-1); 0 picks free ports.",
)
@click.option("--fault", "faults", multiple=True, help="A fault: latency=0.2, drop_after=3, ...")
@click.option("--option", "options", multiple=True, help="A protocol option: framing=hdlc, ...")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoints as one JSON list.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
def simulate_command(
    protocol: str,
    meters: int,
    host: str,
    base_port: int,
    faults: tuple[str, ...],
    options: tuple[str, ...],
    as_json: bool,
    duration: float | None,
) -> None:
    """Serve simulated meters until Ctrl-C or SIGTERM; print how to read each one."""
    fault_set = parse_faults(faults)
    option_map = parse_options(options)
    simulators = build_host().simulators()
    if protocol not in simulators:
        names = ", ".join(sorted(simulators)) or "none (no driver plugin contributes one)"
        raise click.BadParameter(
            f"no simulator {protocol!r}; available: {names}", param_hint="--protocol"
        )
    simulator = simulators[protocol]()
    fleet = simulator.start(
        meters, host=host, base_port=base_port, faults=fault_set, options=option_map
    )
    with fleet:
        endpoints = fleet.endpoints
        if as_json:
            click.echo(json.dumps([_endpoint_dict(endpoint) for endpoint in endpoints]))
        else:
            echo_table(endpoint_row(endpoint) for endpoint in endpoints)
        sys.stdout.flush()
        until = f"for {duration:g} s" if duration is not None else "until Ctrl-C or SIGTERM"
        click.echo(f"serving {len(endpoints)} simulated {protocol} meter(s) {until}", err=True)
        _serve(fleet, duration)
    click.echo("simulated meters stopped", err=True)
