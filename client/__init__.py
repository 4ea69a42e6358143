"""A Python client for MeterHub's REST API, for integrators and notebooks.

>>> from meterhub.client import Client
>>> hub = Client("https://meterhub.example.com", token="mh_...")
>>> meters = list(hub.list("meters", serial_number__startswith="SN-"))   # every page
>>> data = hub.intervals([12, 13], "2026-10-01T00:00", "2026-11-01T00:00", tz="Europe/Prague")
>>> data.values.shape, data.times()[:2]                                   # numpy arrays

Objects are plain dicts; meter data comes as numpy arrays (:class:`IntervalSeries`) or, for
bulk reads, Arrow tables (``as_arrow=True``, fetched as Parquet). Paging is handled by
:meth:`Client.list`; updates send the ETag of the last read, so a change someone else made in
the meantime is refused (:class:`ApiError` with status 412) instead of overwritten. The client
needs only httpx, numpy and pyarrow; it imports nothing of the server.
"""

from meterhub.client.api import ApiError, Client
from meterhub.client.meterdata import IntervalSeries

__all__ = ["ApiError", "Client", "IntervalSeries"]
