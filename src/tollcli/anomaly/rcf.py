"""Random Cut Forest scorers on krcf (AWS's own RCF), one per mode.

- `default`: one point per window, the vehicle counts of every station (plus one dimension for
  stations we do not know), scored by 50 trees x 256 samples. RCF attribution splits the score
  over the stations, HIGH or LOW, which names the station behind an alert. In our measured
  scenario this gives no steady-state score above 1.7 and scores the first skewed window ~4.4.
  Why 50 trees, not AWS's default 100: over 30 seeds of the workshop's scenario both raise the
  same alerts (none in 180 steady windows, 35South HIGH or a dropped TX45 LOW in the first
  changed window) and the highest steady score is the same, while 50 cost half per window and
  half the checkpoint (2 MB), which lets scoring keep up with a backfill (bench/README.md).
  `--trees 100` gives AWS's default.
- `workshop`: the workshop's `RANDOM_CUT_FOREST(cursor, 1, 10, 10, 2)`: every (station, count)
  row of a window scored in one stream, one dimension, in station order. Faithful, and noisy.

The time decay is given as KDA gave it (a number of points, 100000 by default); krcf takes its
inverse as `lambda`. Scores are 0 until the forest has seen `output_after` points (warm-up): such
rows say so in their explanation (WARMING_UP), so no one reads them as a calm 0.

Each scorer carries the stations' baseline (`baseline.Baseline`), which its rows are explained
against: the row's `baseline_count`, and HIGH or LOW as the count stands against it. Its bytes
(`to_bytes`) hold the forest and the baseline together, so wherever the model goes (a checkpoint,
the scoring process, the Lambda function's bucket) its baseline goes too:

    b"TOLLMDL2" + 8-byte length + baseline JSON + the forest's msgpack   (this version)
    the forest's msgpack alone                                          (earlier: an empty baseline)
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Protocol

import krcf

from tollcli.anomaly.baseline import Baseline, direction
from tollcli.anomaly.windows import ClosedWindow
from tollcli.config import WARMING_UP
from tollcli.errors import UsageError

MODES = ("default", "workshop")
WORKSHOP_STATIONS = ("183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South")
OTHER_STATIONS = "(other)"
MODEL_MAGIC = b"TOLLMDL2"

# krcf refuses 0 trees, a sample (capacity) of 0, a shingle of 0 and a negative decay; the upper
# bounds keep a forest's memory and checkpoint reasonable (100 x 256 over 11 dimensions is ~4 MB;
# it grows with trees x sample size).
TREES_RANGE = (1, 1000)
SAMPLE_SIZE_RANGE = (1, 10_000)
SHINGLE_RANGE = (1, 64)


@dataclass(frozen=True)
class ForestSettings:
    """The RCF call's parameters: `RANDOM_CUT_FOREST(cursor, trees, sample_size, time_decay, shingle)`."""

    trees: int
    sample_size: int
    time_decay: float
    shingle: int
    output_after: int
    seed: int = 42

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForestSettings:
        return cls(
            trees=int(data["trees"]),
            sample_size=int(data["sample_size"]),
            time_decay=float(data["time_decay"]),
            shingle=int(data["shingle"]),
            output_after=int(data["output_after"]),
            seed=int(data.get("seed", 42)),
        )


def default_forest(mode: str) -> ForestSettings:
    """Each mode's defaults: ours (50 x 256, KDA's decay) and the workshop's `1, 10, 10, 2`."""
    if mode == "workshop":
        return ForestSettings(trees=1, sample_size=10, time_decay=10, shingle=2, output_after=10)
    return ForestSettings(trees=50, sample_size=256, time_decay=100_000, shingle=1, output_after=32)


def check_mode(mode: str) -> str:
    value = mode.strip().lower()
    if value not in MODES:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    return value


def _check_range(flag: str, value: int, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise UsageError(f"{flag} {value} is outside the range krcf accepts here ({lo}-{hi})")


def check_forest(settings: ForestSettings) -> ForestSettings:
    """Refuse what krcf would refuse (or choke on) before anything is created."""
    _check_range("--trees", settings.trees, TREES_RANGE)
    _check_range("--sample-size", settings.sample_size, SAMPLE_SIZE_RANGE)
    _check_range("--shingle", settings.shingle, SHINGLE_RANGE)
    if not (settings.time_decay > 0 and settings.time_decay != float("inf")):
        raise UsageError(f"--time-decay must be a positive number of points (KDA's default is 100000), not {settings.time_decay}")
    if settings.output_after < 0:
        raise UsageError(f"output_after cannot be negative, not {settings.output_after}")
    return settings


def krcf_options(settings: ForestSettings, dimensions: int) -> dict[str, float]:
    """The exact options handed to `krcf.RandomCutForest` (tests run krcf directly with these)."""
    return {
        "dimensions": dimensions,
        "shingle_size": settings.shingle,
        "num_trees": settings.trees,
        "sample_size": settings.sample_size,
        "output_after": settings.output_after,
        "random_seed": settings.seed,
        "lambda": 1.0 / settings.time_decay,
    }


def new_forest(settings: ForestSettings, dimensions: int) -> krcf.RandomCutForest:
    """An empty `krcf.RandomCutForest`."""
    # krcf's RandomCutForestOptions cannot declare its "lambda" key (a Python keyword), so a type checker
    # refuses the time decay that krcf itself reads.
    return krcf.RandomCutForest(krcf_options(settings, dimensions))  # type: ignore[arg-type]


class StationScore(NamedTuple):
    """One row of `anomaly_scores`: a station's count in a window and the score it carries.

    A NamedTuple, not a frozen dataclass: a backfill makes ten per window, and it is 3x cheaper."""

    station: str
    vehicle_count: int
    anomaly_score: float
    explanation: str = ""  # "<station> HIGH|LOW <share of the score>" (workshop mode: no share), or WARMING_UP
    share: float = 0.0  # this station's share of the window's score (attribution), 0..1; workshop mode: 0
    direction: str = ""  # the count against the baseline: HIGH, LOW or USUAL; "" without a baseline
    baseline_count: float | None = None  # the station's usual count (baseline.Baseline); None before any

    @property
    def warming_up(self) -> bool:
        return self.explanation == WARMING_UP


def _stations_in_order(known: tuple[str, ...], counts: dict[str, int]) -> list[str]:
    return [*known, *sorted(set(counts) - set(known))]


class WindowScorer:
    """Default mode: the whole window as one point, explained by attribution."""

    mode = "default"

    def __init__(self, forest: krcf.RandomCutForest, stations: tuple[str, ...], baseline: Baseline | None = None) -> None:
        self.forest = forest
        self.stations = stations
        self.baseline = baseline or Baseline()
        self.dimension = {station: d for d, station in enumerate(stations)}  # unknown ones: len(stations)

    @classmethod
    def create(cls, settings: ForestSettings, stations: tuple[str, ...]) -> WindowScorer:
        return cls(new_forest(settings, len(stations) + 1), stations)

    def point(self, counts: dict[str, int]) -> list[float]:
        other = sum(n for s, n in counts.items() if s not in self.dimension)
        return [float(counts.get(s, 0)) for s in self.stations] + [float(other)]

    def score(self, window: ClosedWindow) -> list[StationScore]:
        """Every station's row: the window's score, the station's share of it, its baseline and
        HIGH/LOW against that (RCF's own high/low split only while there is no baseline yet)."""
        point = self.point(window.counts)
        ready = self.forest.is_output_ready()
        attribution = self.forest.attribution(point)  # sums to the score: one traversal, not two
        self.forest.update(point)
        high, low = attribution["high"], attribution["low"]
        score = float(sum(high) + sum(low))
        counts, other = window.counts, len(self.stations)
        order = _stations_in_order(self.stations, counts)
        usual = self.baseline.usual(order)
        rows = []
        for i, station in enumerate(order):
            count = int(counts.get(station, 0))
            base = None if usual is None else usual[i]
            if score <= 0:
                rows.append(StationScore(station, count, score, "" if ready else WARMING_UP, baseline_count=base))
                continue
            d = self.dimension.get(station, other)
            share = (high[d] + low[d]) / score
            way = ("HIGH" if high[d] >= low[d] else "LOW") if base is None else direction(count, base)
            rows.append(StationScore(station, count, score, f"{station} {way} {share:.0%}", share, way, base))
        return rows

    def to_bytes(self) -> bytes:
        return model_bytes(self.baseline, self.forest)

    def close(self) -> None:
        pass


class RowScorer:
    """Workshop mode: each (station, vehicle_count) row in one one-dimensional stream."""

    mode = "workshop"

    def __init__(self, forest: krcf.RandomCutForest, stations: tuple[str, ...], baseline: Baseline | None = None) -> None:
        self.forest = forest
        self.stations = stations
        self.baseline = baseline or Baseline()

    @classmethod
    def create(cls, settings: ForestSettings, stations: tuple[str, ...]) -> RowScorer:
        return cls(new_forest(settings, 1), stations)

    def rows(self, window: ClosedWindow) -> list[tuple[str, int]]:
        """The window's rows as `GROUP BY station` yields them: stations with records, in order."""
        order = _stations_in_order(self.stations, window.counts)
        return [(s, int(window.counts[s])) for s in order if window.counts.get(s, 0) > 0]

    def score(self, window: ClosedWindow) -> list[StationScore]:
        rows = self.rows(window)
        usual = self.baseline.usual([station for station, _count in rows])
        scored = []
        for i, (station, count) in enumerate(rows):
            point = [float(count)]
            ready = self.forest.is_output_ready()
            score = float(self.forest.score(point))
            self.forest.update(point)
            base = None if usual is None else usual[i]
            if score <= 0 and not ready:
                scored.append(StationScore(station, count, score, WARMING_UP, baseline_count=base))
            elif base is None:
                scored.append(StationScore(station, count, score))
            else:
                way = direction(count, base)
                scored.append(StationScore(station, count, score, f"{station} {way}", 0.0, way, base))
        return scored

    def to_bytes(self) -> bytes:
        return model_bytes(self.baseline, self.forest)

    def close(self) -> None:
        pass


Scorer = WindowScorer | RowScorer


class ModelScorer(Protocol):
    """What `AnomalyApp` scores with: a `Scorer` here, or a `ScoringProcess` (the same model in a child)."""

    def score(self, window: ClosedWindow) -> list[StationScore]: ...

    def to_bytes(self) -> bytes: ...

    def close(self) -> None: ...


def create_scorer(mode: str, settings: ForestSettings, stations: tuple[str, ...]) -> Scorer:
    return (RowScorer if mode == "workshop" else WindowScorer).create(settings, stations)


def model_bytes(baseline: Baseline, forest: krcf.RandomCutForest) -> bytes:
    """A scorer's bytes: the baseline and the forest (the module docstring gives the layout)."""
    head = json.dumps(baseline.to_json(), separators=(",", ":")).encode()
    return MODEL_MAGIC + struct.pack(">Q", len(head)) + head + bytes(forest.to_msgpack())


def load_scorer(mode: str, blob: bytes, stations: tuple[str, ...]) -> Scorer:
    """The scorer `to_bytes` wrote; bytes from before the baseline (the forest alone) load with an
    empty one. Raises ValueError (or KeyError, TypeError, struct.error) on bytes it cannot read."""
    baseline = Baseline()
    if blob[: len(MODEL_MAGIC)] == MODEL_MAGIC:
        start = len(MODEL_MAGIC) + 8
        (size,) = struct.unpack(">Q", blob[len(MODEL_MAGIC) : start])
        baseline = Baseline.from_json(json.loads(blob[start : start + size]))
        blob = blob[start + size :]
    forest = krcf.RandomCutForest.from_msgpack(blob)
    return (RowScorer if mode == "workshop" else WindowScorer)(forest, stations, baseline)
