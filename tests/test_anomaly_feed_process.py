"""Scoring in a child process (backfill, replay): the same windows, rows and model as inline; the
child's failure or death surfaces as one error, the checkpoint stays at the last good one, and
no child outlives its feed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tollcli.backends.local.scoring_process as scoring_process_module
from tollcli.anomaly import AnomalyApp, AnomalyConfig
from tollcli.anomaly.rcf import create_scorer
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, scenario
from tollcli.anomaly.windows import ClosedWindow
from tollcli.backends.local.anomaly_feed import LocalAnomalyFeed, LocalAnomalyStore, scoring_for
from tollcli.backends.local.scoring_process import ScoringProcess, ScoringProcessError
from tollcli.errors import TollError
from tollcli.generator import GenerateOptions, default_spec
from tollcli.kdg.factory import RecordFactory
from tollcli.records import RecordChunk
from tollcli.units import format_instant

CONFIG = AnomalyConfig.from_options(seed=7)
TIMES, STATIONS = scenario(7, 60, SKEWED_WEIGHTS, 3)  # 62 windows close, the last skewed ones alert


def feed_all(feed: LocalAnomalyFeed, lo: int = 0, hi: int = len(TIMES), chunk: int = 1000) -> None:
    for start in range(lo, hi, chunk):
        end = min(start + chunk, hi)
        feed.consume(RecordChunk(lines=b"", count=end - start, event_times=TIMES[start:end], stations=STATIONS[start:end]))


def run_feed(folder: Path, **options: object) -> tuple[list[dict], list[str], LocalAnomalyStore]:
    store = LocalAnomalyStore(folder)
    messages: list[str] = []
    with LocalAnomalyFeed(store, CONFIG, on_alert=messages.append, **options) as feed:  # type: ignore[arg-type]
        feed_all(feed)
    return store.read_scores(), messages, store


def forest_children() -> list[int]:
    """Live processes running the forest child (its file by path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if b"tollcli.backends.local.scoring_process" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_the_process_scores_the_same_windows_rows_alerts_and_model_as_inline(tmp_path: Path) -> None:
    inline_rows, inline_alerts, inline_store = run_feed(tmp_path / "inline", scoring="inline")
    # a queue of 2 windows makes the caller wait on the child's answers (backpressure) again and again
    rows, alerts, store = run_feed(tmp_path / "process", scoring="process", queue_windows=2, flush_seconds=0.0)
    assert len({r["window_start"] for r in rows}) == 62
    assert rows == inline_rows
    assert alerts == inline_alerts and alerts
    direct = [row for window in AnomalyApp(CONFIG).process(TIMES, STATIONS) for row in window.table_rows()]
    assert rows == direct  # and both equal the app run directly
    assert [a["message"] for a in store.alerts.read()] == alerts
    assert store.state_path.read_bytes() == inline_store.state_path.read_bytes()  # the same model, byte for byte


def test_auto_scores_inline_then_hands_the_model_to_a_process_and_changes_nothing(tmp_path: Path) -> None:
    inline_rows, inline_alerts, inline_store = run_feed(tmp_path / "inline", scoring="inline")
    store = LocalAnomalyStore(tmp_path / "auto")
    alerts: list[str] = []
    with LocalAnomalyFeed(store, CONFIG, on_alert=alerts.append, scoring="auto", handover_windows=20) as feed:
        feed_all(feed, 0, 15_000)  # 14 windows: still inline; past a quarter of 20, a standby starts
        assert feed.scoring_process is None and feed.standby is not None
        deadline = time.monotonic() + 30
        while not feed.standby.is_up() and time.monotonic() < deadline:  # the handover waits for it
            time.sleep(0.02)
        feed_all(feed, 15_000)
        assert feed.scoring_process is not None and feed.scoring_process.process is not None  # handed over, child started
    assert store.read_scores() == inline_rows and alerts == inline_alerts
    assert store.state_path.read_bytes() == inline_store.state_path.read_bytes()

    short = LocalAnomalyStore(tmp_path / "short")
    with LocalAnomalyFeed(short, CONFIG, on_alert=lambda _m: None, scoring="auto", handover_windows=200) as feed:
        feed_all(feed)  # 62 windows: past a quarter of the handover (a child gets ready), not past it
        assert feed.scoring_process is None and feed.standby is not None
        standby = feed.standby.process
    assert standby is not None and standby.returncode is not None  # the unused child is stopped at close
    assert short.read_scores() == inline_rows

    shortest = LocalAnomalyStore(tmp_path / "shortest")
    with LocalAnomalyFeed(shortest, CONFIG, on_alert=lambda _m: None, scoring="auto") as feed:
        feed_all(feed, 0, 20_000)  # 19 windows, fewer than a quarter of the default handover: no child at all
        assert feed.scoring_process is None and feed.standby is None
    got = shortest.read_scores()
    assert len({r["window_start"] for r in got}) == 19 and got == inline_rows[: len(got)]


def test_a_child_that_cannot_start_leaves_a_backfill_scoring_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_processes(*_args: object, **_kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(scoring_process_module.subprocess, "Popen", no_processes)
    inline_rows, inline_alerts, _ = run_feed(tmp_path / "inline", scoring="inline")
    store, problems, alerts = LocalAnomalyStore(tmp_path / "auto"), [], []
    with LocalAnomalyFeed(
        store, CONFIG, on_alert=alerts.append, on_problem=problems.append, scoring="auto", handover_windows=20
    ) as feed:
        feed_all(feed)
        assert feed.scoring_process is None
    assert problems == [
        "could not start the anomaly scoring process: [Errno 11] Resource temporarily unavailable; scoring continues inline"
    ]
    assert store.read_scores() == inline_rows and alerts == inline_alerts


def test_a_child_that_crashes_says_why_in_the_error_not_on_the_terminal() -> None:
    model = create_scorer(CONFIG.mode, CONFIG.forest, CONFIG.stations).to_bytes()
    window = AnomalyApp(CONFIG).count(TIMES[:3000], STATIONS[:3000])[0]
    scoring = ScoringProcess(CONFIG, model)
    try:
        scoring.start()
        assert scoring.process is not None
        os.kill(scoring.process.pid, signal.SIGABRT)  # a crash: the child dies without a word to us
        with pytest.raises(ScoringProcessError, match=r"stopped: it exited with status -6"):
            scoring.score(window)
    finally:
        scoring.close()


def test_a_resumed_process_feed_continues_the_checkpointed_model(tmp_path: Path) -> None:
    half = len(TIMES) // 2
    store = LocalAnomalyStore(tmp_path / "resumed")
    for lo, hi in ((0, half), (half, len(TIMES))):
        with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring="process") as feed:
            feed_all(feed, lo, hi)
    reference, _, reference_store = run_feed(tmp_path / "reference", scoring="inline")
    assert store.read_scores() == reference
    assert store.state_path.read_bytes() == reference_store.state_path.read_bytes()


def test_the_generators_station_codes_count_as_the_station_column_does(tmp_path: Path) -> None:
    factory = RecordFactory(default_spec(), seed=3)
    chunks = [factory.make_chunk(1_700_000_000 + (i * 5000 + np.arange(5000)) / 100) for i in range(6)]
    assert all(c.station_codes is not None and c.station_names for c in chunks)
    by_codes, by_names = AnomalyApp(CONFIG), AnomalyApp(CONFIG)
    closed_codes = [w for c in chunks for w in by_codes.count_codes(c.event_times, c.station_codes, c.station_names)]  # type: ignore[arg-type]
    closed_names = [w for c in chunks for w in by_names.count(c.event_times, c.stations)]  # type: ignore[arg-type]
    assert len(closed_codes) == 29 and closed_codes == closed_names
    assert by_codes.windows.to_state() == by_names.windows.to_state()  # open windows and late counts too


def test_a_child_killed_mid_run_is_one_error_and_the_checkpoint_stays_at_the_last_good_one(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    half = len(TIMES) // 2
    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring="process") as feed:
        feed_all(feed, 0, half)
    checkpoint = store.state_path.read_bytes()

    feed = LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, flush_seconds=3600, scoring="process", queue_windows=1)
    feed_all(feed, half, half + 3000)  # the child has started and scored a few windows
    scoring = feed.scoring_process
    assert scoring is not None and scoring.process is not None
    scoring.process.kill()
    with pytest.raises(ScoringProcessError, match=r"scoring process stopped: it exited with status -9"):
        feed_all(feed, half + 3000)
        feed.close()  # if every chunk was taken before the death showed, the drain raises it
    assert isinstance(scoring.broken, str)
    with pytest.raises(TollError, match="stopped after an error"):
        feed_all(feed, half)
    feed.close()  # releases the lock, writes the windows scored before the death, no checkpoint
    assert store.state_path.read_bytes() == checkpoint

    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring="process") as feed:  # resume
        feed_all(feed, half)
    reference, _, _ = run_feed(tmp_path / "reference", scoring="inline")
    assert store.read_scores() == reference  # no window skipped, none doubled


def test_a_failure_inside_the_child_comes_back_as_one_error() -> None:
    scoring = ScoringProcess(CONFIG, b"not a model")
    window = AnomalyApp(CONFIG).count(TIMES[:3000], STATIONS[:3000])[0]
    try:
        with pytest.raises(ScoringProcessError, match="the model did not load"):
            scoring.score(window)
        with pytest.raises(ScoringProcessError, match="failed earlier"):
            scoring.send([window])
    finally:
        scoring.close()
    assert scoring.process is not None and scoring.process.poll() is not None


def test_a_window_that_breaks_the_model_fails_in_the_child_and_later_ones_are_refused() -> None:
    model = create_scorer(CONFIG.mode, CONFIG.forest, CONFIG.stations).to_bytes()
    good = AnomalyApp(CONFIG).count(TIMES[:3000], STATIONS[:3000])[0]
    broken = ClosedWindow(start=good.start, end=good.end, counts={"35South": "many"}, late_records=0, rejected_records=0)  # type: ignore[dict-item]
    scoring = ScoringProcess(CONFIG, model)
    try:
        scoring.send([good, broken, good])
        assert scoring.receive().window_start == format_instant(good.start, timespec="auto")  # the first window's answer stands
        with pytest.raises(ScoringProcessError, match="scoring failed in it: ValueError"):
            scoring.receive()
        with pytest.raises(ScoringProcessError, match="failed earlier"):
            scoring.to_bytes()
    finally:
        scoring.close()


def test_no_child_is_started_for_a_run_that_closes_no_window_and_none_outlives_its_feed(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring="process") as feed:
        feed_all(feed, 0, 500)  # 5 s of traffic: no window closes
        assert feed.scoring_process is not None and feed.scoring_process.process is None
    fresh = create_scorer(CONFIG.mode, CONFIG.forest, CONFIG.stations).to_bytes()
    assert AnomalyApp.from_state_bytes(store.state_path.read_bytes()).scorer.to_bytes() == fresh

    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring="process") as feed:
        feed_all(feed)
        process = feed.scoring_process.process  # type: ignore[union-attr]
        assert process is not None and process.pid in forest_children()
    assert process.returncode == 0  # told to stop, and it did


def test_the_child_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A parent killed -9 cannot stop its child: the closed socket does."""
    script = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_anomaly_feed_process import CONFIG, TIMES, feed_all
from tollcli.backends.local.anomaly_feed import LocalAnomalyFeed, LocalAnomalyStore
feed = LocalAnomalyFeed(LocalAnomalyStore(Path({str(tmp_path)!r})), CONFIG, on_alert=lambda _m: None, scoring="process")
feed_all(feed, 0, 3000)
print(feed.scoring_process.process.pid, flush=True)
import time; time.sleep(60)
"""
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert child in forest_children()
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while child in forest_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child not in forest_children()
    finally:
        parent.kill()


def test_ctrl_c_reaches_the_parent_only_and_the_run_drains_and_checkpoints(tmp_path: Path) -> None:
    """SIGINT to the whole process group (as a terminal sends it): the child, in its own session,
    keeps scoring, so the interrupted run writes every window it counted and its checkpoint."""
    home = tmp_path / "home"
    toll = [sys.executable, "-m", "tollcli", "--home", str(home)]
    assert subprocess.run([*toll, "setup"], capture_output=True).returncode == 0
    assert subprocess.run([*toll, "deploy"], capture_output=True).returncode == 0
    run = subprocess.Popen(
        [*toll, "generate", "--backfill", "--count", "200000000", "--start", "2026-11-28T08:00:00Z", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not forest_children_of(run.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        children = forest_children_of(run.pid)
        assert children, "the backfill did not start a scorer process"
        time.sleep(1.0)
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode in (0, 130), err
    assert not set(children) & set(forest_children())  # stopped with its run
    summary = json.loads(out)
    assert summary["stopped_by"] == "Ctrl-C"  # the CLI turns Ctrl-C into a stop request, and says so
    state = AnomalyApp.from_state_bytes((home / "anomaly" / "state.bin").read_bytes())
    store = LocalAnomalyStore(home / "anomaly")
    windows = {row["window_start"] for row in store.read_scores()}
    assert state.stats.windows_scored == len(windows) > 50  # every counted window scored, none lost
    assert state.stats.records == summary["records"]  # the checkpoint counted every delivered record


def forest_children_of(pid: int) -> list[int]:
    children = []
    for child in forest_children():
        try:
            if int((Path("/proc") / str(child) / "stat").read_text().split(") ", 1)[1].split()[1]) == pid:
                children.append(child)
        except (OSError, ValueError, IndexError):
            continue
    return children


def test_bulk_feeds_score_in_a_process_only_with_a_core_to_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert scoring_for(bulk=True) == "auto" and scoring_for(bulk=False) == "inline"
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert scoring_for(bulk=True) == "inline"
    assert GenerateOptions(backfill=True, count=1).backfill  # the generator's bulk hint is its backfill flag
