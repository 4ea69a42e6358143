"""The client: authentication, objects as plain data, paging, ETags, meter data."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from meterhub.client.meterdata import IntervalSeries

#: Objects per page the client asks for when it walks a list.
PAGE_SIZE = 200


class ApiError(Exception):
    """The API refused a request: ``status`` and the problem document (``detail``,
    ``errors`` naming each wrong field)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.errors: list[dict[str, str]] = list(problem.get("errors") or [])
        detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        super().__init__(f"{status}: {detail}")


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | np.ndarray):
        return ",".join(str(int(v)) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class Client:
    """A MeterHub REST API client authenticated by a bearer token.

    ``transport`` is an httpx transport, e.g. ``httpx.WSGITransport(app=app)`` to talk to an
    application in the same process (the test suite does).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, transport=transport, timeout=timeout
        )
        self._etags: dict[tuple[str, Any], str] = {}

    @classmethod
    def login(
        cls,
        base_url: str,
        username: str,
        password: str,
        *,
        token_name: str = "meterhub.client",
        transport: httpx.BaseTransport | None = None,
    ) -> Client:
        """Log in with a password, create an API token for this client, log out again.

        The user needs the function ``api_tokens``. :meth:`close` (or leaving a ``with`` block)
        revokes the token again.
        """
        with httpx.Client(base_url=base_url.rstrip("/"), transport=transport) as browser:
            answer = browser.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            )
            _check(answer)
            csrf = answer.json()["csrf_token"]
            created = browser.post(
                "/api/v1/tokens", json={"name": token_name}, headers={"X-CSRF-Token": csrf}
            )
            _check(created)
            browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        body = created.json()
        client = cls(base_url, body["token"], transport=transport)
        client._own_token_id = body["id"]
        return client

    def close(self) -> None:
        """Revoke the token :meth:`login` made, and close the connections."""
        token_id = getattr(self, "_own_token_id", None)
        if token_id is not None:
            self.http.delete(f"/api/v1/tokens/{token_id}")
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; an error answer raises :class:`ApiError`."""
        if "params" in kwargs and kwargs["params"] is not None:
            kwargs["params"] = {k: _param(v) for k, v in kwargs["params"].items() if v is not None}
        response = self.http.request(
            method, path if path.startswith("/") else f"/api/v1/{path}", **kwargs
        )
        _check(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` (``meters/7`` or ``/api/system``) and return the JSON answer."""
        return self.request("GET", path, params=params).json()

    # -- objects -------------------------------------------------------------------------------

    def list(self, resource: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every object of ``resource`` matching ``filters`` (``name__contains="x"``,
        ``sort="-id"``, ``q="text"``), page after page."""
        page, size = 1, filters.pop("page_size", PAGE_SIZE)
        while True:
            body = self.get(resource, page=page, page_size=size, **filters)
            yield from body["items"]
            if page * body["page_size"] >= body["total"] or not body["items"]:
                return
            page += 1

    def page(
        self, resource: str, page: int = 1, page_size: int = 50, **filters: Any
    ) -> dict[str, Any]:
        """One page: ``items``, ``total``, ``page``, ``page_size``."""
        return self.get(resource, page=page, page_size=page_size, **filters)

    def fetch(self, resource: str, object_id: Any) -> dict[str, Any]:
        """One object; its ETag is kept for the next :meth:`update` or :meth:`delete`."""
        response = self.request("GET", f"{resource}/{object_id}")
        self._etags[(resource, object_id)] = response.headers.get("ETag", "")
        return response.json()

    def create(self, resource: str, **fields: Any) -> dict[str, Any]:
        """Create an object; returns it as stored."""
        response = self.request("POST", resource, json=_jsonable(fields))
        body = response.json()
        if "id" in body and response.headers.get("ETag"):
            self._etags[(resource, body["id"])] = response.headers["ETag"]
        return body

    def _etag(self, resource: str, object_id: Any) -> str:
        if (resource, object_id) not in self._etags:
            self.fetch(resource, object_id)
        return self._etags[(resource, object_id)]

    def update(self, resource: str, object_id: Any, **fields: Any) -> dict[str, Any]:
        """Change an object, sending the ETag of its last read (412 if it changed since)."""
        response = self.request(
            "PATCH",
            f"{resource}/{object_id}",
            json=_jsonable(fields),
            headers={"If-Match": self._etag(resource, object_id)},
        )
        self._etags[(resource, object_id)] = response.headers.get("ETag", "")
        return response.json()

    def delete(self, resource: str, object_id: Any) -> None:
        """Delete an object (with the ETag of its last read)."""
        self.request(
            "DELETE",
            f"{resource}/{object_id}",
            headers={"If-Match": self._etag(resource, object_id)},
        )
        self._etags.pop((resource, object_id), None)

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """The quick search: hits across object types."""
        return list(self.get("search", q=text, limit=limit)["hits"])

    def statistics(
        self,
        level: str = "summary",
        key: int | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        bucket: str = "hour",
        zone: str = "UTC",
    ) -> list[dict[str, Any]]:
        """Communication statistics: one row per bucket and object of ``level`` (``summary``,
        ``virtual-meter``, ``device``, ``path``), oldest first."""
        params = {"level": level, "key": key, "since": since, "until": until, "bucket": bucket,
                  "zone": zone}  # fmt: skip
        return list(self.get("statistics", **params)["rows"])

    # -- meter data ----------------------------------------------------------------------------

    def intervals(
        self,
        channels: Sequence[int],
        start: datetime | str,
        end: datetime | str,
        *,
        tz: str = "UTC",
        layer: str = "normalized",
        label: str = "start",
        as_of: datetime | str | None = None,
        flags_all: int = 0,
        flags_any: int = 0,
        flags_none: int = 0,
        as_arrow: bool = False,
    ) -> Any:
        """Interval data as an :class:`IntervalSeries` (numpy), or an Arrow table (one row per
        channel and slot: channel_id, time, value, flags) with ``as_arrow``."""
        params = {
            "channels": list(channels),
            "start": start,
            "end": end,
            "tz": tz,
            "layer": layer,
            "label": label,
            "as_of": as_of,
            "flags_all": flags_all,
            "flags_any": flags_any,
            "flags_none": flags_none,
            "format": "parquet" if as_arrow else "json",
        }
        response = self.request("GET", "meter-data/intervals", params=params)
        if as_arrow:
            return _parquet(response.content)
        return IntervalSeries.from_json(response.json())

    def registers(
        self,
        channels: Sequence[int],
        start: datetime | str,
        end: datetime | str,
        *,
        tz: str = "UTC",
        as_of: datetime | str | None = None,
        as_arrow: bool = False,
    ) -> Any:
        """Register values as parallel numpy arrays (a dict), or an Arrow table."""
        params = {"channels": list(channels), "start": start, "end": end, "tz": tz, "as_of": as_of}
        params["format"] = "parquet" if as_arrow else "json"
        response = self.request("GET", "meter-data/registers", params=params)
        if as_arrow:
            return _parquet(response.content)
        body = response.json()
        return {
            "channel_id": np.array(body["channel_id"], dtype=np.int64),
            "time": np.array(
                [t[:-6] if t else "NaT" for t in body["time"]], dtype="datetime64[us]"
            ),
            "value": np.array(body["value"], dtype=np.float64),
            "status": np.array(body["status"], dtype=np.uint32),
            "normalized": np.array(body["normalized"], dtype=np.float64),
            "flags": np.array(body["flags"], dtype=np.uint32),
        }

    def substitute(
        self,
        channels: Sequence[int],
        start: datetime | str,
        values: np.ndarray | Sequence[Sequence[float | None]],
        *,
        reason: str,
        comment: str | None = None,
        tz: str = "UTC",
        flags: int = 0,
    ) -> dict[str, Any]:
        """Write substitute values (``NaN``/``None`` keeps the stored value) with a reason."""
        matrix = np.asarray(values, dtype=np.float64).reshape(len(channels), -1)
        rows = [[None if np.isnan(v) else float(v) for v in row] for row in matrix]
        body = {
            "channels": list(channels),
            "start": start,
            "values": rows,
            "reason": reason,
            "comment": comment,
            "tz": tz,
            "flags": flags,
        }
        return self.request("POST", "meter-data/substitutes", json=_jsonable(body)).json()

    def recalculate(
        self, channels: Sequence[int], start: datetime | str, end: datetime | str, **options: Any
    ) -> dict[str, Any]:
        """Rebuild normalized values from raw (``reason``, ``comment``, ``keep_edits``, ``tz``)."""
        body = {"channels": list(channels), "start": start, "end": end, **options}
        return self.request("POST", "meter-data/recalculate", json=_jsonable(body)).json()

    def restore(
        self,
        channels: Sequence[int],
        start: datetime | str,
        end: datetime | str,
        as_of: datetime | str,
        **options: Any,
    ) -> dict[str, Any]:
        """Write the state at ``as_of`` as a new current version."""
        body = {"channels": list(channels), "start": start, "end": end, "as_of": as_of, **options}
        return self.request("POST", "meter-data/restore", json=_jsonable(body)).json()

    def value_history(
        self, channel: int, at: datetime | str, *, tz: str = "UTC"
    ) -> list[dict[str, Any]]:
        """Every change of one value: who, when, why, from what to what."""
        return list(self.get("meter-data/history", channel=channel, at=at, tz=tz))


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _parquet(content: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(content))
