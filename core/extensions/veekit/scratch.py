"""Work buffers of the kernels, kept per thread between calls.

A kernel over a chunk of channels needs a few megabytes of intermediate arrays. Allocated and
freed on every call, they make the C allocator hand the memory back to the system and the
kernel fault it in again page by page (measured on the VEE benchmark: up to a quarter of the
run's time in page faults). A kernel takes its intermediates from :func:`scratch` instead, by a
name of its own; what it returns to its caller is always a fresh array.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["scratch"]


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.by_name: dict[str, np.ndarray] = {}


_buffers = _Buffers()


def scratch(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A C-contiguous work array of ``shape`` and ``dtype`` (contents undefined), the same
    memory on every call with ``name`` in this thread while it fits: valid until the next
    call with that name."""
    size = 1
    for extent in shape:
        size *= int(extent)
    buffer = _buffers.by_name.get(name)
    if buffer is None or buffer.size < size or buffer.dtype != np.dtype(dtype):
        buffer = _buffers.by_name[name] = np.empty(max(size, 1), dtype=dtype)
    return buffer[:size].reshape(shape)
