"""``GET /api/v1/search``: the quick search over names, identifiers, addresses and numbers.

Looks for the text in element and metering point names, EIC, EAN and metering codes, serial
numbers of meters, and names, IP addresses and phone numbers of communication devices — only
in the object types the user may view and only within the user's data segments.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import func, or_, select

from meterhub.model.devices import CommunicationDevice
from meterhub.model.elements import Element
from meterhub.model.metering import MeteringPoint, VirtualMeter
from meterhub.model.meters import Meter
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.search.schemas import SearchArguments, SearchResultSchema
from meterhub.webapi.security import current_access, request_session

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="Quick search")

#: object type -> (model, label column, searched columns)
SEARCHED: dict[str, tuple[Any, Any, tuple[Any, ...]]] = {
    "element": (Element, Element.name, (Element.name,)),
    "metering_point": (
        MeteringPoint,
        MeteringPoint.name,
        (MeteringPoint.name, MeteringPoint.eic, MeteringPoint.ean, MeteringPoint.metering_code),
    ),
    "virtual_meter": (VirtualMeter, VirtualMeter.name, (VirtualMeter.name,)),
    "meter": (Meter, Meter.serial_number, (Meter.serial_number,)),
    "communication_device": (
        CommunicationDevice,
        CommunicationDevice.name,
        (CommunicationDevice.name, CommunicationDevice.host, CommunicationDevice.phone_number),
    ),
}


@blp.route("")
class Search(MethodView):
    """The quick search."""

    @blp.arguments(SearchArguments, location="query", unknown="raise")
    @blp.response(200, SearchResultSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Quick search

        Text contained (in any case) in names, EIC, EAN, metering codes, serial numbers, IP
        addresses or phone numbers; up to `limit` hits per object type the user may view.
        """
        access = current_access()
        session = request_session()
        pattern = args["q"].strip().lower()
        hits: list[dict[str, Any]] = []
        for object_type, (model, label, columns) in SEARCHED.items():
            if not access.can(object_type, "view"):
                continue
            matches = [func.lower(column).contains(pattern, autoescape=True) for column in columns]
            statement = (
                select(model.id, label, *columns)
                .where(or_(*matches))
                .order_by(label, model.id)
                .limit(args["limit"])
            )
            statement = access.scope.restrict(statement, object_type)
            for row in session.execute(statement):
                matched = next(
                    (
                        column.key
                        for column, value in zip(columns, row[2:], strict=True)
                        if value is not None and pattern in str(value).lower()
                    ),
                    columns[0].key,
                )
                hits.append(
                    {"object_type": object_type, "id": row[0], "label": row[1], "matched": matched}
                )
        return {"hits": hits}
