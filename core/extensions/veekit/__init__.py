"""The VEE kit: numpy kernels that validators, estimators and the VEE engine share.

A plugin never imports another plugin's modules (an import-linter contract checks it), so the
array work of the built-in checks and estimation methods lives here, public, for third-party
plugins too:

- :mod:`~.checks`: limit, spike, run, status-bit, comparison and register kernels, each
  ``values → bool mask`` over whole arrays;
- :mod:`~.likeday`: the mean of like days and the high/low check against it;
- :mod:`~.fill`: linear interpolation with a maximum gap, last plausible value, like-day means,
  first plausible value of several sources;
- :mod:`~.status`: the bits of a meter's status word (the DLMS/IDIS AMR profile status).

No kernel makes a Python object per value.
"""

from meterhub.extensions.veekit.checks import (
    beyond_tolerance,
    like_day_reference,
    outside_limits,
    register_spans,
    runs_at_least,
    spikes,
    status_hits,
)
from meterhub.extensions.veekit.fill import (
    first_plausible,
    last_plausible,
    linear_fill,
)
from meterhub.extensions.veekit.likeday import like_day_outside
from meterhub.extensions.veekit.status import STATUS_BITS, status_mask

__all__ = [
    "STATUS_BITS",
    "beyond_tolerance",
    "first_plausible",
    "last_plausible",
    "like_day_outside",
    "like_day_reference",
    "linear_fill",
    "outside_limits",
    "register_spans",
    "runs_at_least",
    "spikes",
    "status_hits",
    "status_mask",
]
