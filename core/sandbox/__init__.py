"""The script sandbox: customer scripts in RestrictedPython, with every guard, a vetted API of
plain data and hard limits enforced by the operating system in a worker process.

- :func:`compile_script` checks a source when it is saved (:mod:`~.policy`): a refusal is
  :class:`~meterhub.errors.InvalidValue` naming the line and the reason.
- :func:`run_jobs` runs a compiled script once per job in a forked child with CPU, memory,
  file-size and wall-clock limits (:mod:`~.worker`); a failed job names the script and line
  and the others go on.
- A script sees ``data`` (:class:`~.api.ScriptData`), writes to ``result``
  (:class:`~.api.Output`) and may call the functions of :func:`~.api.vetted_functions`;
  the guards (:mod:`~.guards`) allow per type only the attributes listed.

See ``docs/scripting.md``.
"""

from meterhub.sandbox.api import Output, ScriptData, ScriptError, Series
from meterhub.sandbox.policy import CompiledScript, compile_script
from meterhub.sandbox.worker import JobOutcome, Limits, run_jobs

__all__ = [
    "CompiledScript",
    "JobOutcome",
    "Limits",
    "Output",
    "ScriptData",
    "ScriptError",
    "Series",
    "compile_script",
    "run_jobs",
]
