"""The block codec: many blocks of values and flags to compact byte strings and back, vectorized.

A block is one row of a 2-D array ``(blocks, slots)``. Absent slots are ``NaN`` in memory (input
values are never NaN: they are refused at the API), so a block needs no separate presence array
in memory; on disk a packed presence mask is stored only when some slots are absent.

Values blob layout::

    byte 0   format | 0x80 when a presence mask follows
             format 0 = no value at all, 1 = float64, 2 = int8, 3 = int16, 4 = int32,
             5 = float32 (values that are float32 exactly, e.g. Modbus readings)
    byte 1   decimal places k (integer formats: value = int / 10**k, exactly as stored)
    mask     ceil(slots / 8) bytes, numpy.packbits order, only when byte 0 has 0x80
    payload  slots × width bytes, little endian, absent slots 0 (or NaN in float64)

The integer formats are lossless by construction: a block is stored as ``int / 10**k`` only when
dividing the integers by ``10**k`` gives back every value bit for bit; otherwise it stays float64.
Meter data (integer pulses or Wh, kWh with three decimals) mostly packs into 2 bytes a value.

Flags blob layout: ``None`` (SQL NULL) when every flag is 0; otherwise byte 0 = width (1, 2 or 4)
| 0x10 when the block holds one constant flag word, then that word or ``slots`` words.

Everything is done on whole arrays of blocks; the only per-block Python work is one
``bytes`` object per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import numpy as np

FORMAT_EMPTY = 0
FORMAT_FLOAT64 = 1
FORMAT_INT8 = 2
FORMAT_INT16 = 3
FORMAT_INT32 = 4
FORMAT_FLOAT32 = 5
HAS_MASK = 0x80
FLAGS_CONSTANT = 0x10

_INT_DTYPES = {FORMAT_INT8: "<i1", FORMAT_INT16: "<i2", FORMAT_INT32: "<i4"}
_WIDTH = {
    FORMAT_FLOAT64: 8,
    FORMAT_FLOAT32: 4,
    FORMAT_INT8: 1,
    FORMAT_INT16: 2,
    FORMAT_INT32: 4,
    FORMAT_EMPTY: 0,
}
_FLAG_DTYPES = {1: "<u1", 2: "<u2", 4: "<u4"}
_MAX_DECIMALS = 6
#: Up to this many blocks, whole-number blocks are encoded one by one (fewer array calls).
_FEW_BLOCKS = 16
#: Header bytes of integer blocks without decimals or mask, by format.
_INT_HEADERS = {f: bytes([f, 0]) for f in _INT_DTYPES}
_POW10 = 10.0 ** np.arange(_MAX_DECIMALS + 1)


def mask_bytes(slots: int) -> int:
    """Bytes of a packed presence mask for ``slots`` slots."""
    return (slots + 7) // 8


def _rows_to_bytes(matrix: np.ndarray) -> list[bytes]:
    data = np.ascontiguousarray(matrix).tobytes()
    width = matrix.shape[1]
    return (
        [data[i : i + width] for i in range(0, len(data), width)] if width else [b""] * len(matrix)
    )


def encode_values(values: np.ndarray) -> list[bytes]:
    """Encode each row of ``values`` (float64, NaN = absent) as one values blob."""
    # huge values overflow the scaled and float32 trials: those trials fail, as they should
    with np.errstate(over="ignore", invalid="ignore"):
        return _encode_values(values)


def _encode_values(values: np.ndarray) -> list[bytes]:
    values = np.ascontiguousarray(values, dtype=np.float64)
    found = _encode_whole_numbers(values)
    return found if found is not None else _encode_general(values)


def _encode_whole_numbers(values: np.ndarray) -> list[bytes] | None:
    """The usual meter block in few array operations: every slot present and a whole number
    (no -0.0) within int32. Gives exactly the bytes of :func:`_encode_general`; ``None`` when
    the blocks are not all like that."""
    blocks, slots = values.shape
    if blocks == 0 or slots == 0:
        return None
    ints = np.rint(values)
    if not (ints == values).all():  # NaN (absent) is never equal
        return None
    high = ints.max(axis=1)
    low = ints.min(axis=1)
    if low.min() <= 0.0 and (np.signbit(values) & (values == 0.0)).any():
        return None
    largest = np.maximum(high, -low)
    if largest.max() > 2_147_483_647:
        return None
    if blocks <= _FEW_BLOCKS:  # one meter-day: a few rows, cheaper one by one
        few: list[bytes] = []
        for row, big in zip(ints, largest.tolist(), strict=True):
            code = FORMAT_INT8 if big <= 127 else FORMAT_INT16 if big <= 32767 else FORMAT_INT32
            few.append(_INT_HEADERS[code] + row.astype(_INT_DTYPES[code]).tobytes())
        return few
    fmt = np.where(
        largest <= 127, FORMAT_INT8, np.where(largest <= 32767, FORMAT_INT16, FORMAT_INT32)
    )
    codes = set(fmt.tolist())
    out: list[bytes] = [b""] * blocks
    for code in codes:
        rows = np.flatnonzero(fmt == code) if len(codes) > 1 else None
        width = _WIDTH[code]
        count = blocks if rows is None else rows.size
        matrix = np.empty((count, 2 + slots * width), dtype=np.uint8)
        matrix[:, 0] = code
        matrix[:, 1] = 0
        payload = (ints if rows is None else ints[rows]).astype(_INT_DTYPES[code])
        matrix[:, 2:] = payload.view(np.uint8).reshape(count, slots * width)
        if rows is None:
            return _rows_to_bytes(matrix)
        for i, blob in zip(rows.tolist(), _rows_to_bytes(matrix), strict=True):
            out[i] = blob
    return out


def _encode_general(values: np.ndarray) -> list[bytes]:
    blocks, slots = values.shape
    present = values == values  # False only for NaN
    all_present = present.all(axis=1)
    none_present = ~present.any(axis=1)
    filled = values if all_present.all() else np.where(present, values, 0.0)
    # -0.0 must survive: an integer cannot carry the sign of zero, so such blocks stay float64
    zeros = filled == 0.0
    negative_zero = (zeros & np.signbit(filled)).any(axis=1) if zeros.any() else zeros[:, 0]
    decimals = np.full(blocks, -1, dtype=np.int64)
    ints = np.empty((blocks, slots), dtype=np.float64)
    todo = np.flatnonzero(~none_present & ~negative_zero)
    for k in range(_MAX_DECIMALS + 1):
        if todo.size == 0:
            break
        whole = todo.size == blocks
        sub = filled if whole else filled[todo]
        if k == 0:
            scaled = np.rint(sub)
            exact = (scaled == sub).all(axis=1)
        else:
            scaled = np.multiply(sub, _POW10[k])
            np.rint(scaled, out=scaled)
            back = np.divide(scaled, _POW10[k])
            exact = (back == sub).all(axis=1)
        largest = np.maximum(scaled.max(axis=1), -scaled.min(axis=1))
        exact &= largest <= 2_147_483_647
        done = todo[exact]
        decimals[done] = k
        if whole and exact.all():
            ints = scaled
        else:
            ints[done] = scaled[exact]
        todo = todo[~exact]
    int_rows = decimals >= 0
    largest = np.zeros(blocks)
    if int_rows.any():
        sub = ints[int_rows]
        largest[int_rows] = np.maximum(sub.max(axis=1), -sub.min(axis=1))
    fmt = np.full(blocks, FORMAT_FLOAT64, dtype=np.uint8)
    is_int = decimals >= 0
    fmt[is_int & (largest <= 127)] = FORMAT_INT8
    fmt[is_int & (largest > 127) & (largest <= 32767)] = FORMAT_INT16
    fmt[is_int & (largest > 32767)] = FORMAT_INT32
    rest = np.flatnonzero(~is_int & ~none_present)
    if rest.size:
        sub = filled[rest]
        single = (sub.astype(np.float32).astype(np.float64) == sub).all(axis=1)
        fmt[rest[single]] = FORMAT_FLOAT32
    fmt[none_present] = FORMAT_EMPTY
    with_mask = ~all_present & ~none_present
    header = fmt | np.where(with_mask, HAS_MASK, 0).astype(np.uint8)
    out: list[bytes] = [b""] * blocks
    codes = np.unique(header)
    mbytes = mask_bytes(slots)
    for code in codes.tolist():
        rows = np.flatnonzero(header == code)
        f = code & 0x7F
        parts = [np.empty((rows.size, 2), dtype=np.uint8)]
        parts[0][:, 0] = code
        parts[0][:, 1] = np.maximum(decimals[rows], 0)
        if code & HAS_MASK:
            parts.append(np.packbits(present[rows], axis=1))
        if f == FORMAT_FLOAT64:
            parts.append(values[rows].view(np.uint8).reshape(rows.size, slots * 8))
        elif f == FORMAT_FLOAT32:
            single = values[rows].astype("<f4")
            parts.append(single.view(np.uint8).reshape(rows.size, slots * 4))
        elif f in _INT_DTYPES:
            payload = ints[rows].astype(_INT_DTYPES[f])
            parts.append(payload.view(np.uint8).reshape(rows.size, slots * _WIDTH[f]))
        matrix = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        assert matrix.shape[1] == 2 + (mbytes if code & HAS_MASK else 0) + slots * _WIDTH[f]
        for i, blob in zip(rows.tolist(), _rows_to_bytes(matrix), strict=True):
            out[i] = blob
    return out


def _headers(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """First byte and length of every blob (C-level loops, no copy of the payloads)."""
    header = np.frombuffer(bytes(map(itemgetter(0), blobs)), dtype=np.uint8)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    return header, lengths


def _records(blobs: Sequence[bytes], rows: np.ndarray, width: int) -> np.ndarray:
    """The blobs ``rows`` (all ``width`` bytes long) as a ``(rows, width)`` byte matrix."""
    if rows.size == len(blobs):
        picked: Sequence[bytes] = blobs
    elif rows.size == 1:
        picked = (blobs[int(rows[0])],)
    else:
        picked = itemgetter(*rows.tolist())(blobs)
    return np.frombuffer(b"".join(picked), dtype=np.uint8).reshape(rows.size, width)


def decode_values(blobs: Sequence[bytes], slots: int) -> np.ndarray:
    """Decode values blobs into a ``(len(blobs), slots)`` float64 array, NaN where absent."""
    if not blobs:
        return np.full((0, slots), np.nan)
    header, lengths = _headers(blobs)
    mbytes = mask_bytes(slots)
    codes = np.unique(header).tolist()
    out = np.empty((len(blobs), slots)) if len(codes) > 1 or codes[0] & 0x7F else None
    if out is None or FORMAT_EMPTY in [c & 0x7F for c in codes]:
        out = np.full((len(blobs), slots), np.nan)
    for code in codes:
        rows = np.flatnonzero(header == code) if len(codes) > 1 else np.arange(len(blobs))
        f = code & 0x7F
        if f == FORMAT_EMPTY:
            continue
        if f not in _WIDTH:
            raise ValueError(f"unknown block format {code:#x}")
        width = 2 + (mbytes if code & HAS_MASK else 0) + slots * _WIDTH[f]
        if (lengths[rows] != width).any():
            raise ValueError(f"block of format {code:#x} has the wrong length for {slots} slots")
        matrix = _records(blobs, rows, width)
        offset = 2
        mask = None
        if code & HAS_MASK:
            mask = np.unpackbits(matrix[:, offset : offset + mbytes], axis=1, count=slots)
            offset += mbytes
        payload = np.ascontiguousarray(matrix[:, offset:])
        if f == FORMAT_FLOAT64:
            decoded = payload.view("<f8").reshape(rows.size, slots).copy()
        elif f == FORMAT_FLOAT32:
            decoded = payload.view("<f4").reshape(rows.size, slots).astype(np.float64)
        else:
            decoded = payload.view(_INT_DTYPES[f]).reshape(rows.size, slots).astype(np.float64)
            decimals = matrix[:, 1]
            if decimals.any():
                decoded /= _POW10[decimals.astype(np.int64)][:, None]
        if mask is not None:
            decoded[~mask.astype(bool)] = np.nan
        if len(codes) == 1:
            return decoded
        out[rows] = decoded
    return out


def encode_flags(flags: np.ndarray) -> list[bytes | None]:
    """Encode each row of ``flags`` (unsigned integers) as a flags blob; ``None`` if all zero."""
    flags = np.ascontiguousarray(flags, dtype=np.uint32)
    blocks, slots = flags.shape
    out: list[bytes | None] = [None] * blocks
    if blocks == 0 or slots == 0 or not flags.any():
        return out
    largest = flags.max(axis=1)
    constant = (flags == flags[:, :1]).all(axis=1)
    width = np.where(largest <= 0xFF, 1, np.where(largest <= 0xFFFF, 2, 4))
    nonzero = largest > 0
    for w in (1, 2, 4):
        for const in (True, False):
            rows = np.flatnonzero(nonzero & (width == w) & (constant == const))
            if rows.size == 0:
                continue
            header = np.full((rows.size, 1), w | (FLAGS_CONSTANT if const else 0), dtype=np.uint8)
            data = flags[rows, :1] if const else flags[rows]
            payload = data.astype(_FLAG_DTYPES[w]).view(np.uint8).reshape(rows.size, -1)
            matrix = np.concatenate([header, payload], axis=1)
            for i, blob in zip(rows.tolist(), _rows_to_bytes(matrix), strict=True):
                out[i] = blob
    return out


def decode_flags(blobs: Sequence[bytes | None], slots: int) -> np.ndarray:
    """Decode flags blobs into a ``(len(blobs), slots)`` uint32 array."""
    out = np.zeros((len(blobs), slots), dtype=np.uint32)
    present = [i for i, b in enumerate(blobs) if b]
    if not present:
        return out
    index = np.asarray(present, dtype=np.int64)
    chosen: list[bytes] = [blobs[i] for i in present]  # type: ignore[misc]
    header, lengths = _headers(chosen)
    codes = np.unique(header).tolist()
    for code in codes:
        sel = np.flatnonzero(header == code) if len(codes) > 1 else np.arange(len(chosen))
        w = code & 0x0F
        if w not in _FLAG_DTYPES:
            raise ValueError(f"unknown flags format {code:#x}")
        count = 1 if code & FLAGS_CONSTANT else slots
        width = 1 + count * w
        if (lengths[sel] != width).any():
            raise ValueError(f"flags of format {code:#x} have the wrong length for {slots} slots")
        matrix = np.ascontiguousarray(_records(chosen, sel, width)[:, 1:])
        words = matrix.view(_FLAG_DTYPES[w]).reshape(sel.size, count).astype(np.uint32)
        if sel.size == len(blobs):
            out[:] = words  # broadcasts a constant word over the block
        else:
            out[index[sel]] = words
    return out
