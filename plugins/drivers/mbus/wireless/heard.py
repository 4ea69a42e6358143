"""A meter heard on air added to the inventory, ready to be read (``meterhub wmbus add-heard``).

:func:`add_heard_meter` takes a sender of the list of meters heard
(:func:`meterhub.acquisition.heard.list_heard`, by its M-Bus address or identification number)
and creates the ``wmbus`` meter: manufacturer and serial number (the identification) from the
heard record, driver settings ``meter_id`` and ``manufacturer``, and lets it serve a virtual
meter from the time it was first heard (or ``valid_from``). Its key, when its telegrams are
enciphered, comes from the manufacturer's key file (``meterhub wmbus import-keys``). The next
telegrams of the meter are stored in the virtual meter's channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterhub.acquisition.heard import list_heard
from meterhub.errors import Conflict, NotFound
from meterhub.inventory.meters import assign_meter, create_meter
from meterhub.model.metering import VirtualMeter
from meterhub.model.meters import Meter

__all__ = ["add_heard_meter"]


def add_heard_meter(
    session: Session,
    address: str,
    virtual_meter_id: int,
    *,
    valid_from: datetime | None = None,
    drivers: Mapping[str, Any] | None = None,
) -> Meter:
    """Create the ``wmbus`` meter heard at ``address`` (or with that identification) and
    assign it to the virtual meter ``virtual_meter_id`` (see the module docstring)."""
    found = list_heard(session, driver="wmbus", address=address.strip())
    if not found:
        raise NotFound(f"address: no meter heard at {address!r} (see 'meterhub wmbus heard')")
    if len(found) > 1:
        listed = ", ".join(repr(row.address) for row in found)
        raise Conflict("address", f"{address!r} names several meters heard: {listed}")
    (heard,) = found
    if heard.meter_id is not None:
        raise Conflict("address", f"meter {heard.identification} is in the inventory already")
    virtual_meter = session.get(VirtualMeter, virtual_meter_id)
    if virtual_meter is None:
        raise NotFound(f"virtual_meter: no virtual meter {virtual_meter_id}")
    settings: dict[str, Any] = {"meter_id": heard.identification}
    if heard.manufacturer:
        settings["manufacturer"] = heard.manufacturer
    meter = create_meter(
        session,
        manufacturer=heard.manufacturer or "unknown",
        serial_number=heard.identification,
        driver="wmbus",
        model=f"wireless M-Bus {heard.medium} meter" if heard.medium else None,
        driver_settings=settings,
        drivers=drivers,
    )
    assign_meter(session, virtual_meter, meter, valid_from or heard.first_heard)
    return meter
