import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from meterhub.timeseries import codec


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(np.isnan(a), np.isnan(b))) and bool(
        np.array_equal(a[~np.isnan(a)].view(np.int64), b[~np.isnan(b)].view(np.int64))
    )


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.sampled_from([24, 32, 96, 288])),
        elements=st.one_of(
            st.floats(allow_nan=True, allow_infinity=False, width=64),
            st.integers(-40000, 40000).map(float),
            st.integers(-(10**7), 10**7).map(lambda i: i / 1000),
            st.just(-0.0),
        ),
    )
)
def test_values_round_trip_bit_for_bit(values: np.ndarray) -> None:
    blobs = codec.encode_values(values)
    assert _same_bits(codec.decode_values(blobs, values.shape[1]), values)


def test_typical_meter_data_packs_small() -> None:
    rng = np.random.default_rng(0)
    wh = rng.integers(0, 3000, (10, 96)).astype(float)
    kwh = wh / 1000
    for data in (wh, kwh):
        blobs = codec.encode_values(data)
        assert all(len(b) == 2 + 96 * 2 for b in blobs)
        assert np.array_equal(codec.decode_values(blobs, 96), data)
    gaps = wh.copy()
    gaps[:, 10:20] = np.nan
    blobs = codec.encode_values(gaps)
    assert all(len(b) == 2 + 12 + 96 * 2 for b in blobs)
    assert _same_bits(codec.decode_values(blobs, 96), gaps)


def test_float32_readings_take_four_bytes() -> None:
    readings = np.array([[12345.678, 0.1, 230.4] * 32], dtype=np.float32).astype(np.float64)
    blobs = codec.encode_values(readings)
    assert len(blobs[0]) == 2 + 96 * 4
    assert _same_bits(codec.decode_values(blobs, 96), readings)


def test_empty_and_float_blocks() -> None:
    values = np.full((2, 96), np.nan)
    values[1] = np.pi
    blobs = codec.encode_values(values)
    assert len(blobs[0]) == 2
    assert len(blobs[1]) == 2 + 96 * 8
    assert _same_bits(codec.decode_values(blobs, 96), values)


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        np.uint32,
        st.tuples(st.integers(1, 5), st.sampled_from([24, 96])),
        elements=st.one_of(st.just(0), st.integers(0, 255), st.integers(0, 2**32 - 1)),
    )
)
def test_flags_round_trip(flags: np.ndarray) -> None:
    assert np.array_equal(codec.decode_flags(codec.encode_flags(flags), flags.shape[1]), flags)


def test_flags_compact_forms() -> None:
    flags = np.zeros((3, 96), dtype=np.uint32)
    flags[1] = 0x100
    flags[2, 5] = 7
    blobs = codec.encode_flags(flags)
    assert blobs[0] is None
    assert blobs[1] is not None and len(blobs[1]) == 3
    assert blobs[2] is not None and len(blobs[2]) == 97
    assert np.array_equal(codec.decode_flags(blobs, 96), flags)


@settings(max_examples=150, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.sampled_from([4, 96])),
        elements=st.one_of(
            st.integers(-(2**31), 2**31).map(float),
            st.integers(-200, 200).map(float),
            st.sampled_from([0.0, -0.0, 0.5, float("nan"), 2.0**31, -(2.0**31) - 1]),
        ),
    )
)
def test_whole_number_fast_path_gives_the_general_bytes(values: np.ndarray) -> None:
    """The fast path for blocks of whole numbers writes exactly what the general encoder writes,
    and declines (``None``) whatever it does not handle."""
    fast = codec._encode_whole_numbers(values)
    general = codec._encode_general(values)
    if fast is not None:
        assert fast == general
    else:
        assert (
            not np.isfinite(values).all()
            or not (np.rint(values) == values).all()
            or (np.abs(values).max() > 2_147_483_647 or np.signbit(values[values == 0]).any())
        )
    assert codec.encode_values(values) == general
