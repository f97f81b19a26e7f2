"""The generator: frequencies against the weights, seeds, schedules, and `run_generation`."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tollcli.backends.base import AnomalyFeed
from tollcli.backends.local import LocalBackend
from tollcli.config import resolve_settings
from tollcli.errors import UsageError
from tollcli.generator import (
    GenerateOptions,
    GenerateProgress,
    Schedule,
    _apply_skew,
    load_rate_profile,
    run_generation,
    sample_records,
)
from tollcli.kdg import default_spec, parse_template, skewed_spec
from tollcli.kdg.factory import CHUNK_BYTES, MAX_CHUNK, RecordFactory
from tollcli.paths import template_path
from tollcli.records import RecordChunk
from tollcli.skew import SkewState, write_skew
from tollcli.units import parse_instant as parse_start

CHI2_DF9_P001 = 27.877  # chi-square critical value, 9 degrees of freedom, p = 0.001
START = parse_start("2026-11-28T08:00:00Z").timestamp()


def chi_square(observed: dict[str, int], data: tuple[str, ...], weights: tuple[float, ...]) -> float:
    total = sum(observed.values())
    probabilities = np.asarray(weights) / sum(weights)
    return sum((observed.get(name, 0) - total * p) ** 2 / (total * p) for name, p in zip(data, probabilities) if p > 0)


def draw(factory: RecordFactory, n: int = 100_000) -> list[RecordChunk]:
    return [factory.make_chunk(START + np.arange(i, i + 25_000) / 100) for i in range(0, n, 25_000)]


def column_counts(chunks: list[RecordChunk], column: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for chunk in chunks:
        for line in chunk.lines.decode().splitlines():
            value = line.split(",")[column]
            counts[value] = counts.get(value, 0) + 1
    return counts


@pytest.mark.parametrize("profile", ["default", "skewed"])
def test_station_and_plate_frequencies_follow_the_weights(profile: str) -> None:
    spec = default_spec() if profile == "default" else skewed_spec()
    factory = RecordFactory(spec, seed=11)
    chunks = draw(factory)
    station, plates = spec.fields[1], spec.fields[2]
    stations = column_counts(chunks, 1)
    assert chi_square(stations, station.data, station.weights) < CHI2_DF9_P001
    assert chi_square(column_counts(chunks, 2), plates.data, plates.weights) < CHI2_DF9_P001
    # the chunk's own station column and the factory's counts agree with the bytes
    assert factory.per_station() == {name: stations.get(name, 0) for name in station.data}
    names, counts = np.unique(np.concatenate([c.stations for c in chunks]), return_counts=True)
    assert dict(zip(names.tolist(), counts.tolist())) == stations


def test_skew_reweights_as_the_second_template_and_drop_silences_a_station() -> None:
    factory = RecordFactory(default_spec(), seed=2)
    assert _apply_skew(factory, SkewState("35South")) is None
    skewed = skewed_spec().station_field
    assert chi_square(column_counts(draw(factory), 1), skewed.data, skewed.weights) < CHI2_DF9_P001
    _apply_skew(factory, SkewState("183A"))
    counts = column_counts(draw(factory, 50_000), 1)
    assert max(counts, key=counts.get) == "183A" and counts["183A"] / 50_000 == pytest.approx(0.1 / 0.37, abs=0.01)
    _apply_skew(factory, SkewState("TX45", mode="drop"))
    counts = column_counts(draw(factory, 50_000), 1)
    assert "TX45" not in counts and len(counts) == 9
    _apply_skew(factory, None)
    assert len(column_counts(draw(factory, 50_000), 1)) == 10


def test_a_seed_repeats_byte_for_byte() -> None:
    times = START + np.arange(5000) / 100
    first = RecordFactory(default_spec(), seed=42).make_chunk(times).lines
    assert RecordFactory(default_spec(), seed=42).make_chunk(times).lines == first
    assert RecordFactory(default_spec(), seed=43).make_chunk(times).lines != first
    options = GenerateOptions(seed=7, backfill=True, count=10, start=parse_start("2026-11-28T08:00:00Z"))
    assert sample_records(options, 10) == sample_records(options, 10)


def test_constant_schedule_has_no_drift() -> None:
    schedule = Schedule(start=START, rate=100)
    assert schedule.offsets(0, 3).tolist() == [0.0, 0.01, 0.02]
    assert schedule.offset_of(360_000) == 3600.0
    assert schedule.due_by(0) == 1 and schedule.due_by(1.0) == 101 and schedule.before(1.0) == 100
    assert Schedule(start=START, rate=3).before(90) == 270


def test_rate_profile_sets_the_rate_by_hour(tmp_path: Path) -> None:
    shipped = load_rate_profile(template_path("rate-profiles", "rush-hour.csv"))
    assert len(shipped.rates) == 24 and max(shipped.rates) > 3 * min(shipped.rates)
    path = tmp_path / "profile.csv"
    path.write_text("hour,rate\n0,1\n8,10\n9,2\n")  # hours not listed keep the hour before
    profile = load_rate_profile(path)
    assert profile.rates[7] == 1 and profile.rates[8] == 10 and profile.rates[23] == 2
    schedule = Schedule(start=START, rate=1, profile=profile, seed=1)  # starts at 08:00
    assert schedule.before(3600) == 36_000 and schedule.before(7200) == 36_000 + 7200
    offsets = schedule.offsets(35_999, 3)
    assert offsets[0] < 3600 <= offsets[1] and offsets[2] - offsets[1] == pytest.approx(0.5)


@pytest.mark.parametrize("text", ["", "hour,rate\n25,1\n", "hour,rate\n1,-2\n", "hour,rate\n1,0\n", "1;2\n"])
def test_bad_rate_profiles_are_usage_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UsageError):
        load_rate_profile(path)


class RecordingFeed(AnomalyFeed):
    """An anomaly feed (the interface's, so the generator sees what a real one offers) that counts."""

    def __init__(self) -> None:
        self.records = 0
        self.stations_filled = True
        self.closed = False

    def consume(self, chunk: RecordChunk) -> None:
        self.records += chunk.count
        self.stations_filled &= chunk.stations is not None and len(chunk.stations) == chunk.count

    def close(self) -> None:
        self.closed = True


class BackendWithFeed(LocalBackend):
    """The real local backend, with an anomaly app that counts what it is fed."""

    feed = RecordingFeed()

    def open_anomaly_feed(self, *, on_alert=None, bulk=False) -> RecordingFeed:  # type: ignore[no-untyped-def]
        return self.feed


def local_backend(home: Path, cls: type[LocalBackend] = LocalBackend, buffer_seconds: int = 60) -> LocalBackend:
    backend = cls(resolve_settings(backend="local", home=home, region=None, profile=None))
    backend.setup(buffer_mb=1, buffer_seconds=buffer_seconds)
    return backend


def bucket_lines(home: Path) -> list[bytes]:
    objects = [p for p in sorted((home / "bucket").rglob("*")) if p.is_file()]
    assert not [p for p in objects if p.name.startswith(".")], "temporary files left behind"
    return b"".join(p.read_bytes() for p in objects).splitlines()


def test_backfill_delivers_exactly_the_count_and_feeds_the_anomaly_app(home: Path) -> None:
    BackendWithFeed.feed = RecordingFeed()
    backend = local_backend(home, BackendWithFeed)
    options = GenerateOptions(backfill=True, count=70_001, seed=1, start=parse_start("2026-11-28T08:00:00Z"))
    summary = run_generation(backend, options)
    lines = bucket_lines(home)
    assert summary.records == summary.generated == len(lines) == 70_001
    assert sum(summary.per_station.values()) == 70_001
    assert summary.first_event == "2026-11-28T08:00:00.000Z" and lines[0].startswith(b"2026-11-28T08:00:00.000Z,")
    assert summary.last_event == "2026-11-28T08:11:40.000Z"  # 70,000 records later at 100/s
    assert BackendWithFeed.feed.records == 70_001 and BackendWithFeed.feed.stations_filled and BackendWithFeed.feed.closed


def test_backfill_duration_and_default_start(home: Path) -> None:
    backend = local_backend(home)
    before = time.time()
    summary = run_generation(backend, GenerateOptions(backfill=True, duration=90, rate=10, seed=2))
    assert summary.records == 900 == len(bucket_lines(home))
    first = parse_start(summary.first_event).timestamp()
    assert before - 90 - 1 <= first <= time.time() - 90 + 1  # ends about now


def test_realtime_count_is_exact(home: Path) -> None:
    summary = run_generation(local_backend(home), GenerateOptions(rate=400, count=100, seed=3))
    assert summary.records == 100 == len(bucket_lines(home))
    assert summary.stopped_by == "count" and not summary.backfill


def test_a_live_run_is_in_progress_only_while_its_stream_is_open(home: Path) -> None:
    """`toll query` asks `deliveries_in_progress()` to say a live run's last records are on their way."""
    backend = local_backend(home)
    during: list[list[int]] = []

    def look() -> bool:
        during.append(backend.deliveries_in_progress())
        return False

    run_generation(backend, GenerateOptions(backfill=True, count=500, seed=3), should_stop=look)
    assert during and all(pids == [] for pids in during)  # a backfill lands in seconds: nothing to point out
    during.clear()
    run_generation(backend, GenerateOptions(rate=400, count=100, seed=3), should_stop=look)
    assert during and all(pids == [os.getpid()] for pids in during)
    assert backend.deliveries_in_progress() == [] and list((home / "live-runs").iterdir()) == []
    ledger = backend.require_ledger()
    assert ledger.find("live-runs", "live-runs") is not None  # the folder is recorded, so teardown removes it
    assert backend.teardown().failed == [] and not home.exists()


class FeedThatCannotOpen(LocalBackend):
    def open_anomaly_feed(self, *, on_alert=None, bulk=False) -> None:  # type: ignore[no-untyped-def]
        raise UsageError("the anomaly app's settings are missing")


def test_a_live_run_whose_anomaly_feed_cannot_open_leaves_no_mark(home: Path) -> None:
    backend = local_backend(home, FeedThatCannotOpen)
    with pytest.raises(UsageError, match="settings are missing"):
        run_generation(backend, GenerateOptions(rate=400, count=100, seed=3))
    assert backend.deliveries_in_progress() == [] and list((home / "live-runs").iterdir()) == []


def test_bad_options_are_refused_before_anything_is_written(home: Path) -> None:
    backend = local_backend(home)
    for options in (
        GenerateOptions(rate=0),
        GenerateOptions(count=0),
        GenerateOptions(backfill=True),
        GenerateOptions(start=parse_start("2026-01-01")),
        GenerateOptions(skew_station="Nowhere"),
        GenerateOptions(count=5, duration=5),
    ):
        with pytest.raises(UsageError):
            run_generation(backend, options)
    assert bucket_lines(home) == []


def test_a_skew_reaches_a_running_generator(home: Path) -> None:
    backend = local_backend(home, buffer_seconds=1)
    stop = threading.Event()
    latest: list[GenerateProgress] = []
    result = {}
    options = GenerateOptions(rate=2000, seed=4)

    def work() -> None:
        result["summary"] = run_generation(backend, options, on_progress=latest.append, should_stop=stop.is_set)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        while not latest:
            time.sleep(0.05)
        write_skew(backend, "35South", drop=False)
        at_skew = dict(latest[-1].per_station)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the effect, not for a time
            now = latest[-1].per_station
            added = {k: now[k] - at_skew[k] for k in now}
            if sum(added.values()) > 3000 and added["35South"] / sum(added.values()) > 0.15:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
    summary = result["summary"]
    assert summary.skew == {"station": "35South", "mode": "divert", "changed_at": summary.skew["changed_at"]}
    assert added["35South"] / sum(added.values()) > 0.15  # from 1% before the skew
    assert summary.records == len(bucket_lines(home))


def test_rate_profile_by_day_of_week_and_smoothing(tmp_path: Path) -> None:
    path = tmp_path / "week.csv"
    # Rows without a day apply to every day; Saturday (by name: a number needs the day,hour header) overrides two hours.
    path.write_text("hour,rate\n0,10\n12,20\nSat,12,100\nSaturday,13,0\n")
    profile = load_rate_profile(path)
    saturday_noon = datetime(2026, 11, 28, 12, 30, tzinfo=timezone.utc).timestamp() // 60  # a Saturday
    friday_noon = datetime(2026, 11, 27, 12, 30, tzinfo=timezone.utc).timestamp() // 60
    assert profile.at(int(saturday_noon)) == (100.0, 0.0) and profile.at(int(friday_noon)) == (20.0, 0.0)
    assert profile.at(int(saturday_noon) + 60) == (0.0, 0.0)  # Saturday 13:30
    assert profile.at(int(friday_noon) + 60) == (20.0, 0.0)  # Friday 13:30 keeps the hour before
    headed = tmp_path / "headed.csv"
    headed.write_text("\ufeffday,hour,rate\n0,0,5\n3,9,50\n")  # as a spreadsheet saves it, BOM first
    week = load_rate_profile(headed)
    wednesday_nine = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc).timestamp() // 60
    assert week.at(int(wednesday_nine)) == (50.0, 0.0) and week.at(int(wednesday_nine) - 60) == (5.0, 0.0)
    # --smooth: linear from this hour's rate to the next's over the hour (Saturday 11:00 -> 12:00: 10 -> 100).
    smooth = load_rate_profile(path, smooth=True)
    eleven = int(saturday_noon) - 90  # Saturday 11:00
    assert smooth.at(eleven) == (10.0, 0.0) and smooth.at(eleven + 30) == (55.0, 0.0) and smooth.at(eleven + 45) == (77.5, 0.0)
    start = datetime(2026, 11, 28, 11, 0, tzinfo=timezone.utc).timestamp()
    stepped = Schedule(start=start, rate=1, profile=profile, seed=1).before(3600)
    ramped = Schedule(start=start, rate=1, profile=smooth, seed=1).before(3600)
    assert stepped == 10 * 3600 and ramped == pytest.approx(sum(10 + 90 * m / 60 for m in range(60)) * 60, rel=1e-9)


@pytest.mark.parametrize("text", ["day,hour,rate\n7,1,2\n", "day,hour,rate\nFunday,1,2\n", "Mon,25,1\n"])
def test_bad_weekly_rate_profiles_are_usage_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UsageError):
        load_rate_profile(path)


def test_long_records_make_smaller_chunks() -> None:
    factory = RecordFactory(parse_template("x" * 50_000 + "{{random.number(9)}}"), seed=1)
    assert factory.chunk_records <= CHUNK_BYTES // 50_000 < MAX_CHUNK  # estimated from the template before any chunk
    chunk = factory.make_chunk(START + np.arange(10.0))
    assert chunk.count == 10 and factory.record_bytes == len(chunk.lines) / 10
    assert RecordFactory(default_spec(), seed=1).chunk_records == MAX_CHUNK
