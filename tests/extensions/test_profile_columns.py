"""Columnar load profiles: numpy arrays per channel, checked, readable as readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from meterhub.extensions.driver import (
    LoadProfile,
    ProfileChannel,
    Quality,
    profile_channel,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_channel_holds_arrays_of_the_right_types() -> None:
    channel = profile_channel(
        "1-0:1.29.0*255", "Wh", -1, [T0, T0 + timedelta(minutes=15)], [12, None]
    )
    assert channel.ends.dtype == np.dtype("datetime64[s]")
    assert channel.values.dtype == np.float64 and np.isnan(channel.values[1])
    assert channel.status.dtype == np.uint32 and channel.status.tolist() == [0, 0]
    readings = channel.readings()
    assert readings[0].value == 12 and isinstance(readings[0].value, int)
    assert readings[0].timestamp == T0 and readings[0].scaler == -1
    assert readings[1].value is None and readings[1].quality is Quality.NOT_AVAILABLE


def test_profile_readings_are_ordered_by_time_then_obis() -> None:
    ends = [T0, T0 + timedelta(minutes=15)]
    profile = LoadProfile(
        timedelta(minutes=15),
        (
            profile_channel("1-0:3.29.0*255", "varh", 0, ends, [3, 4]),
            profile_channel("1-0:1.29.0*255", "Wh", 0, ends, [1.5, 2]),
        ),
    )
    assert profile.values == 4
    assert [(r.obis, r.value) for r in profile.readings] == [
        ("1-0:1.29.0*255", 1.5),
        ("1-0:3.29.0*255", 3),
        ("1-0:1.29.0*255", 2),
        ("1-0:3.29.0*255", 4),
    ]
    assert profile.channel("1-0:3.29.0*255").unit == "varh"
    with pytest.raises(KeyError):
        profile.channel("1-0:2.29.0*255")


def test_bad_columns_are_refused() -> None:
    ends = np.array([0, 900], "datetime64[s]")
    with pytest.raises(ValueError, match="as many"):
        ProfileChannel("x", None, 0, ends, np.zeros(3), np.zeros(2, np.uint32))
    with pytest.raises(ValueError, match="ascending"):
        ProfileChannel("x", None, 0, ends[::-1], np.zeros(2), np.zeros(2, np.uint32))
    with pytest.raises(ValueError, match="aware"):
        profile_channel("x", None, 0, [datetime(2026, 1, 1)], [1])
    channel = profile_channel("x", None, 0, [T0], [1])
    with pytest.raises(ValueError, match="twice"):
        LoadProfile(timedelta(minutes=15), (channel, channel))


def test_an_empty_profile_says_why() -> None:
    assert LoadProfile(timedelta(0), quality=Quality.TIMEOUT).readings == ()
