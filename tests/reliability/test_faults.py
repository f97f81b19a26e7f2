"""Faults while generating: kill -9 at seeded moments, two generators into one home, a full disk.

What kill -9 proves: each killed run is on a pseudo-terminal, where `toll generate` shows its live
progress ("N delivered": records in objects renamed into place). After every kill the bucket
holds every record the run showed as delivered before it died, only in whole, well-formed objects
(no partial object, no torn record); `toll status` counts exactly those objects; and a later
run's reported count is exactly what it adds.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import pty
import random
import re
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollcli.cli import app

RECORD = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,[0-9A-Za-z]+,[0-9A-Z]+")


def bucket_objects(home: Path) -> list[Path]:
    bucket = home / "bucket"
    return sorted(p for p in bucket.rglob("*") if p.is_file() and not p.name.startswith(".")) if bucket.exists() else []


def aside_files(home: Path) -> list[Path]:
    bucket = home / "bucket"
    return sorted(p for p in bucket.rglob(".*") if p.is_file()) if bucket.exists() else []


def whole_records(home: Path) -> int:
    """Every object ends in a newline and every line is a record; the number of records."""
    total = 0
    for path in bucket_objects(home):
        data = path.read_bytes()
        assert data.endswith(b"\n"), path
        lines = data.splitlines()
        assert all(RECORD.fullmatch(line) for line in lines), path
        total += len(lines)
    return total


def toll_process(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), *args], capture_output=True, text=True, timeout=timeout
    )


def start_generate(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "generate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def generate_on_a_terminal_then_kill(home: Path, args: tuple[str, ...], delay: float) -> tuple[int, int]:
    """Run `toll generate` on a pseudo-terminal, where it shows its live progress ("N delivered"),
    and kill it -9 after `delay` seconds. Returns the last delivered count it showed, and how many
    progress updates it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 240, 0, 0))  # no wrapped lines
    process = subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "generate", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "240"},
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + delay
    try:
        while (left := deadline - time.monotonic()) > 0:
            if select.select([master], [], [], left)[0]:
                shown += os.read(master, 1 << 16)
    finally:
        process.kill()
        process.wait()
    while select.select([master], [], [], 0)[0]:  # what it wrote before it died
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        shown += data
    os.close(master)
    counts = [int(n.replace(b",", b"")) for n in re.findall(rb"([0-9,]+) delivered", bytes(shown))]
    return max(counts, default=0), len(counts)


def kill_at_moments(home: Path, moments: int, seed: int) -> list[tuple[str, float, int, int]]:
    """Kill `toll generate` -9 at seeded moments, alternating backfill and real-time runs; after
    each, every record the run showed as delivered is in the bucket, in whole objects."""
    rng = random.Random(seed)
    log = []
    for i in range(moments):
        mode = ("--backfill", "--count", "50000000") if i % 2 == 0 else ("--rate", "5000")
        before = whole_records(home)
        delay = rng.uniform(0.8, 3.0)
        shown, _ = generate_on_a_terminal_then_kill(home, mode, delay)
        records = whole_records(home)
        assert records - before >= shown, f"run {i}: showed {shown:,} delivered, the bucket gained {records - before:,}"
        assert not aside_files(home) or all(p.name.endswith(".writing") for p in aside_files(home))
        log.append((mode[0], round(delay, 2), records, shown))
    assert sum(1 for *_, shown in log if shown > 0) >= moments // 2, log  # the check above was not vacuous
    return log


def check_after_kills(home: Path, log: list[tuple[str, float, int, int]]) -> None:
    counts = [records for _, _, records, _ in log]
    assert counts == sorted(counts)  # nothing delivered ever disappears
    status = json.loads(toll_process(home, "status", "--format", "json").stdout)
    bucket = next(r for r in status["resources"] if r["kind"] == "bucket")
    assert bucket["details"]["objects"] == len(bucket_objects(home))
    before = whole_records(home)
    done = toll_process(home, "generate", "--backfill", "--count", "12345", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"] == 12345
    assert whole_records(home) == before + 12345


def test_kill_9_at_seeded_moments_leaves_whole_objects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert toll_process(home, "setup", "--buffer-mb", "1", "--buffer-seconds", "1").returncode == 0
    check_after_kills(home, kill_at_moments(home, moments=4, seed=9))


@pytest.mark.slow
def test_kill_9_at_20_seeded_moments_leaves_whole_objects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert toll_process(home, "setup", "--buffer-mb", "1", "--buffer-seconds", "1").returncode == 0
    check_after_kills(home, kill_at_moments(home, moments=20, seed=20261128))


def test_two_generators_into_one_home_both_complete_and_add_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert toll_process(home, "setup", "--buffer-mb", "1").returncode == 0
    runs = [start_generate(home, "--backfill", "--count", str(n), "--format", "json") for n in (60000, 40000)]
    summaries = []
    for process in runs:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        summaries.append(json.loads(out))
    assert [s["records"] for s in summaries] == [60000, 40000]
    objects = bucket_objects(home)
    assert len(objects) == sum(s["objects"] for s in summaries)  # no object overwrote another
    assert whole_records(home) == 100000
    assert not aside_files(home)


def test_a_full_disk_is_one_clear_error_and_no_partial_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC injected at the fsync of the third object: exit 1, one line, no partial object left."""
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "setup", "--buffer-mb", "1"]).exit_code == 0
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync_until_full(fd: int) -> None:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".writing"):
            return real_fsync(fd)  # the ledger, logs and checkpoints: only objects count here
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr("tollcli.backends.local.delivery.os.fsync", fsync_until_full)
    result = runner.invoke(app, ["--home", str(home), "generate", "--backfill", "--count", "300000", "--format", "json"])
    monkeypatch.setattr("tollcli.backends.local.delivery.os.fsync", real_fsync)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no summary claims a delivery
    assert not aside_files(home)  # the object being written was removed, not left half-written
    assert len(bucket_objects(home)) == 2
    assert 0 < whole_records(home) < 300000


def scored_windows(home: Path) -> list[tuple[str, str]]:
    scores = json.loads(toll_process(home, "alerts", "--scores", "--format", "json").stdout)["scores"]
    return [(row["window_start"], row["station"]) for row in scores]


def test_the_anomaly_app_killed_and_restarted_scores_each_window_once(tmp_path: Path) -> None:
    """kill -9 mid-stream, then a run that resumes at the last scored window's end: every 10 s
    window from the first to the last is scored, each (window, station) exactly once."""

    home = tmp_path / "home"
    assert toll_process(home, "setup", "--buffer-seconds", "1").returncode == 0
    assert toll_process(home, "deploy", "--format", "json").returncode == 0
    process = start_generate(home, "--backfill", "--count", "50000000", "--start", "2026-11-28T08:00:00Z", "--quiet")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(scored_windows(home)) < 200:
        time.sleep(0.5)
    process.kill()
    process.wait()
    before = scored_windows(home)
    assert before, "nothing was scored before the kill"
    last_end = max(datetime.fromisoformat(start.replace("Z", "+00:00")) for start, _ in before) + timedelta(seconds=10)
    resume = last_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    done = toll_process(home, "generate", "--backfill", "--count", "30000", "--start", resume, "--quiet")
    assert done.returncode == 0, done.stderr
    after = scored_windows(home)
    assert len(after) > len(before)
    assert after[: len(before)] == before  # what was scored before the kill stands as it was
    assert len(set(after)) == len(after)  # no (window, station) scored twice
    starts = sorted({datetime.fromisoformat(start.replace("Z", "+00:00")) for start, _ in after})
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(starts)}
    assert steps == {10.0}, steps  # no window skipped
