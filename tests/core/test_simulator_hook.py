"""The ``register_simulators`` hook and :meth:`PluginHost.simulators`."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping

from meterhub import hookimpl
from meterhub.config import Settings
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.licensing import development_license
from meterhub.pluginhost import KINDS, PluginHost, build_plugin_host


class EchoFleet(RunningFleet):
    """Loopback listeners, one per meter."""

    def __init__(self, count: int, host: str) -> None:
        self.sockets = []
        for _ in range(count):
            listener = socket.create_server((host, 0))
            self.sockets.append(listener)

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        return [
            SimulatedEndpoint(
                f"ECHO-{number:04d}", "echo", "tcp", "{}:{}".format(*listener.getsockname()[:2])
            )
            for number, listener in enumerate(self.sockets, start=1)
        ]

    def stop(self) -> None:
        for listener in self.sockets:
            listener.close()


class EchoSimulator(Simulator):
    name = "echo"
    description = "Listeners that accept and say nothing"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> RunningFleet:
        return EchoFleet(count, host)


class SimulatorPlugin:
    @hookimpl
    def register_simulators(self) -> list[type[Simulator]]:
        return [EchoSimulator]


def _host(make_settings: Callable[..., Settings], *plugins: object) -> PluginHost:
    settings = make_settings(plugins_disable_autoload=True)
    return build_plugin_host(development_license(), settings, extra_plugins=plugins)


def test_hook_register_simulators(make_settings: Callable[..., Settings]) -> None:
    simulators = _host(make_settings, SimulatorPlugin).simulators()
    assert simulators == {"echo": EchoSimulator}
    with simulators["echo"]().start(2) as fleet:
        endpoints = fleet.endpoints
        assert [endpoint.serial for endpoint in endpoints] == ["ECHO-0001", "ECHO-0002"]
        host, port = endpoints[0].address.split(":")
        with socket.create_connection((host, int(port)), timeout=2):
            pass


def test_simulators_have_no_entry_point_group() -> None:
    assert KINDS["simulator"].group is None
    assert KINDS["simulator"].base is Simulator


def test_a_broken_simulator_contribution_is_left_out(
    make_settings: Callable[..., Settings],
) -> None:
    class NotASimulator:
        name = "bad"

    class BadPlugin:
        @hookimpl
        def register_simulators(self) -> list[type]:
            return [NotASimulator]

    assert _host(make_settings, BadPlugin).simulators() == {}
