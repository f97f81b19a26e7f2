"""Crashes driven through the real code: a ledger or checkpoint write that fails partway (or whose
`os.replace` fails) leaves the old file intact; `toll compact` stopped between its steps loses no
row and counts none twice; Ctrl-C during a query exits 130 with one line, every time.

The faults are injected where the operating system would fail (the file object's `write`,
`os.fsync`, `os.replace`, the manifest's save), never by building the aftermath by hand.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tollcli.state
from tollcli.backends.local import LocalBackend
from tollcli.backends.local.anomaly_feed import LocalAnomalyStore
from tollcli.backends.local.manifest import CompactionManifest
from tollcli.cli import app
from tollcli.config import Settings
from tollcli.state import Ledger


def toll(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), *args])


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    home = tmp_path / "home"
    assert toll(home, "setup").exit_code == 0
    return LocalBackend(Settings(backend="local", home=home, backend_explicit=True))


class HalfWriter:
    """A file object whose write puts half the bytes on disk, then fails as a full disk does."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def fail_write_partway(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(tollcli.state.os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))


def fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(tollcli.state.os, "fsync", fsync)


def fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(_src: Any, _dst: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(tollcli.state.os, "replace", replace)


FAULTS = {"write-partway": fail_write_partway, "fsync": fail_fsync, "replace": fail_replace}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_ledger_write_leaves_the_old_ledger(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    path = backend.settings.ledger_path
    before = path.read_bytes()
    ledger = backend.require_ledger()
    FAULTS[fault](monkeypatch)
    with pytest.raises(OSError):
        backend.record_path(ledger, "query_cache", "catalog", backend.home / "catalog")  # what a first query does
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert Ledger.load(path) is not None
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []  # no temporary left


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_checkpoint_write_leaves_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    store.folder.mkdir(parents=True)
    store.save_state(b"model-1" * 1000)
    FAULTS[fault](monkeypatch)
    with pytest.raises(OSError):
        store.save_state(b"model-2" * 1000)
    monkeypatch.undo()
    assert store.load_state() == b"model-1" * 1000
    assert [p.name for p in (tmp_path / "anomaly").iterdir()] == [store.state_path.name]


def count_rows(home: Path) -> int:
    result = toll(home, "query", "sql", "--format", "csv", "SELECT count(*) AS n FROM lab_toll_data_stream")
    assert result.exit_code == 0, result.stderr
    return int(result.stdout.splitlines()[1].strip('"'))  # Athena's CSV quotes every value


def delivered(home: Path) -> list[Path]:
    return sorted(p for p in (home / "bucket").rglob("*") if p.is_file())


@pytest.mark.parametrize("stop_at", ["manifest-save", "source-delete"])
def test_compact_stopped_between_steps_loses_and_doubles_nothing(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch, stop_at: str
) -> None:
    home = backend.home
    assert toll(home, "generate", "--count", "5000", "--backfill", "--seed", "3", "--quiet").exit_code == 0
    assert (
        toll(
            home, "generate", "--count", "1000", "--backfill", "--seed", "4", "--quiet", "--start", "2026-01-01T05:00:00Z"
        ).exit_code
        == 0
    )
    objects = delivered(home)
    assert count_rows(home) == 6000 and len(objects) >= 2

    if stop_at == "manifest-save":

        def stop(_self: CompactionManifest) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(CompactionManifest, "save", stop)
    else:
        import tollcli.backends.local.compact as compaction

        real_remove = compaction.remove_file

        def stop(path: Any) -> bool:
            if home / "bucket" in Path(path).parents:
                raise KeyboardInterrupt  # Ctrl-C after the manifest holds the part, before the sources go
            return real_remove(path)

        monkeypatch.setattr(compaction, "remove_file", stop)
    result = toll(home, "compact")
    monkeypatch.undo()
    assert result.exit_code == (1 if stop_at == "manifest-save" else 130), repr(result.exception)
    assert len(result.stderr.strip().splitlines()[-1:]) == 1 and result.stderr.strip().splitlines()[-1].startswith("toll: error:")
    if stop_at == "manifest-save":
        assert delivered(home) == objects  # no source deleted before the manifest names its part
    assert count_rows(home) == 6000  # the part (if listed) replaces its sources; nothing twice

    result = toll(home, "compact")
    assert result.exit_code == 0, result.stderr
    assert count_rows(home) == 6000
    assert delivered(home) == []
    manifest = CompactionManifest.load(backend, "lab_toll_data_stream")
    parts = sorted(p for p in manifest.folder.rglob("*.parquet"))
    assert parts == sorted(manifest.parquet_paths()) and manifest.rows() == 6000


def test_ctrl_c_during_a_query_exits_130_with_one_line_every_time(backend: LocalBackend, tmp_path: Path) -> None:
    """Four runs; SIGINT once the engine is up (its private temp folder appears in TMPDIR), then
    0-500 ms later: while the views are set up (DuckDB then says "Query interrupted") and mid-query."""
    for attempt, delay in enumerate((0.0, 0.01, 0.05, 0.5)):
        tmp = tmp_path / f"tmp{attempt}"
        tmp.mkdir()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tollcli",
                "--home",
                str(backend.home),
                "query",
                "sql",
                "SELECT count(*) FROM range(100000000000000)",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tmp)},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not list(tmp.glob("toll-duckdb-*")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.002)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert stderr == "toll: error: interrupted\n" and stdout == ""
        assert list(tmp.iterdir()) == []  # the private temp folder is gone with the process
