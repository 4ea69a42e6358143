"""Random partial writes against a plain model: raw is first-write-wins, normalized follows."""

from datetime import UTC, datetime, timedelta

import numpy as np

from meterhub.timeseries import Flag, MeterDataStore

JAN = datetime(2026, 1, 1, tzinfo=UTC)
SLOTS = 96 * 3


def test_random_partial_writes_match_the_model(store: MeterDataStore, channels) -> None:
    ids = channels(3)
    rng = np.random.default_rng(7)
    raw = np.full((3, SLOTS), np.nan)
    conflict = np.zeros((3, SLOTS), dtype=bool)
    for _ in range(25):
        rows = rng.choice(3, size=rng.integers(1, 4), replace=False)
        first = int(rng.integers(0, SLOTS - 1))
        length = int(rng.integers(1, min(150, SLOTS - first) + 1))
        starts = [JAN + timedelta(minutes=15 * first)] * len(rows)
        values = rng.integers(0, 4, (len(rows), length)).astype(float)
        present = rng.random((len(rows), length)) < 0.8
        store.write_intervals([ids[r] for r in rows], starts, values, present=present)
        for i, r in enumerate(rows):
            window = slice(first, first + length)
            old = raw[r, window]
            new = np.where(present[i], values[i], np.nan)
            fresh = np.isnan(old) & ~np.isnan(new)
            differs = ~np.isnan(old) & ~np.isnan(new) & (old != new)
            conflict[r, window] |= differs
            raw[r, window] = np.where(fresh, new, old)
    end = JAN + timedelta(days=3)
    got = store.read_intervals(ids, JAN, end, layer="raw")
    assert np.array_equal(got.values, raw, equal_nan=True)
    assert np.array_equal(got.conflict, conflict)
    norm = store.read_intervals(ids, JAN, end)
    assert np.array_equal(norm.values, raw, equal_nan=True)
    assert np.array_equal((norm.flags & Flag.CONFLICT) != 0, conflict)
    # every version is a complete, readable state: as-of its recorded time gives a subset of now
    for version in store.versions(ids[0], JAN, end):
        old = store.read_intervals([ids[0]], JAN, end, as_of=version.recorded_at)
        assert np.isnan(old.values[0][np.isnan(raw[0])]).all()


def test_postgresql_ingest_goes_through_binary_copy(
    store: MeterDataStore, channels, backend: str, monkeypatch
) -> None:
    if backend != "postgresql":
        return
    import psycopg

    statements: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self, statement, *args, **kwargs):
        statements.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    ids = channels(2)
    store.write_intervals(ids, JAN, np.ones((2, 96 * 2)))
    assert any("ts_raw_block" in s and "FORMAT BINARY" in s for s in statements)
    assert any("ts_norm_block" in s and "FORMAT BINARY" in s for s in statements)
