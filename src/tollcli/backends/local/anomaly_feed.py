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

The feed counts records into windows on the caller's thread, and scores closed windows there too
(`scoring="inline"`: real-time runs close one window per 10 s) or in a child process
(`scoring_process.ScoringProcess`: the forest, the rows, the alerts and the score file's lines),
so scoring runs on the other core while the generator makes records; a thread would not help, as
krcf 0.4.0 holds the GIL (bench/README.md). A backfill or a replay uses `scoring="auto"`: inline
for the first `handover_windows` (a short backfill is done before a child could start; past a
quarter of them a standby child starts importing), then the model moves to that process;
`"process"` uses one from the first window. Windows are scored in the
order they close; at most `queue_windows` are in flight, then the caller waits. Every flush first
waits for all closed windows to be scored, so a checkpoint never holds a window that was counted
but not scored (a restart neither skips nor rescores one). An error in scoring is raised in the
caller at its next `consume`/`close`; after it, no checkpoint is written, and the next run
resumes from the last good one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tollcli.anomaly.alerts import AlertLog, WebhookNotifier
from tollcli.anomaly.app import AnomalyApp, AnomalyConfig, ScoredWindow
from tollcli.anomaly.rcf import create_scorer
from tollcli.anomaly.windows import ClosedWindow, stations_from_lines
from tollcli.backends.base import AnomalyFeed
from tollcli.backends.local.scoring_process import ScoringProcess, ScoringProcessError
from tollcli.errors import TollError, UsageError
from tollcli.oscompat import LockBusy, take_lock
from tollcli.records import RecordChunk
from tollcli.state import atomic_write_bytes, atomic_write_json
from tollcli.units import instant_seconds

if TYPE_CHECKING:
    from filelock import BaseFileLock

T = TypeVar("T")


def print_to_stderr(message: str) -> None:
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
        by_hour: dict[str, list[ScoredWindow]] = defaultdict(list)
        for window in windows:
            by_hour[window.window_start[:13]].append(window)
        for group in by_hour.values():
            path = self.hour_file(group[0].window_start)
            starts = {w.window_start for w in group}
            kept = [line + b"\n" for line in _read_lines(path) if _window_start_of(line) not in starts]
            atomic_write_bytes(path, b"".join([*kept, *(w.table_lines() for w in group)]))

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
    if line.startswith(b'{"window_start":"'):  # how table_lines writes them: no parse needed
        end = line.find(b'"', 17)
        if end > 0:
            return line[17:end].decode()
    try:
        return str(json.loads(line).get("window_start"))
    except (ValueError, AttributeError):
        return None


# Windows sent to the scoring process before the caller waits for their answers: enough to ride
# out the child's start (~0.3 s, ~600 windows of backfill), small enough to hold (~1 KB each).
SCORING_QUEUE_WINDOWS = 2048
# `scoring="auto"` scores this many windows inline before it hands the model to a process (a
# standby child starts importing at a quarter of them): a short backfill (128 windows are 21
# minutes of event time) never waits for a child, a long one loses little to the inline start.
HANDOVER_WINDOWS = 128
SCORING_CHOICES = ("inline", "process", "auto")


def scoring_for(*, bulk: bool) -> str:
    """A bulk feed (backfill, replay) moves to a child process, when there is a core for it."""
    return "auto" if bulk and (os.cpu_count() or 1) > 1 else "inline"


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
        scoring: str = "inline",
        queue_windows: int = SCORING_QUEUE_WINDOWS,
        handover_windows: int = HANDOVER_WINDOWS,
    ) -> None:
        if scoring not in SCORING_CHOICES:
            raise ValueError(f"scoring must be one of {SCORING_CHOICES}, not {scoring!r}")
        self.store = store
        self.on_alert = on_alert
        self.on_problem = on_problem
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._lock = _take_lock(store.lock_path)
        try:
            blob = store.load_state()
            if scoring == "process" and blob is None:  # a new model: made here (empty, cheap), scored there
                model = create_scorer(config.mode, config.forest, config.stations).to_bytes()
                self.app = AnomalyApp(config, scorer=ScoringProcess(config, model))
            elif scoring == "process" and blob is not None:  # the checkpoint's model goes to the child unread
                self.app = AnomalyApp.from_state_bytes(
                    blob, config=config, load_model=lambda _m, model, _s: ScoringProcess(config, model)
                )
            else:
                self.app = AnomalyApp(config) if blob is None else AnomalyApp.from_state_bytes(blob, config=config)
        except BaseException:
            _release_lock(self._lock)
            raise
        self._late_at_open = self.app.windows.late_records
        self.webhook = webhook
        if self.webhook is None and config.webhook:
            self.webhook = WebhookNotifier(config.webhook, on_failure=on_problem)
        self.last_alerted = store.alerts.last_window_start()
        self.pending: list[ScoredWindow] = []
        self.last_flush = clock()
        self.stats = FeedStats()
        self.closed = False
        self.queue_windows = max(1, queue_windows)
        scorer = self.app.scorer
        self.scoring_process = scorer if isinstance(scorer, ScoringProcess) else None  # None: score inline
        self.handover_at = handover_windows if scoring == "auto" else None
        self.standby: ScoringProcess | None = None  # auto: started now, so it is ready at the handover
        self.in_flight: deque[ClosedWindow] = deque()  # sent to the scoring process, oldest first
        self.failure: BaseException | None = None  # the scoring error that stopped this feed

    @property
    def config(self) -> AnomalyConfig:
        return self.app.config

    @property
    def late_records(self) -> int:
        """Records this feed counted late (their window had closed), scored window or not yet."""
        return self.app.windows.late_records - self._late_at_open

    def consume(self, chunk: RecordChunk) -> None:
        self._check_running()
        if chunk.station_codes is not None and chunk.station_names is not None:
            closed = self.app.count_codes(chunk.event_times, chunk.station_codes, chunk.station_names)
        else:
            stations = chunk.stations if chunk.stations is not None else stations_from_lines(chunk.lines)
            closed = self.app.count(chunk.event_times, stations)
        self.stats.records += chunk.count
        self._score(closed)

    def process(self, times: np.ndarray, stations: Sequence[str | None] | np.ndarray) -> None:
        """Count records (event time, station each); score the windows they close."""
        self._check_running()
        closed = self.app.count(times, stations)
        self.stats.records += len(stations)
        self._score(closed)

    def _check_running(self) -> None:
        if self.failure is not None:
            raise ScoringStopped(f"anomaly scoring stopped after an error: {self.failure}")

    def _score(self, closed: list[ClosedWindow]) -> None:
        """Inline, or sent to the scoring process; flushed every `flush_seconds`."""
        if self.handover_at is not None:
            coming = self.stats.windows + len(closed)
            if self.standby is None and coming > self.handover_at // 4:  # a long run: get a child ready
                self.standby = ScoringProcess(self.app.config, b"")
                try:
                    self.standby.start()  # its imports overlap the inline windows before the handover
                except ScoringProcessError as exc:
                    self._stay_inline(exc)
            if self.handover_at is not None and coming > self.handover_at and self._standby_is_up():
                self._hand_over()
        if self.scoring_process is None:
            for window in closed:
                self._scored(self.app.score(window))
        else:
            for lo in range(0, len(closed), self.queue_windows):
                batch = closed[lo : lo + self.queue_windows]
                self._collect(keep=self.queue_windows - len(batch))  # room for the batch
                self._guarded(self.scoring_process.send, batch)
                self.in_flight.extend(batch)
            self._collect(keep=self.queue_windows)  # whatever is answered already
        if closed and self.clock() - self.last_flush >= self.flush_seconds:
            self.flush()

    def _standby_is_up(self) -> bool:
        """Hand over only to a child that has started: until then, scoring inline loses nothing."""
        assert self.standby is not None
        try:
            return self.standby.is_up()
        except ScoringProcessError as exc:  # it died starting
            self._stay_inline(exc)
            return False

    def _stay_inline(self, exc: ScoringProcessError) -> None:
        """No child for this run (it could not start, or died starting): it scores inline, as it began."""
        self.on_problem(f"{exc.message}; scoring continues inline")
        if self.standby is not None:
            self.standby.close()
        self.standby = self.handover_at = None

    def _hand_over(self) -> None:
        """From here on, score in a child process, starting from the model as it is now."""
        self.handover_at = None
        assert self.standby is not None
        self.scoring_process, self.standby = self.standby, None
        self.scoring_process.model = self.app.scorer.to_bytes()
        self.app.scorer.close()
        self.app.scorer = self.scoring_process

    def _collect(self, *, keep: int) -> None:
        """Take answered windows in order; wait for the oldest while more than `keep` are in flight."""
        process = self.scoring_process
        while self.in_flight and process is not None and (len(self.in_flight) > keep or process.ready()):
            scored: ScoredWindow = self._guarded(process.receive)
            self.in_flight.popleft()
            self.app.tally(scored)
            self._scored(scored)

    def _guarded(self, call: Callable[..., T], *args: Any) -> T:
        """A scoring-process call whose failure stops this feed (a Ctrl-C is not a failure)."""
        try:
            return call(*args)
        except Exception as error:
            self.failure = error
            self.in_flight.clear()
            raise

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
            self.app.scorer.close()
            if self.standby is not None:  # started, never needed
                self.standby.discard()
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
    lock = _take_lock(store.lock_path)
    try:
        yield
    finally:
        _release_lock(lock)


def _take_lock(path: Path) -> BaseFileLock:
    try:
        return take_lock(path)
    except LockBusy:
        raise TollError("another toll command is feeding the anomaly app in this home: one at a time") from None


def _release_lock(lock: BaseFileLock) -> None:
    lock.release()


# --- replay: score what is already in the bucket ----------------------------------------------
def parse_event_time(text: str) -> float | None:
    """Epoch seconds of a record's date (ISO-8601 as `units.instant_seconds` reads it: naive means
    UTC), or of a bare number of epoch seconds; None for anything else."""
    seconds = instant_seconds(text)
    if seconds is None:
        try:
            return float(text)  # epoch seconds
        except ValueError:
            return None
    return seconds


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
    found: list[Path] = []
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
