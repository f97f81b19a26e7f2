"""Athena's answers on the local engine: the differential corpus (tests/athena_corpus.py) under non-UTC zones.

Each TZ runs the whole corpus in one subprocess (the zone a process starts with is what DuckDB
would pick up), against one lake written once; every query is then its own test case here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import athena_corpus as corpus
from tollcli.backends.local import LocalBackend
from tollcli.config import Settings

ZONES = ["America/Chicago", "Asia/Kolkata"]  # UTC-6 and UTC+5:30: the lake crosses midnight UTC


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A home whose bucket holds the corpus lines in three Firehose-style objects."""
    home = tmp_path_factory.mktemp("corpus") / "home"
    backend = LocalBackend(Settings(home=home))
    backend.setup(buffer_mb=1, buffer_seconds=60)
    lines = corpus.lake_lines()
    for start in range(0, len(lines), 250):
        part = lines[start : start + 250]
        key = part[0][:13].replace("-", "/").replace("T", "/")
        folder = backend.bucket_path / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"toll-data-stream-1-{uuid.uuid4()}").write_text("".join(part))
    return home, lines


@pytest.fixture(scope="module", params=ZONES)
def answers(request: pytest.FixtureRequest, lake: tuple[Path, list[str]]) -> dict[str, Any]:
    home, _ = lake
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "TZ": request.param, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("athena_corpus.py")), str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        try:
            return actual is not None and float(actual) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        except ValueError:
            return False
    return actual == expected


@pytest.mark.parametrize("case", corpus.CASES, ids=[f"q{i:03d}" for i in range(len(corpus.CASES))])
def test_local_engine_gives_athenas_answer(case: corpus.Case, answers: dict[str, Any], lake: tuple[Path, list[str]]) -> None:
    got = answers[case.sql]
    assert "error" not in got, f"{case.sql}\n-> {got['error']}"
    expected = case.expect(corpus.records(lake[1]))
    assert len(got["rows"]) == len(expected), f"{case.sql}\n-> {got['rows']}\nexpected {expected}"
    for row, want in zip(got["rows"], expected):
        assert len(row) == len(want) and all(_same(a, e) for a, e in zip(row, want)), f"{case.sql}\n-> {row}\nexpected {want}"
    if case.columns is not None:
        assert tuple(got["columns"]) == case.columns
    else:
        assert all(c.startswith("_col") or c.isidentifier() for c in got["columns"])


@pytest.mark.parametrize("sql", list(corpus.UNSUPPORTED))
def test_what_the_local_engine_cannot_do_says_so(sql: str, answers: dict[str, Any]) -> None:
    got = answers[sql]
    assert got.get("usage") is True, got
    assert got["error"].startswith("not supported by the local engine (Athena has it): "), got["error"]


def test_the_corpus_is_large_enough() -> None:
    assert len(corpus.CASES) >= 120 and len({c.sql for c in corpus.CASES}) == len(corpus.CASES)
