"""Fixtures for the DLMS tests: simulated fleets over real sockets and ptys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet, DlmsSimulator


@pytest.fixture
def start_fleet() -> Iterator[Callable[..., DlmsFleet]]:
    """Start a DLMS fleet (``start_fleet(framing="hdlc", faults=Faults(...))``); stopped after."""
    fleets: list[DlmsFleet] = []

    def start(count: int = 1, *, faults: Faults | None = None, **options: Any) -> DlmsFleet:
        fleet = DlmsSimulator().start(count, faults=faults, options=options)
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.stop()


@pytest.fixture(scope="module")
def wrapper_fleet() -> Iterator[DlmsFleet]:
    """One meter on the wrapper, no authentication, shared by a module's tests."""
    fleet = DlmsSimulator().start(1)
    yield fleet
    fleet.stop()
