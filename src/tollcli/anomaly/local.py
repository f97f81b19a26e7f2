"""The anomaly app on the local backend: its files under `<home>/anomaly/` and the generator's feed.

    <home>/anomaly/app.json                     the deployed config
    <home>/anomaly/state.bin                    checkpoint: model + open windows (AnomalyApp.state_bytes)
    <home>/anomaly/scores/YYYY/MM/DD/HH.jsonl   every scored window (table toll.anomaly_scores)
    <home>/anomaly/alerts.jsonl                 the alerts, appended and fsynced
    <home>/anomaly/.lock                        one feed at a time

Score files are rewritten whole (atomically) per event-time hour; a window written again (after
a crash between a score write and the checkpoint) replaces its rows instead of doubling them.
Scores and the checkpoint are flushed together at most every `flush_seconds` of wall time, and
always at `close()`, so backfill does not pay for a 4 MB checkpoint per window.

The feed counts records into windows on the caller's thread and scores closed windows there too,
or, with `scoring_thread=True`, on one worker thread. The thread is off by default: krcf 0.4.0
holds the GIL in `update` and `attribution` (two scoring threads use one core: CPU time = wall
time), so the worker cannot run beside the generator and measured 2-19% slower than inline
(bench/README.md). With the thread, windows are scored in the order they close; at most
`queue_windows` wait, then the caller waits. Every flush first waits for all closed windows to
be scored, so a checkpoint never holds a window that was counted but not scored (a restart
neither skips nor rescores one). An error in scoring is raised in the caller at its next
`consume`/`close`; after it, no checkpoint is written, and the next run resumes from the last
good one.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from tollcli.anomaly.alerts import AlertLog, WebhookNotifier
from tollcli.anomaly.app import AnomalyApp, AnomalyConfig, ScoredWindow
from tollcli.anomaly.windows import ClosedWindow, stations_from_lines
from tollcli.backends.base import AnomalyFeed
from tollcli.errors import TollError, UsageError
from tollcli.records import RecordChunk
from tollcli.state import atomic_write_bytes, atomic_write_json


def print_to_stderr(message: str) -> None:
    import sys

    sys.stderr.write(f"toll: {message}\n")
    sys.stderr.flush()


class LocalAnomalyStore:
    """The app's folder: config, checkpoint, scores and alerts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config_path = folder / "app.json"
        self.state_path = folder / "state.bin"
        self.scores_path = folder / "scores"
        self.alerts = AlertLog(folder / "alerts.jsonl")
        self.lock_path = folder / ".lock"

    # config and checkpoint --------------------------------------------------------------------
    def load_config(self) -> AnomalyConfig | None:
        try:
            return AnomalyConfig.from_json(json.loads(self.config_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{self.config_path} is corrupt ({exc}): run `toll deploy` again") from None

    def save_config(self, config: AnomalyConfig) -> None:
        atomic_write_json(self.config_path, config.to_json())

    def load_state(self) -> bytes | None:
        try:
            return self.state_path.read_bytes()
        except FileNotFoundError:
            return None

    def save_state(self, blob: bytes) -> None:
        atomic_write_bytes(self.state_path, blob)

    def reset(self) -> None:
        """Forget the model, the scores and the alerts (a fresh model, or a replay from scratch)."""
        self.state_path.unlink(missing_ok=True)
        self.alerts.path.unlink(missing_ok=True)
        if self.scores_path.exists():
            shutil.rmtree(self.scores_path)

    # scores -----------------------------------------------------------------------------------
    def hour_file(self, window_start: str) -> Path:
        """`2026-11-03T10:00:10Z` -> scores/2026/11/03/10.jsonl."""
        return self.scores_path / window_start[0:4] / window_start[5:7] / window_start[8:10] / f"{window_start[11:13]}.jsonl"

    def write_scores(self, windows: list[ScoredWindow]) -> None:
        by_file: dict[Path, list[ScoredWindow]] = defaultdict(list)
        for window in windows:
            by_file[self.hour_file(window.window_start)].append(window)
        for path, group in by_file.items():
            starts = {w.window_start for w in group}
            kept = [line for line in _read_lines(path) if _window_start_of(line) not in starts]
            new = [json.dumps(row, separators=(",", ":")).encode() for w in group for row in w.table_rows()]
            atomic_write_bytes(path, b"".join(line + b"\n" for line in [*kept, *new]))

    def read_scores(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """Every scored row, oldest window first; with `since`, only later windows."""
        rows = []
        for path in sorted(self.scores_path.glob("*/*/*/*.jsonl")):
            if since is not None and self._hour_of(path) < since[:13].replace("T", " "):
                continue
            for line in _read_lines(path):
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if since is None or str(row.get("window_start", "")) > since:
                    rows.append(row)
        rows.sort(key=lambda r: str(r.get("window_start", "")))  # stable: station order within a window
        return rows

    def _hour_of(self, path: Path) -> str:
        parts = path.relative_to(self.scores_path).parts
        return f"{parts[0]}-{parts[1]}-{parts[2]} {path.stem}"


def _read_lines(path: Path) -> list[bytes]:
    try:
        return [line for line in path.read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _window_start_of(line: bytes) -> str | None:
    try:
        return str(json.loads(line).get("window_start"))
    except (ValueError, AttributeError):
        return None


SCORING_QUEUE_WINDOWS = 64  # closed windows waiting for the scoring thread before the caller waits


class ScoringStopped(TollError):
    """A window after a failed one is never scored: the model must not move past the failure."""


@dataclass
class FeedStats:
    windows: int = 0
    alerts: int = 0
    records: int = 0
    late_records: int = 0
    rejected_records: int = 0


class LocalAnomalyFeed(AnomalyFeed):
    """What `toll generate` feeds: scores as records flow, persists, alerts, checkpoints."""

    def __init__(
        self,
        store: LocalAnomalyStore,
        config: AnomalyConfig,
        *,
        on_alert: Callable[[str], None] = print_to_stderr,
        on_problem: Callable[[str], None] = print_to_stderr,
        flush_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        webhook: WebhookNotifier | None = None,
        scoring_thread: bool = False,
        queue_windows: int = SCORING_QUEUE_WINDOWS,
    ) -> None:
        self.store = store
        self.on_alert = on_alert
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._lock = _take_lock(store.lock_path)
        try:
            blob = store.load_state()
            self.app = AnomalyApp(config) if blob is None else AnomalyApp.from_state_bytes(blob, config=config)
        except BaseException:
            _release_lock(self._lock)
            raise
        self.webhook = webhook
        if self.webhook is None and config.webhook:
            self.webhook = WebhookNotifier(config.webhook, on_failure=on_problem)
        self.last_alerted = store.alerts.last_window_start()
        self.pending: list[ScoredWindow] = []
        self.last_flush = clock()
        self.stats = FeedStats()
        self.closed = False
        self.queue_windows = max(1, queue_windows)
        self.scoring = ThreadPoolExecutor(1, thread_name_prefix="toll-anomaly-score") if scoring_thread else None
        self.in_flight: deque[Future[ScoredWindow]] = deque()  # oldest first
        self.failure: BaseException | None = None  # set by the caller once a scoring error surfaced
        self.scoring_failed = False  # set by the worker, so it scores nothing after a failure

    @property
    def config(self) -> AnomalyConfig:
        return self.app.config

    def consume(self, chunk: RecordChunk) -> None:
        stations = chunk.stations if chunk.stations is not None else stations_from_lines(chunk.lines)
        self.process(chunk.event_times, stations)

    def process(self, times: np.ndarray, stations: Any) -> None:
        """Count records inline; score the windows they close (on the worker, in order)."""
        if self.failure is not None:
            raise ScoringStopped(f"anomaly scoring stopped after an error: {self.failure}")
        closed = self.app.count(times, stations)
        self.stats.records += len(stations)
        for window in closed:
            if self.scoring is None:
                self._scored(self.app.score(window))
            else:
                self.in_flight.append(self.scoring.submit(self._score, window))
        self._collect(keep=self.queue_windows)
        if closed and self.clock() - self.last_flush >= self.flush_seconds:
            self.flush()

    def _score(self, window: ClosedWindow) -> ScoredWindow:
        """On the worker thread."""
        if self.scoring_failed:
            raise ScoringStopped("not scored: an earlier window failed")
        try:
            return self.app.score(window)
        except BaseException:
            self.scoring_failed = True
            raise

    def _collect(self, *, keep: int) -> None:
        """Take scored windows in order; wait for the oldest while more than `keep` are in flight."""
        while self.in_flight and (len(self.in_flight) > keep or self.in_flight[0].done()):
            oldest = self.in_flight[0]
            error = oldest.exception()  # waits; a Ctrl-C while waiting is not a scoring failure
            if error is not None:
                self.failure = error
                for future in self.in_flight:
                    future.cancel()
                self.in_flight.clear()
                raise error
            self.in_flight.popleft()
            self._scored(oldest.result())

    def _scored(self, window: ScoredWindow) -> None:
        self.stats.windows += 1
        self.stats.late_records += window.late_records
        self.stats.rejected_records += window.rejected_records
        if window.alerts:
            self._raise(window)
        self.pending.append(window)

    def _raise(self, window: ScoredWindow) -> None:
        if self.last_alerted is not None and window.window_start <= self.last_alerted:
            return  # already raised before a crash: the checkpoint was older than the log
        self.store.alerts.append(window.alerts)
        self.last_alerted = window.window_start
        for alert in window.alerts:
            self.stats.alerts += 1
            self.on_alert(alert.message)
            if self.webhook is not None:
                self.webhook.post(alert.to_json())

    def flush(self) -> None:
        """Wait for every closed window to be scored, write the scores, then the checkpoint."""
        try:
            self._collect(keep=0)
        finally:
            if self.pending:  # scored (and alerted) windows are kept even when a later one failed
                self.store.write_scores(self.pending)
                self.pending = []
        if self.failure is None:
            self.store.save_state(self.app.state_bytes())
        self.last_flush = self.clock()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        finally:
            if self.scoring is not None:
                self.scoring.shutdown(wait=True, cancel_futures=True)
            if self.webhook is not None:
                self.webhook.close()
            _release_lock(self._lock)

    def __enter__(self) -> LocalAnomalyFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def hold_feed_lock(store: LocalAnomalyStore) -> Iterator[None]:
    """No feed may run while the app's files are being reset."""
    fd = _take_lock(store.lock_path)
    try:
        yield
    finally:
        _release_lock(fd)


def _take_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise TollError("another toll command is feeding the anomaly app in this home: one at a time") from None
    return fd


def _release_lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- replay: score what is already in the bucket ----------------------------------------------
def parse_event_time(text: str) -> float | None:
    """Epoch seconds of a record's date (ISO-8601, with or without offset; naive means UTC)."""
    value = text.strip()
    if not value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            return float(value)  # epoch seconds
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class EventTimeParser:
    """Dates repeat (100 records share a second): parse each distinct text once."""

    def __init__(self) -> None:
        self.cache: dict[bytes, float | None] = {}

    def __call__(self, date: bytes) -> float | None:
        if date not in self.cache:
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[date] = parse_event_time(date.decode("utf-8", "replace"))
        return self.cache[date]


def bucket_objects(bucket: Path) -> list[Path]:
    """Delivered objects below `bucket` (files starting with '.' are in-flight temporaries)."""
    found = []
    for root, dirs, files in os.walk(bucket):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in files if not name.startswith("."))
    return found


@dataclass
class ParsedObject:
    times: np.ndarray  # event time order
    stations: np.ndarray
    unreadable: int  # lines whose date we could not read: reported, never guessed

    @property
    def first_time(self) -> float:
        return float(self.times[0]) if len(self.times) else float("inf")


def read_object(path: Path, parse: EventTimeParser) -> ParsedObject:
    """An object's records in event-time order."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    stations = np.asarray(stations_from_lines(b"\n".join(lines)), dtype=object)
    times = np.array([parse(line.split(b",", 1)[0]) for line in lines], dtype=np.float64)  # None -> nan
    readable = ~np.isnan(times)
    order = np.argsort(times[readable], kind="stable")
    return ParsedObject(times[readable][order], stations[readable][order], int((~readable).sum()))


def replay_objects(bucket: Path) -> Iterator[ParsedObject]:
    """Every delivered object's records, objects in the order of their first event time."""
    parse = EventTimeParser()
    firsts = []
    for path in bucket_objects(bucket):
        try:
            with open(path, "rb") as handle:
                first = parse(handle.readline().split(b",", 1)[0])
        except OSError:
            continue
        firsts.append((math.inf if first is None else first, str(path)))
    for _first, name in sorted(firsts):
        try:
            yield read_object(Path(name), parse)
        except FileNotFoundError:  # compacted or removed meanwhile
            continue
