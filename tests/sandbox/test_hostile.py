"""The hostile corpus: every script in tests/sandbox_hostile is refused at save or stopped when
run, with a clear error naming the script (and the line where it is known)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.sandbox import Limits, compile_script, run_jobs

CORPUS = Path(__file__).resolve().parents[1] / "sandbox_hostile"
FILES = sorted(CORPUS.glob("*.py"))
#: The wall time is ten times the CPU time: the suite runs several tests at a time on few cores,
#: and a loop must still run out of CPU time before it runs out of wall time.
LIMITS = Limits(cpu_seconds=1, wall_seconds=10, memory_mb=128)


def _expectation(path: Path) -> tuple[str, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} does not say what it expects"
    outcome, _, text = first.removeprefix("# expect: ").partition(" ")
    assert outcome in ("refused", "stopped", "ok"), path.name
    return outcome, text.strip()


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 50
    kinds = {_expectation(path)[0] for path in FILES}
    assert kinds == {"refused", "stopped", "ok"}


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_hostile_script(path: Path) -> None:
    outcome, text = _expectation(path)
    source = path.read_text(encoding="utf-8")
    if outcome == "refused":
        with pytest.raises(InvalidValue) as refused:
            compile_script(source, path.stem)
        assert refused.value.field == "source"
        assert text.lower() in refused.value.reason.lower()
        return
    script = compile_script(source, path.stem)
    job = {"values": np.arange(8, dtype=float), "parameters": {"max": 3}}
    (result,) = run_jobs(script, [job], LIMITS)
    if outcome == "ok":
        assert result.ok, result.error
        return
    assert not result.ok
    assert result.error is not None
    assert f"script {path.stem!r}" in result.error
    assert text.lower() in result.error.lower(), result.error
