"""The feed's scoring thread: same windows in the same order as scoring inline; failures surface."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollcli.anomaly import AnomalyApp, AnomalyConfig
from tollcli.anomaly.local import LocalAnomalyFeed, LocalAnomalyStore
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, scenario
from tollcli.anomaly.windows import ClosedWindow
from tollcli.errors import TollError
from tollcli.records import RecordChunk

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


def test_the_thread_scores_the_same_windows_in_the_same_order_as_inline(tmp_path: Path) -> None:
    inline_rows, inline_alerts, _ = run_feed(tmp_path / "inline", scoring_thread=False)
    # a queue of 2 makes the caller wait on the worker (backpressure) again and again
    threaded_rows, threaded_alerts, store = run_feed(tmp_path / "thread", scoring_thread=True, queue_windows=2, flush_seconds=0.0)
    assert len({r["window_start"] for r in threaded_rows}) == 62
    assert threaded_rows == inline_rows
    assert threaded_alerts == inline_alerts and threaded_alerts
    app = AnomalyApp(CONFIG)  # and both equal the app run directly
    direct = [row for window in app.process(TIMES, STATIONS) for row in window.table_rows()]
    assert threaded_rows == direct
    assert [a["message"] for a in store.alerts.read()] == threaded_alerts


class BreaksAtWindow:
    """The real scorer, except that one window's scoring raises (as a broken forest would)."""

    def __init__(self, scorer: object, window_number: int) -> None:
        self.scorer = scorer
        self.window_number = window_number
        self.calls = 0

    def score(self, window: ClosedWindow) -> list:
        self.calls += 1
        if self.calls == self.window_number:
            raise RuntimeError("forest broke")
        return self.scorer.score(window)  # type: ignore[attr-defined]

    def to_bytes(self) -> bytes:
        return self.scorer.to_bytes()  # type: ignore[attr-defined]


def test_a_scoring_error_surfaces_and_the_checkpoint_stays_at_the_last_good_one(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    half = len(TIMES) // 2
    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, scoring_thread=True) as feed:
        feed_all(feed, 0, half)
    checkpoint = store.state_path.read_bytes()

    feed = LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None, flush_seconds=3600, scoring_thread=True)
    feed.app.scorer = BreaksAtWindow(feed.app.scorer, 5)  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="forest broke"):
        feed_all(feed, half)
        feed.close()  # if every chunk was taken before the worker failed, the drain raises it
    with pytest.raises(TollError, match="stopped after an error"):
        feed_all(feed, half)
    feed.close()  # releases the lock, writes the windows scored before the failure, no checkpoint
    assert store.state_path.read_bytes() == checkpoint

    with LocalAnomalyFeed(store, CONFIG, on_alert=lambda _m: None) as feed:  # resume from the last good one
        feed_all(feed, half)
    reference, _, _ = run_feed(tmp_path / "reference", scoring_thread=False)
    assert store.read_scores() == reference  # no window skipped, none doubled
