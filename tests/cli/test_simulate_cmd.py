"""``meterhub simulate``: finds simulators through the plugin host, prints endpoints, serves."""

from __future__ import annotations

import json
from collections.abc import Mapping

import click
import pytest
from click.testing import CliRunner

from meterhub.cli import cli, simulate_cmd
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator


class RecordingFleet(RunningFleet):
    stopped = 0

    def __init__(self, count: int, base_port: int) -> None:
        self.count, self.base_port = count, base_port

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        return [
            SimulatedEndpoint(
                f"FAKE-{n:04d}", "fake", "tcp", f"127.0.0.1:{self.base_port + n}", {"unit": "1"}
            )
            for n in range(self.count)
        ]

    def stop(self) -> None:
        RecordingFleet.stopped += 1


class FakeSimulator(Simulator):
    name = "fake"
    started: list[tuple[int, Faults | None, Mapping[str, str] | None]] = []

    def start(self, count, *, host="127.0.0.1", base_port=0, faults=None, options=None):  # type: ignore[no-untyped-def]
        FakeSimulator.started.append((count, faults, options))
        return RecordingFleet(count, base_port)


class FakeHost:
    def simulators(self) -> dict[str, type[Simulator]]:
        return {"fake": FakeSimulator}


@pytest.fixture(autouse=True)
def fake_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulate_cmd, "build_host", FakeHost)
    FakeSimulator.started.clear()
    RecordingFleet.stopped = 0


def test_prints_one_line_per_meter_and_stops() -> None:
    result = CliRunner().invoke(
        cli,
        ["simulate", "--protocol", "fake", "--meters", "2", "--base-port", "5000",
         "--fault", "latency=0.2", "--fault", "wrong_password", "--option", "framing=hdlc",
         "--duration", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("FAKE")]
    assert lines == [
        "FAKE-0000  fake  tcp  127.0.0.1:5000  unit=1",
        "FAKE-0001  fake  tcp  127.0.0.1:5001  unit=1",
    ]
    count, faults, options = FakeSimulator.started[0]
    assert count == 2 and options == {"framing": "hdlc"}
    assert faults == Faults(latency=0.2, wrong_password=True)
    assert RecordingFleet.stopped == 1


def test_json_output() -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "--protocol", "fake", "--json", "--duration", "0"]
    )
    assert result.exit_code == 0, result.output
    endpoints = json.loads(result.stdout.splitlines()[0])
    assert endpoints == [
        {
            "serial": "FAKE-0000",
            "driver": "fake",
            "medium": "tcp",
            "address": "127.0.0.1:0",
            "settings": {"unit": "1"},
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "nope"], "no simulator 'nope'; available: fake"),
        (["--protocol", "fake", "--fault", "gremlins=1"], "unknown fault 'gremlins'"),
        (["--protocol", "fake", "--fault", "latency=soon"], "latency must be a number"),
        (["--protocol", "fake", "--fault", "drop_after=1.5"], "drop_after must be a whole"),
        (["--protocol", "fake", "--option", "hdlc"], "expected key=value"),
    ],
)
def test_bad_arguments_are_clear(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", *args, "--duration", "0"])
    assert result.exit_code == 2
    assert message in result.output
    assert FakeSimulator.started == []


def test_parse_faults_defaults() -> None:
    assert simulate_cmd.parse_faults([]) == Faults()
    with pytest.raises(click.BadParameter):
        simulate_cmd.parse_faults(["wrong_password=perhaps"])
