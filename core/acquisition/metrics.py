"""Prometheus metrics of acquisition, in a registry of the runtime's own.

:class:`AcquisitionMetrics` holds a :class:`prometheus_client.CollectorRegistry` (never the
library's global default registry, so two runtimes in one process — tests — stay apart). It is
an :class:`~meterhub.acquisition.observers.AcquisitionObserver`: the engine registers it with
its writer, and each committed batch moves the counters; the gauges are read from the running
engine's dispatcher snapshot when the registry is scraped.

Metrics (all prefixed ``meterhub_acquisition_``):

========================================  =========  ===========================================
name                                      type       meaning
========================================  =========  ===========================================
``engine_running``                        gauge      1 while an engine runs on this runtime
``tasks_queued``                          gauge      tasks waiting for a line
``tasks_waiting_retry``                   gauge      tasks waiting out a retry's back-off
``tasks_running``                         gauge      tasks in sessions
``sessions_running``                      gauge      sessions (each holds a line)
``line_pool_in_use{pool}``                gauge      lines of the pool in use
``line_pool_capacity{pool}``              gauge      lines of the pool
``tasks_succeeded_total``                 counter    tasks that succeeded
``tasks_failed_total{error_class}``       counter    tasks that failed or were cancelled
``tasks_retried_total{error_class}``      counter    failed attempts followed by a retry
``session_duration_seconds{outcome}``     histogram  sessions (connections) by outcome
``bytes_total{direction}``                counter    bytes ``sent`` and ``received``
``values_stored_total``                   counter    values stored (intervals, registers, events)
``batch_commit_seconds``                  histogram  the writer's commits
========================================  =========  ===========================================

Counters count what this process committed since it started (Prometheus handles restarts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from meterhub.acquisition.dispatch import DispatchSnapshot
from meterhub.acquisition.observers import BatchReport

__all__ = ["AcquisitionMetrics", "CONTENT_TYPE", "SESSION_BUCKETS"]

#: The content type of :meth:`AcquisitionMetrics.exposition` (Prometheus text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds (s) of the session duration histogram: a register read over TCP takes tens of
#: milliseconds, a day of profile over a modem tens of seconds, a firmware transfer minutes.
SESSION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

_PREFIX = "meterhub_acquisition_"


class _Live(Collector):
    """The gauges, read from the engine's dispatcher when scraped."""

    def __init__(self, metrics: AcquisitionMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshot = self._metrics.snapshot()
        running = GaugeMetricFamily(
            _PREFIX + "engine_running", "1 while an acquisition engine runs in this process"
        )
        running.add_metric([], 0 if snapshot is None else 1)
        yield running
        if snapshot is None:
            return
        for name, text, value in (
            ("tasks_queued", "Tasks waiting for a line", snapshot.queued),
            ("tasks_waiting_retry", "Tasks waiting out a retry's back-off", snapshot.delayed),
            ("tasks_running", "Tasks in sessions", snapshot.running),
            ("sessions_running", "Sessions with meters (each holds a line)", snapshot.claimed),
        ):
            yield GaugeMetricFamily(_PREFIX + name, text, value=value)
        in_use = GaugeMetricFamily(
            _PREFIX + "line_pool_in_use", "Lines of the pool in use", labels=["pool"]
        )
        capacity = GaugeMetricFamily(
            _PREFIX + "line_pool_capacity", "Lines of the pool", labels=["pool"]
        )
        for pool, (used, lines) in sorted(snapshot.pools.items()):
            in_use.add_metric([pool], used)
            capacity.add_metric([pool], lines)
        yield in_use
        yield capacity


class AcquisitionMetrics:
    """The acquisition metrics of one runtime (see the module docstring).

    ``registry``: where they are registered (default: a new registry of their own).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._source: Callable[[], DispatchSnapshot] | None = None
        self._lock = threading.Lock()
        registry = self.registry
        self.tasks_succeeded = Counter(
            _PREFIX + "tasks_succeeded", "Tasks that succeeded", registry=registry
        )
        self.tasks_failed = Counter(
            _PREFIX + "tasks_failed",
            "Tasks that failed or were cancelled, by error class",
            ["error_class"],
            registry=registry,
        )
        self.tasks_retried = Counter(
            _PREFIX + "tasks_retried",
            "Failed task attempts followed by a retry, by error class",
            ["error_class"],
            registry=registry,
        )
        self.session_seconds = Histogram(
            _PREFIX + "session_duration_seconds",
            "Sessions with meters (one connection over one path), by outcome",
            ["outcome"],
            buckets=SESSION_BUCKETS,
            registry=registry,
        )
        self.bytes = Counter(
            _PREFIX + "bytes", "Bytes sent to and received from meters", ["direction"],
            registry=registry,
        )  # fmt: skip
        self.values_stored = Counter(
            _PREFIX + "values_stored",
            "Values stored (interval values, register readings, events)",
            registry=registry,
        )
        self.commit_seconds = Histogram(
            _PREFIX + "batch_commit_seconds",
            "Commits of the acquisition writer (one transaction per batch)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        for direction in ("sent", "received"):
            self.bytes.labels(direction)
        registry.register(_Live(self))

    # -- the engine ---------------------------------------------------------------------------

    def watch(self, snapshot: Callable[[], DispatchSnapshot]) -> None:
        """Read the gauges from ``snapshot`` (a running engine's) from now on."""
        with self._lock:
            self._source = snapshot

    def unwatch(self, snapshot: Callable[[], DispatchSnapshot]) -> None:
        """The engine of ``snapshot`` stopped: no gauges from it any more."""
        with self._lock:
            if self._source == snapshot:
                self._source = None

    def snapshot(self) -> DispatchSnapshot | None:
        """The watched engine's snapshot, or ``None`` when no engine runs."""
        with self._lock:
            source = self._source
        return source() if source is not None else None

    def batch_committed(self, report: BatchReport) -> None:
        """Count what a committed batch held (the writer calls it)."""
        for task in report.finished_tasks:
            if task.status == "succeeded":
                self.tasks_succeeded.inc()
            else:
                error_class = report.error_classes.get(task.task_id) or task.status
                self.tasks_failed.labels(error_class).inc()
        for task_id in report.retried_tasks:
            self.tasks_retried.labels(report.error_classes.get(task_id) or "internal").inc()
        sent = received = 0
        histogram = self.session_seconds
        for session in report.sessions:
            outcome = "succeeded" if session.outcome == "succeeded" else "failed"
            histogram.labels(outcome).observe(session.seconds)
            sent += session.bytes_sent
            received += session.bytes_received
        if sent:
            self.bytes.labels("sent").inc(sent)
        if received:
            self.bytes.labels("received").inc(received)
        if report.values_stored:
            self.values_stored.inc(report.values_stored)
        self.commit_seconds.observe(report.commit_seconds)

    # -- exposition ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
