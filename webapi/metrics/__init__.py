"""``/metrics``: the Prometheus metrics of the runtime (acquisition engine included)."""
