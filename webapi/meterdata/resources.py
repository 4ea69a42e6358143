"""``/api/v1/meter-data``: read, edit, recalculate and restore meter data.

Every request names its channels; channels outside the user's data segments are answered
exactly like channels that do not exist (404). Reading needs the permission to view
``meter_data``; substitutes, recalculation and restore the permission to edit it, and each is
written to the audit log with the acting user, in the same transaction as the new version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from flask import Response
from flask.views import MethodView
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.access.events import record_event
from meterhub.errors import InvalidValue, NotFound
from meterhub.timeseries import Flag, UnitOfWork, WriteReport
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.meterdata.formats import (
    CSV_TYPE,
    PARQUET_TYPE,
    as_array,
    columns_json,
    columns_table,
    interval_json,
    interval_table,
    json_response,
    table_response,
)
from meterhub.webapi.meterdata.schemas import (
    ConflictDataSchema,
    ConflictQuerySchema,
    HistoryQuerySchema,
    IntervalDataSchema,
    IntervalQuerySchema,
    RecalculateSchema,
    RegisterDataSchema,
    RegisterQuerySchema,
    RestoreSchema,
    SubstituteSchema,
    ValueChangeSchema,
    VersionQuerySchema,
    VersionSchema,
    WriteReportSchema,
)
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime

blp = Blueprint(
    "meter_data",
    __name__,
    url_prefix="/api/v1/meter-data",
    description="Meter data: intervals, registers, history, conflicts, edits",
)


def _downloads(func: Callable[..., Any]) -> Callable[..., Any]:
    """Document the CSV and Parquet answers of ``format=csv|parquet``."""
    func = blp.alt_response(200, schema={"type": "string"}, content_type=CSV_TYPE, success=True)(
        func
    )
    return blp.alt_response(
        200, schema={"type": "string", "format": "binary"}, content_type=PARQUET_TYPE, success=True
    )(func)


def _channels(access: AccessContext, action: str, ids: Sequence[int]) -> list[int]:
    access.require("meter_data", action)
    visible = access.scope.visible_channel_ids(request_session(), ids)
    for channel_id in ids:
        if channel_id not in visible:
            raise NotFound(f"there is no channel with id {channel_id}")
    return list(dict.fromkeys(ids))


def _store_call(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ValueError, TypeError) as exc:  # a store refusal that is not InvalidValue already
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue("request", str(exc)) from None


@blp.route("/intervals")
class Intervals(MethodView):
    """Interval data (load profiles)."""

    @blp.arguments(IntervalQuerySchema, location="query", unknown="raise")
    @blp.alt_response(404, response="NOT_FOUND")
    @_downloads
    @blp.response(200, IntervalDataSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Read interval data

        Channels of one interval over `[start, end)`, in the zone `tz`: `raw` as acquired or
        `normalized` (optionally `as_of` a past instant), with flags, filtered by flags
        (`flags_all`, `flags_any`, `flags_none`: excluded slots come back as null). The
        default answer is columnar JSON (one array of values and one of flags per channel);
        `format=csv` or `format=parquet` answer one row per channel and slot.
        """
        access = current_access()
        ids = _channels(access, "view", args["channels"])
        options = {
            key: args[key]
            for key in ("tz", "label", "layer", "flags_all", "flags_any", "flags_none")
        }
        if "as_of" in args:
            options["as_of"] = args["as_of"]
        data = _store_call(
            lambda: current_runtime().store.read_intervals(
                ids, args["start"], args["end"], **options
            )
        )
        if args["format"] != "json":
            return table_response(interval_table(data), args["format"], "intervals")
        return json_response(interval_json(data))


@blp.route("/registers")
class Registers(MethodView):
    """Register values (billing and daily readings)."""

    @blp.arguments(RegisterQuerySchema, location="query", unknown="raise")
    @blp.alt_response(404, response="NOT_FOUND")
    @_downloads
    @blp.response(200, RegisterDataSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Read register values

        Raw value, status and capture time with the current (or `as_of`) normalized value and
        flags, as parallel arrays.
        """
        access = current_access()
        ids = _channels(access, "view", args["channels"])
        options: dict[str, Any] = {"tz": args["tz"]}
        if "as_of" in args:
            options["as_of"] = args["as_of"]
        data = _store_call(
            lambda: current_runtime().store.read_registers(
                ids, args["start"], args["end"], **options
            )
        )
        columns = {
            "channel_id": data.channel_ids,
            "time": data.times,
            "value": data.values,
            "status": data.status,
            "normalized": data.normalized,
            "flags": data.flags,
            "capture_time": data.capture_times,
        }
        if args["format"] != "json":
            return table_response(columns_table(columns), args["format"], "registers")
        return json_response(columns_json(columns))


@blp.route("/conflicts")
class Conflicts(MethodView):
    """Re-reads that differed from the stored raw values."""

    @blp.arguments(ConflictQuerySchema, location="query", unknown="raise")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ConflictDataSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """List conflicts"""
        access = current_access()
        ids = _channels(access, "view", args["channels"])
        found = _store_call(
            lambda: current_runtime().store.conflicts(
                ids, args["start"], args["end"], tz=args["tz"]
            )
        )
        return json_response(
            columns_json(
                {
                    "channel_id": found.channel_ids,
                    "time": found.times,
                    "stored_value": found.stored_values,
                    "stored_status": found.stored_status,
                    "value": found.values,
                    "status": found.status,
                    "received_at": found.received_at,
                }
            )
        )


@blp.route("/history")
class History(MethodView):
    """The history of one value."""

    @blp.arguments(HistoryQuerySchema, location="query", unknown="raise")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ValueChangeSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Any]:
        """Value history of one slot

        Who changed the value, when, why, from what to what.
        """
        access = current_access()
        (channel,) = _channels(access, "view", [args["channel"]])
        return list(
            _store_call(
                lambda: current_runtime().store.value_history(
                    channel, args["at"], tz=args["tz"], label=args["label"]
                )
            )
        )


@blp.route("/versions")
class Versions(MethodView):
    """The versions of a channel's normalized day blocks."""

    @blp.arguments(VersionQuerySchema, location="query", unknown="raise")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, VersionSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Any]:
        """List versions"""
        access = current_access()
        (channel,) = _channels(access, "view", [args["channel"]])
        return list(
            _store_call(
                lambda: current_runtime().store.versions(
                    channel, args["start"], args["end"], tz=args["tz"]
                )
            )
        )


def _audited(
    access: AccessContext,
    ids: list[int],
    action: str,
    detail: str,
    write: Callable[[UnitOfWork], WriteReport],
) -> dict[str, Any]:
    """Run ``write`` in a unit of work with one audit row per channel in the same transaction."""
    store = current_runtime().store

    def work(uow: UnitOfWork) -> WriteReport:
        report = write(uow)
        with Session(bind=uow.connection) as session:
            for channel_id in ids:
                record_event(
                    session,
                    action=action,
                    object_type="channel",
                    object_id=channel_id,
                    user=access.username,
                    attribute="meter_data",
                    new_value=detail,
                )
        return report

    report = _store_call(lambda: store.run_unit_of_work(work))
    return {"normalized_versions": report.normalized_versions, "change_id": report.change_id}


@blp.route("/substitutes")
class Substitutes(MethodView):
    """Manual substitute values."""

    @blp.arguments(SubstituteSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WriteReportSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Write substitute values with a reason

        A new version of the normalized values; raw values stay as acquired.
        """
        access = current_access()
        ids = _channels(access, "edit", data["channels"])
        if len(data["values"]) != len(ids):
            raise InvalidValue("values", f"give one row of values per channel ({len(ids)})")
        lengths = {len(row) for row in data["values"]}
        if len(lengths) != 1:
            raise InvalidValue("values", "every channel's row must have the same length")
        values = as_array(data["values"])
        where = ~np.isnan(values)
        flags = np.where(where, int(Flag.SUBSTITUTED | Flag.MANUAL) | data["flags"], 0).astype(
            np.uint32
        )
        detail = f"{data['reason']}: substitutes from {data['start'].isoformat()}"
        return _audited(
            access,
            ids,
            "values_edited",
            detail,
            lambda uow: uow.write_normalized(
                ids,
                data["start"],
                np.where(where, values, 0.0),
                flags,
                where=where,
                tz=data["tz"],
                label=data["label"],
                user=access.username,
                reason=data["reason"],
                comment=data["comment"],
            ),
        )


@blp.route("/recalculate")
class Recalculate(MethodView):
    """Rebuild normalized values from raw."""

    @blp.arguments(RecalculateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WriteReportSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Recalculate normalized values with the current formulas"""
        access = current_access()
        ids = _channels(access, "edit", data["channels"])
        detail = f"{data['reason']}: {data['start'].isoformat()} to {data['end'].isoformat()}"
        return _audited(
            access,
            ids,
            "recalculated",
            detail,
            lambda uow: uow.recalculate(
                ids,
                data["start"],
                data["end"],
                tz=data["tz"],
                label=data["label"],
                keep_edits=data["keep_edits"],
                user=access.username,
                reason=data["reason"],
                comment=data["comment"],
            ),
        )


@blp.route("/restore")
class Restore(MethodView):
    """Restore an earlier state of the normalized values."""

    @blp.arguments(RestoreSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WriteReportSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Restore the normalized values as they were at an instant (as a new version)"""
        access = current_access()
        ids = _channels(access, "edit", data["channels"])
        detail = f"{data['reason']}: state of {data['as_of'].isoformat()}"
        return _audited(
            access,
            ids,
            "restored",
            detail,
            lambda uow: uow.restore(
                ids,
                data["start"],
                data["end"],
                data["as_of"],
                tz=data["tz"],
                label=data["label"],
                user=access.username,
                reason=data["reason"],
                comment=data["comment"],
            ),
        )
