"""The anomaly app as a pure object: records in, scored windows out, state as bytes.

    app = AnomalyApp(AnomalyConfig())              # or AnomalyApp.from_state_bytes(blob)
    for window in app.process(event_times, stations):
        ...  # window.rows for anomaly_scores, window.alerts to send
    blob = app.state_bytes()                       # model + open windows, to resume exactly

Nothing here touches files, the network, Typer, boto3 or DuckDB, so a Lambda handler or any
backend can carry it. Resuming from `state_bytes()` never scores a window twice or skips one:
open windows travel with the model, and a window closes exactly once.

Each window's rows carry every station's baseline (its usual count, `baseline.Baseline`, held by
the scorer so it travels with the model); a window that raises no alert joins it after scoring.
An alert in default mode names, among the stations RCF gives a real share of the score, the one
furthest from its baseline in Poisson standard deviations; HIGH or LOW is its count against it.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tollcli.anomaly.alerts import Alert, alert_message, check_threshold, check_webhook
from tollcli.anomaly.baseline import BASELINE_WINDOWS_RANGE, DEFAULT_BASELINE_WINDOWS, MIN_SHARE, deviation
from tollcli.anomaly.rcf import (
    WORKSHOP_STATIONS,
    ForestSettings,
    ModelScorer,
    RowScorer,
    StationScore,
    WindowScorer,
    check_forest,
    check_mode,
    create_scorer,
    default_forest,
    load_scorer,
)
from tollcli.anomaly.windows import (
    DEFAULT_LATENESS_SECONDS,
    DEFAULT_WINDOW_SECONDS,
    ClosedWindow,
    TumblingWindows,
    stations_from_lines,
)
from tollcli.config import DEFAULT_THRESHOLD
from tollcli.errors import TollError, UsageError
from tollcli.units import format_instant

WINDOW_RANGE = (1, 3600)
LATENESS_RANGE = (0.0, 3600.0)
STATE_MAGIC = b"TOLLRCF1"
STATE_VERSION = 1

# The columns of `anomaly_scores` (DuckDB types), one row per station per scored window.
SCORE_COLUMNS = {
    "window_start": "VARCHAR",
    "window_end": "VARCHAR",
    "station": "VARCHAR",
    "vehicle_count": "INTEGER",
    "baseline_count": "DOUBLE",  # the station's usual count (median of recent normal windows); null before any
    "anomaly_score": "DOUBLE",
    "explanation": "VARCHAR",
    "alert": "BOOLEAN",
    "mode": "VARCHAR",
    "late_records": "INTEGER",
}


@dataclass(frozen=True)
class AnomalyConfig:
    """Everything `toll deploy` decides; `check()` refuses bad values before anything exists."""

    mode: str = "default"
    threshold: float = DEFAULT_THRESHOLD
    forest: ForestSettings = field(default_factory=lambda: default_forest("default"))
    window_seconds: int = int(DEFAULT_WINDOW_SECONDS)
    lateness_seconds: float = DEFAULT_LATENESS_SECONDS
    stations: tuple[str, ...] = WORKSHOP_STATIONS
    baseline_windows: int = DEFAULT_BASELINE_WINDOWS  # the normal windows each station's baseline spans
    webhook: str | None = None
    email: str | None = None  # SNS subscriptions: the aws backend only
    phone: str | None = None

    @classmethod
    def from_options(
        cls,
        *,
        mode: str = "default",
        threshold: float = DEFAULT_THRESHOLD,
        trees: int | None = None,
        sample_size: int | None = None,
        time_decay: float | None = None,
        shingle: int | None = None,
        window_seconds: int = int(DEFAULT_WINDOW_SECONDS),
        lateness_seconds: float = DEFAULT_LATENESS_SECONDS,
        baseline_windows: int = DEFAULT_BASELINE_WINDOWS,
        webhook: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        seed: int | None = None,
    ) -> AnomalyConfig:
        """A checked config from command-line values; None means the mode's default."""
        mode = check_mode(mode)
        base = default_forest(mode)
        forest = ForestSettings(
            trees=base.trees if trees is None else trees,
            sample_size=base.sample_size if sample_size is None else sample_size,
            time_decay=base.time_decay if time_decay is None else time_decay,
            shingle=base.shingle if shingle is None else shingle,
            output_after=base.output_after,
            seed=base.seed if seed is None else seed,
        )
        if mode == "workshop" and sample_size is not None:
            forest = replace(forest, output_after=forest.sample_size)
        return cls(
            mode=mode,
            threshold=threshold,
            forest=forest,
            window_seconds=window_seconds,
            lateness_seconds=lateness_seconds,
            baseline_windows=baseline_windows,
            webhook=webhook,
            email=email,
            phone=phone,
        ).check()

    def check(self) -> AnomalyConfig:
        check_mode(self.mode)
        check_threshold(self.threshold)
        check_forest(self.forest)
        lo, hi = WINDOW_RANGE
        if not lo <= self.window_seconds <= hi:
            raise UsageError(f"--window must be {lo}-{hi} seconds, not {self.window_seconds}")
        lo_f, hi_f = LATENESS_RANGE
        if not lo_f <= self.lateness_seconds <= hi_f:
            raise UsageError(f"--lateness must be {lo_f:g}-{hi_f:g} seconds, not {self.lateness_seconds}")
        lo, hi = BASELINE_WINDOWS_RANGE
        if not lo <= self.baseline_windows <= hi:
            raise UsageError(f"--baseline-windows must be {lo}-{hi} windows, not {self.baseline_windows}")
        if self.webhook is not None:
            check_webhook(self.webhook)
        return self

    def same_model(self, other: AnomalyConfig) -> bool:
        """Whether a model trained under `other` can keep scoring under this config."""
        return (self.mode, self.forest, self.window_seconds, self.stations) == (
            other.mode,
            other.forest,
            other.window_seconds,
            other.stations,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "threshold": self.threshold,
            "forest": self.forest.to_json(),
            "window_seconds": self.window_seconds,
            "lateness_seconds": self.lateness_seconds,
            "stations": list(self.stations),
            "baseline_windows": self.baseline_windows,
            "webhook": self.webhook,
            "email": self.email,
            "phone": self.phone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnomalyConfig:
        return cls(
            mode=str(data["mode"]),
            threshold=float(data["threshold"]),
            forest=ForestSettings.from_json(data["forest"]),
            window_seconds=int(data["window_seconds"]),
            lateness_seconds=float(data["lateness_seconds"]),
            stations=tuple(str(s) for s in data.get("stations") or WORKSHOP_STATIONS),
            baseline_windows=int(data.get("baseline_windows") or DEFAULT_BASELINE_WINDOWS),
            webhook=data.get("webhook") or None,
            email=data.get("email") or None,
            phone=data.get("phone") or None,
        )


@dataclass(frozen=True)
class ScoredWindow:
    """A closed window after scoring: its rows for `anomaly_scores` and the alerts it raised."""

    start: float
    end: float
    mode: str
    rows: list[StationScore]
    alerts: list[Alert]
    late_records: int
    rejected_records: int
    encoded: bytes | None = field(default=None, compare=False, repr=False)  # table_lines(), if made already
    window_start: str = field(init=False, compare=False, repr=False)  # asked for per row, per file, per alert
    window_end: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_start", format_instant(self.start, timespec="auto"))
        object.__setattr__(self, "window_end", format_instant(self.end, timespec="auto"))

    @property
    def score(self) -> float:
        return max((r.anomaly_score for r in self.rows), default=0.0)

    @property
    def vehicle_count(self) -> int:
        return sum(r.vehicle_count for r in self.rows)

    def table_rows(self) -> list[dict[str, Any]]:
        """The window as rows of `anomaly_scores` (SCORE_COLUMNS)."""
        alerted = {a.station for a in self.alerts}
        return [
            {
                "window_start": self.window_start,
                "window_end": self.window_end,
                "station": r.station,
                "vehicle_count": r.vehicle_count,
                "baseline_count": r.baseline_count,
                "anomaly_score": round(r.anomaly_score, 6),
                "explanation": r.explanation,
                "alert": r.station in alerted,
                "mode": self.mode,
                "late_records": self.late_records,
            }
            for r in self.rows
        ]

    def encoded_now(self) -> ScoredWindow:
        """This window with `table_lines()` made and kept (a scoring process sends it so)."""
        object.__setattr__(self, "encoded", self.table_lines())  # a cache, as a cached_property is
        return self

    def table_lines(self) -> bytes:
        """`table_rows()` as JSON lines, byte for byte what `json.dumps(row, separators=(",", ":"))`
        writes, at a quarter of its cost (a backfill writes ten rows per window)."""
        if self.encoded is not None:
            return self.encoded
        alerted = {a.station for a in self.alerts}
        head = f'{{"window_start":{_json_text(self.window_start)},"window_end":{_json_text(self.window_end)},"station":'
        tail = f',"mode":{_json_text(self.mode)},"late_records":{self.late_records}}}\n'
        return "".join(
            f'{head}{_json_text(r.station)},"vehicle_count":{r.vehicle_count},'
            f'"baseline_count":{"null" if r.baseline_count is None else _json_float(r.baseline_count)},'
            f'"anomaly_score":{_json_float(round(r.anomaly_score, 6))},"explanation":{_json_text(r.explanation)},'
            f'"alert":{"true" if r.station in alerted else "false"}{tail}'
            for r in self.rows
        ).encode()


def station_to_name(rows: list[StationScore]) -> StationScore:
    """The row an alert names: among the stations with a real share of the score (MIN_SHARE), the
    one whose count is furthest from its baseline in Poisson standard deviations; with no baseline
    yet, the one with the largest share."""
    candidates = [r for r in rows if r.share >= MIN_SHARE and r.baseline_count is not None]
    if not candidates:
        return max(rows, key=lambda r: r.share)
    return max(candidates, key=lambda r: (abs(deviation(r.vehicle_count, r.baseline_count or 0.0)), r.share))


_json_text = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str (ensure_ascii)


def _json_float(value: float) -> str:
    return repr(value) if math.isfinite(value) else json.dumps(value)


@dataclass
class AppStats:
    records: int = 0
    windows_scored: int = 0
    alerts: int = 0
    last_window_start: str | None = None


class AnomalyApp:
    """Windows, scorer and alert rule together; `process` is the whole app."""

    def __init__(
        self, config: AnomalyConfig, *, windows: TumblingWindows | None = None, scorer: ModelScorer | None = None
    ) -> None:
        self.config = config
        self.windows = windows or TumblingWindows(size=config.window_seconds, lateness=config.lateness_seconds)
        self.scorer: ModelScorer = scorer or create_scorer(config.mode, config.forest, config.stations)
        self.stats = AppStats()
        if isinstance(self.scorer, WindowScorer | RowScorer):  # (a ScoringProcess: its child's app does this)
            self.scorer.baseline.resize(config.baseline_windows)

    # scoring ----------------------------------------------------------------------------------
    def process(self, times: np.ndarray | Sequence[float], stations: Sequence[str | None] | np.ndarray) -> list[ScoredWindow]:
        """Count records (event time in epoch seconds, station each) and score every window they close."""
        return [self.score(window) for window in self.count(times, stations)]

    def count(self, times: np.ndarray | Sequence[float], stations: Sequence[str | None] | np.ndarray) -> list[ClosedWindow]:
        """Count records into their windows; the windows this closes, for `score` in this order.

        Split from `score` so a feed can count inline and score on another thread.
        """
        closed = self.windows.add(np.asarray(times, dtype=np.float64), stations)
        self.stats.records += len(stations)
        return closed

    def count_codes(self, times: np.ndarray, codes: np.ndarray, names: Sequence[str]) -> list[ClosedWindow]:
        """As `count`, each record's station an index into `names` (the generator's own column)."""
        closed = self.windows.add_codes(times, codes, names)
        self.stats.records += len(codes)
        return closed

    def process_lines(self, times: np.ndarray | Sequence[float], lines: bytes) -> list[ScoredWindow]:
        """As `process`, reading each station from `date,toll,user` lines."""
        return self.process(times, stations_from_lines(lines))

    def score(self, window: ClosedWindow) -> ScoredWindow:
        rows = self.scorer.score(window)
        alerts = self.alerts_for(window, rows)
        # judged normal: it joins the baseline (an anomaly never moves its own; a ScoringProcess's child learns)
        if not alerts and isinstance(self.scorer, WindowScorer | RowScorer):
            self.scorer.baseline.learn(window.counts)
        scored = ScoredWindow(
            start=window.start,
            end=window.end,
            mode=self.config.mode,
            rows=rows,
            alerts=alerts,
            late_records=window.late_records,
            rejected_records=window.rejected_records,
        )
        self.tally(scored)
        return scored

    def tally(self, scored: ScoredWindow) -> None:
        """Count a scored window (scored here, or in a `ScoringProcess`) into the checkpointed stats."""
        self.stats.windows_scored += 1
        self.stats.alerts += len(scored.alerts)
        self.stats.last_window_start = scored.window_start

    def alerts_for(self, window: ClosedWindow, rows: list[StationScore]) -> list[Alert]:
        """Workshop: every row above the threshold. Default: one per window, for `station_to_name`."""
        threshold = self.config.threshold
        above = [r for r in rows if r.anomaly_score > threshold]
        if self.config.mode == "default" and above:
            above = [station_to_name(above)]
        return [
            Alert(
                window_start=format_instant(window.start, timespec="auto"),
                window_end=format_instant(window.end, timespec="auto"),
                station=r.station,
                vehicle_count=r.vehicle_count,
                anomaly_score=round(r.anomaly_score, 4),
                threshold=threshold,
                explanation=r.explanation,
                mode=self.config.mode,
                message=alert_message(r.station, r.vehicle_count, round(r.anomaly_score, 4), threshold, r.baseline_count),
                baseline_count=r.baseline_count,
            )
            for r in above
        ]

    # checkpoint -------------------------------------------------------------------------------
    def state_bytes(self) -> bytes:
        """Model, open windows and counters: everything needed to resume exactly here."""
        model = self.scorer.to_bytes()
        header = json.dumps(
            {
                "version": STATE_VERSION,
                "config": self.config.to_json(),
                "windows": self.windows.to_state(),
                "stats": vars(self.stats),
                "model_bytes": len(model),
            }
        ).encode()
        return STATE_MAGIC + struct.pack(">Q", len(header)) + header + model

    @classmethod
    def from_state_bytes(
        cls,
        data: bytes,
        *,
        config: AnomalyConfig | None = None,
        load_model: Callable[[str, bytes, tuple[str, ...]], ModelScorer] = load_scorer,
    ) -> AnomalyApp:
        """Resume; `config` may change the threshold, lateness or webhook, never the model.

        `load_model(mode, model_bytes, stations)` makes the scorer (a `ScoringProcess` loads it in
        its child instead of here)."""
        try:
            if data[: len(STATE_MAGIC)] != STATE_MAGIC:
                raise ValueError("not an anomaly app checkpoint")
            start = len(STATE_MAGIC) + 8
            (size,) = struct.unpack(">Q", data[len(STATE_MAGIC) : start])
            header = json.loads(data[start : start + size])
            if int(header["version"]) > STATE_VERSION:
                raise ValueError(f"written by a newer tollcli (version {header['version']})")
            model = data[start + size :]
            if len(model) != int(header["model_bytes"]):
                raise ValueError("truncated")
            saved = AnomalyConfig.from_json(header["config"])
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise TollError(f"the anomaly app's checkpoint is unreadable ({exc})") from None
        if config is not None and not config.same_model(saved):
            raise TollError("the checkpoint was made with other model settings: deploy again to start a fresh model")
        config = config or saved
        windows = TumblingWindows.from_state(header["windows"])
        windows.lateness = float(config.lateness_seconds)
        app = cls(config, windows=windows, scorer=load_model(config.mode, bytes(model), config.stations))
        app.stats = AppStats(**header.get("stats", {}))
        return app
