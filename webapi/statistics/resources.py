"""``GET /api/v1/statistics``: communication statistics per hour or day, at one level.

What :func:`meterhub.acquisition.statistics.communication_statistics` returns, limited to the
user's data segments by the access layer (the ``statistic`` rule of
:data:`meterhub.access.scope.VISIBILITY`): rows of virtual meters the user sees, and of the
devices and paths of meters the user sees. The ``summary`` level counts the whole fleet, so it
needs the function ``all_segments`` (403 otherwise; such users add up their virtual meters).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.views import MethodView

from meterhub.access.context import ALL_SEGMENTS
from meterhub.acquisition.statistics import communication_statistics, object_names
from meterhub.errors import InvalidValue, PermissionDenied
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.statistics.schemas import StatisticsQuerySchema, StatisticsSchema

blp = Blueprint(
    "statistics",
    __name__,
    url_prefix="/api/v1/statistics",
    description="Communication statistics",
)

#: The period read when ``since`` is not given, per bucket.
DEFAULT_PERIOD = {"hour": timedelta(hours=24), "day": timedelta(days=7)}


@blp.route("")
class Statistics(MethodView):
    """Communication statistics."""

    @blp.arguments(StatisticsQuerySchema, location="query", unknown="raise")
    @blp.response(200, StatisticsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Read communication statistics

        Sessions with meters per hour (as stored) or day (summed in `zone`) over
        `[since, until)`: attempts, successes, failures by error class, durations, bytes sent
        and received, sessions over a backup path and failovers, for the whole fleet
        (`summary`) or per virtual meter, communication device or path (`key`: one of them).
        Rows of objects outside the user's data segments are left out; the `summary` level
        needs the function `all_segments`.
        """
        access = current_access()
        access.require("statistic", "view")
        level = str(args["level"]).replace("-", "_")
        bucket = args["bucket"]
        now = datetime.now(UTC)
        until = args.get("until") or now
        since = args.get("since") or until - DEFAULT_PERIOD.get(bucket, DEFAULT_PERIOD["hour"])
        session = request_session()
        if level == "summary" and not access.scope.unrestricted:
            # the checks of the parameters first: a bad request is a 422 for everyone
            communication_statistics(
                session, level, since=since, until=until, bucket=bucket, zone=args["zone"],
                where=access.scope.condition("statistic"),
            )  # fmt: skip
            raise PermissionDenied(
                f"the summary counts every data segment: it needs the function {ALL_SEGMENTS!r}; "
                "read level virtual-meter, device or path instead"
            )
        try:
            rows = communication_statistics(
                session,
                level,
                args.get("key"),
                since=since,
                until=until,
                bucket=bucket,
                zone=args["zone"],
                where=access.scope.condition("statistic"),
            )
        except OverflowError:
            raise InvalidValue("since", "is too far from today to be bucketed") from None
        names = object_names(session, level, {row.key for row in rows if row.key is not None})
        answer = []
        for row in rows:
            data = row.as_dict()
            data["name"] = names.get(row.key) if row.key is not None else None
            data["failed"] = row.failed
            data["mean_seconds"] = row.mean_seconds
            answer.append(data)
        return {
            "level": level,
            "bucket": bucket,
            "zone": args["zone"],
            "since": since,
            "until": until,
            "rows": answer,
        }
