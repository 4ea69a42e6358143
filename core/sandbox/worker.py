"""Running scripts in a worker process with hard limits enforced by the operating system.

RestrictedPython has no limits of its own. A batch of jobs (one script, one job per channel)
runs in a child process forked for it, which before running anything sets

- ``RLIMIT_AS``: its address space may grow by at most ``memory_mb`` (an allocation beyond it
  raises ``MemoryError`` at the script's line);
- a profiling timer (``ITIMER_PROF``) of ``cpu_seconds`` of CPU per job, backed by
  ``RLIMIT_CPU`` (soft, raised before each job, whole seconds): the kernel's ``SIGPROF`` or
  ``SIGXCPU`` interrupts the script at its current line;
- ``RLIMIT_FSIZE`` 0: it cannot write a byte to any file;

and the parent watches the wall clock: a job that runs longer than ``wall_seconds`` gets
``SIGUSR1`` (interrupting it at its line), then ``SIGKILL`` after a grace period if it does not
stop (a long operation in C). The limit interrupts derive from ``BaseException``, and a script
may not write a bare ``except:``, so a script cannot catch them. A job that fails — it raised,
hit a limit, or produced garbage — is reported as failed with the script's name and line; the
batch goes on with the next job (in a new child when the old one was killed).

The child is forked, so job data is not copied; it never touches the parent's database
connections (``gc.freeze`` keeps their finalizers from running) and leaves with ``os._exit``.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from meterhub.sandbox.api import Output, ScriptData, ScriptError, vetted_functions
from meterhub.sandbox.guards import SandboxViolation, restricted_globals
from meterhub.sandbox.policy import CompiledScript

__all__ = ["JobOutcome", "Limits", "run_jobs"]

#: Seconds a job gets to stop after SIGUSR1 before SIGKILL.
GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """Hard limits of one job."""

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_mb: int = 512
    max_output_chars: int = 10_000


@dataclass
class JobOutcome:
    """What one job produced, or why it failed (``error`` names the script and the line)."""

    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    line: int | None = None
    printed: str = ""
    seconds: float = 0.0


class _LimitReached(BaseException):
    """Raised inside a script by a limit's signal (not catchable by ``except Exception``)."""


class CpuLimit(_LimitReached):
    """The job used up its CPU time."""


class WallLimit(_LimitReached):
    """The job ran past its wall-clock limit."""


def _script_line(error: BaseException, filename: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def _describe(
    script: CompiledScript, error: BaseException, line: int | None, limits: Limits
) -> str:
    where = f"script {script.name!r}, line {line}" if line else f"script {script.name!r}"
    if isinstance(error, CpuLimit):
        return f"{where}: stopped: CPU time limit of {limits.cpu_seconds:g} s exceeded"
    if isinstance(error, WallLimit):
        return f"{where}: stopped: wall time limit of {limits.wall_seconds:g} s exceeded"
    if isinstance(error, MemoryError):
        return f"{where}: stopped: memory limit of {limits.memory_mb} MB exceeded"
    if isinstance(error, RecursionError):
        return f"{where}: stopped: recursion too deep"
    if isinstance(error, SandboxViolation | ScriptError):
        return f"{where}: refused: {error}"
    if isinstance(error, NameError):
        return f"{where}: {error} (only MeterHub's functions and data are available)"
    detail = str(error).splitlines()[0][:300] if str(error) else ""
    return f"{where}: {type(error).__name__}: {detail}".rstrip(": ")


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _raise(kind: type[_LimitReached]) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        raise kind()

    return handler


def _child(
    connection: Connection,
    script: CompiledScript,
    jobs: Sequence[dict[str, Any]],
    first: int,
    limits: Limits,
) -> None:
    """Run jobs ``first..`` in this (forked) process and report each through ``connection``."""
    gc.freeze()  # the parent's objects (database connections) are never finalized here
    signal.signal(signal.SIGXCPU, _raise(CpuLimit))
    signal.signal(signal.SIGPROF, _raise(CpuLimit))
    signal.signal(signal.SIGUSR1, _raise(WallLimit))
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    base = _vm_bytes()
    if base:
        room = base + limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (room, room))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    sys.setrecursionlimit(400)
    functions = vetted_functions()
    for index in range(first, len(jobs)):
        job = jobs[index]
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = used.ru_utime + used.ru_stime
        # ITIMER_PROF measures the job's CPU time exactly; RLIMIT_CPU (whole seconds) backs it up
        signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds)
        soft = math.ceil(spent + limits.cpu_seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        connection.send(("start", index))
        began = time.perf_counter()
        outcome: JobOutcome
        try:
            data = ScriptData(job)
            output = Output(data.length)
            scope = restricted_globals({"data": data, "result": output, **functions})
            exec(script.code, scope)  # noqa: S102 - RestrictedPython code with every guard
            printed = ""
            collector = scope.get("_print")
            if collector is not None and callable(collector):
                printed = str(collector())[: limits.max_output_chars]
            outcome = JobOutcome(True, output.as_result(), printed=printed)
        except BaseException as error:  # noqa: BLE001 - every failure is reported, by line
            line = _script_line(error, script.filename)
            outcome = JobOutcome(False, error=_describe(script, error, line, limits), line=line)
        signal.setitimer(signal.ITIMER_PROF, 0)
        outcome.seconds = time.perf_counter() - began
        try:
            connection.send(("done", index, outcome))
        except (MemoryError, _LimitReached):
            connection.send(
                (
                    "done",
                    index,
                    JobOutcome(False, error=f"script {script.name!r}: result too large"),
                )
            )
    connection.send(("end", len(jobs)))


def _check(outcome: JobOutcome, length: int, script: CompiledScript) -> JobOutcome:
    """Refuse a result whose arrays are not what the API builds (garbage)."""
    if not outcome.ok:
        return outcome
    result = outcome.result
    for key in ("suspect", "estimated"):
        array = result.get(key)
        if not isinstance(array, np.ndarray) or array.dtype != np.bool_ or array.shape != (length,):
            return JobOutcome(False, error=f"script {script.name!r}: malformed result {key}")
    values = result.get("values")
    if values is not None and (
        not isinstance(values, np.ndarray)
        or values.dtype != np.float64
        or values.shape != (length,)
    ):
        return JobOutcome(False, error=f"script {script.name!r}: malformed result values")
    return outcome


def run_jobs(
    script: CompiledScript, jobs: Sequence[dict[str, Any]], limits: Limits | None = None
) -> list[JobOutcome]:
    """Run ``script`` once per job (a dict of plain data: ``values``, ``flags``, ``inputs``,
    ``parameters``, ...) in a limited child process; one :class:`JobOutcome` per job, in order.

    A job that is stopped or fails does not stop the others: after a kill, a new child takes
    the remaining jobs.
    """
    limits = limits or Limits()
    context = multiprocessing.get_context("fork")
    outcomes: dict[int, JobOutcome] = {}
    next_job = 0
    while next_job < len(jobs):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(send, script, jobs, next_job, limits), daemon=True
        )
        process.start()
        send.close()
        running: int | None = None
        started = time.monotonic()
        interrupted = False
        try:
            while True:
                timeout = limits.wall_seconds if running is not None else 30.0
                if interrupted:
                    timeout = GRACE_SECONDS
                remaining = max(0.0, started + timeout - time.monotonic())
                if receive.poll(remaining):
                    try:
                        message = receive.recv()
                    except (EOFError, OSError):
                        message = ("died",)
                else:
                    message = ("timeout",)
                kind = message[0]
                if kind == "start":
                    running, started, interrupted = message[1], time.monotonic(), False
                elif kind == "done":
                    index, outcome = message[1], message[2]
                    length = _job_length(jobs[index])
                    outcomes[index] = _check(outcome, length, script)
                    running = None
                    next_job = index + 1
                    started = time.monotonic()
                elif kind == "end":
                    next_job = len(jobs)
                    break
                elif kind == "timeout" and running is not None and not interrupted:
                    interrupted = True
                    started = time.monotonic()
                    if process.pid is not None:
                        try:
                            os.kill(process.pid, signal.SIGUSR1)
                        except ProcessLookupError:
                            pass
                else:  # died, or did not stop after the interrupt, or silent at start
                    if running is None:
                        running = next_job
                    reason = (
                        f"stopped: wall time limit of {limits.wall_seconds:g} s exceeded"
                        if kind == "timeout"
                        else _death(process, limits)
                    )
                    outcomes[running] = JobOutcome(
                        False, error=f"script {script.name!r} (line unknown): {reason}"
                    )
                    next_job = running + 1
                    break
        finally:
            if process.is_alive():
                process.kill()
            process.join(5)
            receive.close()
    return [outcomes.get(i, JobOutcome(False, error="not run")) for i in range(len(jobs))]


def _job_length(job: dict[str, Any]) -> int:
    """How many values a job's result has: its values, else its first input."""
    values = job.get("values")
    if values is not None and len(values):
        return len(values)
    inputs = job.get("inputs") or {}
    return len(next(iter(inputs.values()))) if inputs else int(job.get("length", 0))


def _death(process: Any, limits: Limits) -> str:
    process.join(1)
    code = process.exitcode
    if code == -signal.SIGKILL:
        return "stopped: killed (memory or CPU limit)"
    if code == -signal.SIGXCPU:
        return f"stopped: CPU time limit of {limits.cpu_seconds:g} s exceeded"
    return f"the worker process ended unexpectedly (exit status {code})"
