"""The acquisition engine: jobs become tasks, tasks become sessions, sessions become stored data.

The modules have one job each, and the engine's core does not know which mode runs it:

==============================  ====================================================================
``calendars``                   RFC 5545 calendars in a time zone, windows, exception dates
``actions``                     the job actions, their parameters, read ranges relative to the run
``runs``                        runs expanded into tasks, cancelled, finished (bulk statements)
``scheduling``                  occurrences started, runs adopted and recovered, logs pruned
``dispatch``                    the dispatch interface (:class:`~.dispatch.Dispatcher`) and its in-
                                process implementation: priority, line pools, one session per meter,
                                capacity shares
``plans``, ``books``            what sessions need about meters and runs, loaded in bulk
``counters``                    session state and session counters reserved before sessions
``session``, ``performers``     one session: paths, failover, actions, debug log
``mapping``                     values to the channels of virtual meters (OBIS, meter exchange)
``writer``, ``bookkeeping``     results committed in batches across meters with the engine's own
                                rows (tasks, sessions, state, audit), then announced
``bulk``, ``tables``            the engine's bulk statements
``observers``                   the interface for statistics, metrics and listeners
``lease``                       one engine (or one scheduler) per database
``engine``                      the embedded mode: all of the above in one process
==============================  ====================================================================

See ``docs/acquisition.md``. The import is light: it loads no submodule.
"""
