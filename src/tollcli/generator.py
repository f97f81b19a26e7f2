"""The toll record generator: what the Kinesis Data Generator did, without losing a record.

Pipeline: a `GeneratorSpec` (from a KDG template, the `kdg` package) -> `RecordFactory`, which builds a
whole chunk of records at once with numpy (weighted draws by binary search over cumulative
weights; dates formatted once per second of event time; bytes scattered into one buffer) ->
`run_generation`, which paces chunks from a monotonic clock (record i is due at start + i/R, so
the rate never drifts), or in `backfill` writes them as fast as possible while event time
advances at the rate -> the backend's sink, then the anomaly feed. The summary counts what the
sink accepted, so it always equals the records delivered.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from tollcli.config import DEFAULT_RATE
from tollcli.errors import Interrupted, TollError, UsageError
from tollcli.kdg import (
    DateField,
    FakerField,
    GeneratorSpec,
    Literal,
    NumberField,
    UniformChoice,
    WeightedChoice,
    compile_moment,
    default_spec,
    format_fraction,
    format_second,
    is_literal_token,
    load_template,
    skewed_spec,
    strftime_pattern,
)
from tollcli.kdg.fakerjs import Draw, Join, Pick, js_number
from tollcli.oscompat import process_alive
from tollcli.paths import read_user_file
from tollcli.records import RecordChunk
from tollcli.skew import SkewState, SkewWatcher, check_station, read_skew, skewed_weights
from tollcli.state import (  # the event-time file's names: importable from here too, as before
    EVENT_TIME_FILE,
    EVENT_TIME_KIND,
    Resource,
    atomic_write_json,
    event_time_path,
    read_last_event,
)
from tollcli.units import format_duration, format_instant, plural

if TYPE_CHECKING:
    from tollcli.backends.base import Backend, RecordSink

MAX_CHUNK = 32_768  # records per chunk: big enough to amortise numpy, small enough for memory
CHUNK_BYTES = 32 * 1024 * 1024  # ... and at most about this many bytes (a 100 KB template makes big records)
MIN_TICK = 0.05  # realtime: records are handed over at most this long after they are due
MAX_TICK = 0.1  # realtime: how often stop requests, skew changes and progress are looked at
SKEW_POLL = 0.5  # seconds between looks at the skew file (a change applies within a second)
PROGRESS_EVERY = 0.25
TABLE_LOOP_LIMIT = 256  # categories up to which bytes are scattered per category
MERGE_LIMIT = 1024  # largest table made by fusing neighbouring segments


# ---------------------------------------------------------------------------------------------
# Column-wise record assembly


class ByteTable:
    """Distinct byte strings of one column, padded into a matrix for scattering."""

    def __init__(self, values: list[bytes] | np.ndarray) -> None:
        array = np.asarray(values, dtype=bytes) if not isinstance(values, np.ndarray) else values
        if array.size == 0:
            array = np.zeros(0, dtype="S1")
        width = array.dtype.itemsize
        self.size = len(array)
        self.lengths = np.char.str_len(array).astype(np.int64)
        self.width = int(self.lengths.max()) if self.size else 0
        self.fixed = self.size > 0 and bool((self.lengths == self.width).all())
        self.matrix = array.view(np.uint8).reshape(self.size, width)[:, : self.width]
        self.array = array

    def value(self, code: int) -> bytes:
        return bytes(self.matrix[code, : self.lengths[code]])


def _clean(value: str) -> bytes:
    """A value as UTF-8, with line breaks made spaces: one record must stay one line."""
    return value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").encode("utf-8")


Segment = tuple[ByteTable, np.ndarray] | bytes  # (table, codes) or a literal


def merge_segments(segments: list[Segment], limit: int = MERGE_LIMIT) -> list[Segment]:
    """Fuse neighbours (literals, and small tables into their product) so fewer passes are needed:
    `,<station>,<plate>\n` becomes one table of 100 values."""
    merged: list[Segment] = []
    for segment in segments:
        if not merged:
            merged.append(segment)
            continue
        last = merged[-1]
        if isinstance(last, bytes) and isinstance(segment, bytes):
            merged[-1] = last + segment
        elif isinstance(last, bytes):
            assert not isinstance(segment, bytes)  # the branch above took two literals
            table, codes = segment
            if table.size <= limit:
                merged[-1] = (ByteTable(np.char.add(last, table.array)), codes)
            else:
                merged.append(segment)
        elif isinstance(segment, bytes):
            table, codes = last
            if table.size <= limit:
                merged[-1] = (ByteTable(np.char.add(table.array, segment)), codes)
            else:
                merged.append(segment)
        else:
            (left, left_codes), (right, right_codes) = last, segment
            if left.size * right.size <= limit:
                product = np.char.add(np.repeat(left.array, right.size), np.tile(right.array, left.size))
                merged[-1] = (ByteTable(product), left_codes * right.size + right_codes)
            else:
                merged.append(segment)
    return merged


def assemble(segments: list[Segment], count: int) -> bytes:
    """Concatenate per-record segments into one bytes object, record after record."""
    if count == 0:
        return b""
    segments = merge_segments(segments)
    lengths = np.zeros(count, dtype=np.int64)
    for segment in segments:
        if isinstance(segment, bytes):
            lengths += len(segment)
        else:
            table, codes = segment
            lengths += table.lengths[codes]
    ends = np.cumsum(lengths)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    position = ends - lengths
    for segment in segments:
        if isinstance(segment, bytes):
            for offset, byte in enumerate(segment):
                out[position + offset] = byte
            position += len(segment)
            continue
        table, codes = segment
        if table.fixed:
            if table.width:
                out[position[:, None] + np.arange(table.width)] = table.matrix[codes]
            position += table.width
        elif table.size <= TABLE_LOOP_LIMIT:
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(table.size + 1))
            for code in range(table.size):
                size = int(table.lengths[code])
                if size == 0 or bounds[code] == bounds[code + 1]:
                    continue
                rows = order[bounds[code] : bounds[code + 1]]
                out[position[rows][:, None] + np.arange(size)] = table.matrix[code, :size]
            position += table.lengths[codes]
        else:
            record_lengths = table.lengths[codes]
            matrix = table.matrix[codes]
            for offset in range(table.width):
                longer = record_lengths > offset
                out[position[longer] + offset] = matrix[longer, offset]
            position += record_lengths
    return out.tobytes()


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, code of each element): a linear pass when sorted, else np.unique."""
    if values.size and bool((values[1:] >= values[:-1]).all()):
        starts = np.concatenate(([True], values[1:] != values[:-1]))
        return values[starts], np.cumsum(starts) - 1
    distinct, codes = np.unique(values, return_inverse=True)
    return distinct, codes.reshape(-1)


class RecordFactory:
    """Builds `RecordChunk`s from a spec; seeded, so a seed and event times give the same bytes."""

    def __init__(self, spec: GeneratorSpec, *, seed: int | None = None) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self._tables: dict[int, ByteTable] = {}
        self._cumulative: dict[int, np.ndarray] = {}
        self._fraction_tables: dict[int, ByteTable] = {}
        self._moments = {i: compile_moment(p.format, utc=p.utc) for i, p in enumerate(spec.parts) if isinstance(p, DateField)}
        self._draws = {i: p.draw() for i, p in enumerate(spec.parts) if isinstance(p, FakerField)}
        self._pick_tables: dict[int, ByteTable] = {}
        self._python_random: random.Random | None = None
        for index, part in enumerate(spec.parts):
            if isinstance(part, (WeightedChoice, UniformChoice)):
                self._tables[index] = ByteTable([_clean(v) for v in part.data])
            if isinstance(part, WeightedChoice):
                self._cumulative[index] = np.cumsum(np.asarray(part.weights, dtype=np.float64))
            if isinstance(part, NumberField) and _number_steps(part) <= 100_000:
                steps = _number_steps(part)
                self._tables[index] = ByteTable([_format_number(part, k) for k in range(steps)])
        # Bytes per record: estimated from the template until a chunk has been made.
        self.record_bytes = float(
            sum(len(_clean(p.text)) for p in spec.parts if isinstance(p, Literal)) + 16 * len(spec.fields) + 1
        )
        self.last_station_codes: np.ndarray | None = None
        self.station_index = spec.station_part_index
        self.station_names: np.ndarray | None = None
        self.station_counts: np.ndarray | None = None
        if self.station_index is not None:
            station = spec.parts[self.station_index]
            assert isinstance(station, WeightedChoice)
            self.station_names = np.array(list(station.data), dtype=object)
            self.station_counts = np.zeros(len(station.data), dtype=np.int64)
            self.template_station_weights = tuple(station.weights)

    @property
    def stations(self) -> tuple[str, ...]:
        return tuple(self.station_names) if self.station_names is not None else ()

    def set_station_weights(self, weights: tuple[float, ...]) -> None:
        if self.station_index is None:
            raise UsageError("this template has no weighted station field (the second field) to skew")
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        if cumulative[-1] <= 0:
            raise UsageError("station weights are all zero")
        self._cumulative[self.station_index] = cumulative

    def per_station(self) -> dict[str, int]:
        if self.station_names is None or self.station_counts is None:
            return {}
        return {str(name): int(n) for name, n in zip(self.station_names, self.station_counts)}

    def _draw_segments(self, draw: Draw, event_times: np.ndarray) -> list[Segment]:
        """A faker.js helper's values as segments: picks and joins column-wise (codes into
        tables), per-record functions through one seeded `random.Random`."""
        count = len(event_times)
        if isinstance(draw, Pick):
            table = self._pick_tables.get(id(draw))
            if table is None:
                table = self._pick_tables[id(draw)] = ByteTable([_clean(v) for v in draw.choices])
            return [(table, self.rng.integers(0, table.size, size=count))]
        if isinstance(draw, Join):
            segments: list[Segment] = []
            for part in draw.parts:
                segments.extend([_clean(part)] if isinstance(part, str) else self._draw_segments(part, event_times))
            return segments
        if self._python_random is None:
            self._python_random = random.Random(int(self.rng.integers(0, 2**63)))
        values = draw.values(self._python_random, count, event_times)
        return [(ByteTable([_clean(v) for v in values]), np.arange(count))]

    def _date_segments(self, index: int, part: DateField, event_times: np.ndarray) -> list[Segment]:
        milliseconds = np.floor(event_times * 1000.0 + 1e-3).astype(np.int64)
        seconds = milliseconds // 1000
        segments: list[Segment] = []
        distinct: np.ndarray | None = None
        codes: np.ndarray | None = None
        for piece in self._moments[index]:
            if piece.kind == "second":
                if distinct is None:
                    distinct, codes = _runs(seconds)
                assert codes is not None
                if all(is_literal_token(t) for t in piece.tokens):
                    segments.append(_clean(format_second(piece.tokens, datetime.now(timezone.utc))))
                else:
                    segments.append((ByteTable(_format_seconds(piece.tokens, distinct, utc=part.utc)), codes))
            elif piece.kind == "fraction":
                table = self._fraction_tables.get(piece.width)
                if table is None:
                    table = ByteTable([format_fraction(ms, piece.width).encode() for ms in range(1000)])
                    self._fraction_tables[piece.width] = table
                segments.append((table, milliseconds % 1000))
            else:  # epoch milliseconds, one value per record
                segments.append((ByteTable([str(ms).encode() for ms in milliseconds.tolist()]), np.arange(len(milliseconds))))
        return segments

    @property
    def chunk_records(self) -> int:
        """Records per chunk: MAX_CHUNK, fewer when records are long (CHUNK_BYTES a chunk)."""
        return max(1, min(MAX_CHUNK, int(CHUNK_BYTES // max(self.record_bytes, 1.0))))

    def tally(self) -> None:
        """Count the last chunk's stations into `per_station` (once it has been delivered)."""
        if self.last_station_codes is not None and self.station_counts is not None:
            self.station_counts += np.bincount(self.last_station_codes, minlength=len(self.station_counts))
            self.last_station_codes = None

    def make_chunk(self, event_times: np.ndarray, *, tally: bool = True) -> RecordChunk:
        """One chunk: a record per event time (float64 epoch seconds); `tally` counts its stations now."""
        event_times = np.asarray(event_times, dtype=np.float64)
        count = len(event_times)
        segments: list[Segment] = []
        station_codes: np.ndarray | None = None
        for index, part in enumerate(self.spec.parts):
            if isinstance(part, Literal):
                segments.append(_clean(part.text))
            elif isinstance(part, DateField):
                segments.extend(self._date_segments(index, part, event_times))
            elif isinstance(part, WeightedChoice):
                cumulative = self._cumulative[index]
                draws = self.rng.random(count) * cumulative[-1]
                codes = np.minimum(np.searchsorted(cumulative, draws, side="right"), len(cumulative) - 1)
                segments.append((self._tables[index], codes))
                if index == self.station_index:
                    station_codes = codes
            elif isinstance(part, UniformChoice):
                segments.append((self._tables[index], self.rng.integers(0, len(part.data), size=count)))
            elif isinstance(part, NumberField):
                steps = _number_steps(part)
                codes = self.rng.integers(0, steps, size=count)
                table = self._tables.get(index)
                if table is None:
                    table = ByteTable([_format_number(part, k) for k in codes.tolist()])
                    codes = np.arange(count)
                segments.append((table, codes))
            elif isinstance(part, FakerField):
                segments.extend(self._draw_segments(self._draws[index], event_times))
        segments.append(b"\n")
        lines = assemble(segments, count)
        if count:
            self.record_bytes = len(lines) / count
        stations = None
        self.last_station_codes = station_codes
        if station_codes is not None and self.station_names is not None:
            stations = self.station_names[station_codes]
            if tally:
                self.tally()
        return RecordChunk(
            lines=lines,
            count=count,
            event_times=event_times,
            stations=stations,
            station_codes=station_codes if stations is not None else None,
            station_names=self.stations if stations is not None else None,
        )


ISO_SECOND_TOKENS = ("YYYY", "[-]", "MM", "[-]", "DD", "[T]", "HH", "[:]", "mm", "[:]", "ss")  # as kdg.moment tokenizes


def _format_seconds(tokens: tuple[str, ...], seconds: np.ndarray, *, utc: bool) -> np.ndarray | list[bytes]:
    """Render a run of second-level tokens for each distinct second (epoch seconds)."""
    if utc and tokens[: len(ISO_SECOND_TOKENS)] == ISO_SECOND_TOKENS and all(is_literal_token(t) for t in tokens[11:]):
        iso = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype("S19")
        tail = _clean(format_second(tokens[11:], datetime.now(timezone.utc)))
        return np.char.add(iso, tail) if tail else iso
    pattern = strftime_pattern(tokens)
    texts = []
    for second in seconds.tolist():
        moment = datetime.fromtimestamp(second, tz=timezone.utc)
        if not utc:
            moment = moment.astimezone()
        texts.append(_clean(moment.strftime(pattern) if pattern is not None else format_second(tokens, moment)))
    return texts


def _number_steps(part: NumberField) -> int:
    return math.floor((part.maximum - part.minimum) / part.precision + 1e-9) + 1


def _format_number(part: NumberField, step: int) -> bytes:
    """faker.js: `precision * k` in double arithmetic, printed as JavaScript prints numbers."""
    return js_number(part.precision * (round(part.minimum / part.precision) + step)).encode()


# ---------------------------------------------------------------------------------------------
# Rate: constant, or a profile of the day


DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # the KDG's getDay()


@dataclass(frozen=True)
class RateProfile:
    """Mean records per second for each hour of each day of the week (UTC), with relative noise:
    the KDG's periodic mode. `week[d * 24 + h]` is (rate, noise) for day d (0 = Sunday) and hour h;
    `smooth` moves the rate linearly from one hour's to the next's over the hour, as the KDG's
    "smoothing" does."""

    week: tuple[tuple[float, float], ...]  # 168 (rate, noise) pairs
    smooth: bool = False

    @property
    def rates(self) -> tuple[float, ...]:
        """Sunday's 24 hourly rates (every day's, for a profile without a day column)."""
        return tuple(rate for rate, _ in self.week[:24])

    @property
    def mean_rate(self) -> float:
        return sum(rate for rate, _ in self.week) / len(self.week)

    def at(self, minute: int) -> tuple[float, float]:
        """(rate, noise) for a UTC minute since the epoch (1970-01-01 was a Thursday)."""
        hour = minute // 60
        slot = ((hour // 24 + 4) % 7) * 24 + hour % 24
        rate, noise = self.week[slot]
        if not self.smooth:
            return rate, noise
        next_rate, next_noise = self.week[(slot + 1) % len(self.week)]
        portion = (minute % 60) / 60
        return rate + (next_rate - rate) * portion, noise + (next_noise - noise) * portion


def _day(cell: str) -> int | None:
    text = cell.strip().lower()
    if text.isdigit() and int(text) <= 6:
        return int(text)
    for number, name in enumerate(DAY_NAMES):
        if len(text) >= 3 and name.startswith(text):
            return number
    return None


def load_rate_profile(path: Path, *, smooth: bool = False) -> RateProfile:
    """Read `hour,rate[,noise]` rows, or `day,hour,rate[,noise]` rows (day 0-6 from Sunday, or a name
    such as Mon); a row without a day applies to every day. Hours not listed keep the rate of the
    hour before (across days and around the week)."""
    text = read_user_file(path, "rate profile").lstrip("\ufeff")  # a spreadsheet's UTF-8 BOM
    listed: dict[int, tuple[float, float]] = {}
    rows = [row for row in csv.reader(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))]
    with_day = False
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if number == 1 and cells and cells[0].lower() in {"hour", "day"}:
            with_day = cells[0].lower() == "day"
            continue
        day = _day(cells[0]) if cells else None
        has_day = with_day or (day is not None and not cells[0].strip().isdigit())
        try:
            if has_day:
                if day is None:
                    raise ValueError(cells[0])
                cells = cells[1:]
            hour, rate = int(cells[0]), float(cells[1])
            noise = float(cells[2]) if len(cells) > 2 and cells[2] else 0.0
        except (ValueError, IndexError):
            shape = "day,hour,rate[,noise]" if has_day else "hour,rate[,noise]"
            # the row itself is not quoted: the file could be anything the user can read (e.g. a secret)
            raise UsageError(f"rate profile {path}: row {number} is not {shape} (numbers)") from None
        if not 0 <= hour <= 23 or not math.isfinite(rate) or rate < 0 or not math.isfinite(noise) or noise < 0:
            raise UsageError(f"rate profile {path}: row {number} needs an hour 0-23, a rate >= 0 and noise >= 0")
        for d in [day] if has_day and day is not None else range(7):
            listed[d * 24 + hour] = (rate, noise)
    if not listed or all(rate == 0 for rate, _ in listed.values()):
        raise UsageError(f"rate profile {path} lists no hour with a rate above 0")
    week = []
    last = listed[max(listed)]
    for slot in range(7 * 24):
        last = listed.get(slot, last)
        week.append(last)
    return RateProfile(week=tuple(week), smooth=smooth)


class Schedule:
    """When each record is due, as an offset in seconds from the run's start.

    Piecewise constant rates over whole UTC minutes (a constant rate is one endless piece);
    C(t), the records due by offset t, is piecewise linear and record i is at C^-1(i)."""

    def __init__(self, *, start: float, rate: float, profile: RateProfile | None = None, seed: int | None = None) -> None:
        self.start = start
        self.rate = rate
        self.profile = profile
        self._noise_seed = (
            seed if seed is not None else int(cast(int, np.random.SeedSequence().entropy) % (2**32))
        )  # an int when none is given
        self._offsets: list[float] = [0.0]  # piece starts (offsets)
        self._counts: list[float] = [0.0]  # C at piece starts
        self._rates: list[float] = []

    def _minute_rate(self, minute: int) -> float:
        assert self.profile is not None
        mean, noise = self.profile.at(minute)
        if noise <= 0 or mean <= 0:
            return mean
        wobble = np.random.default_rng([self._noise_seed, minute % (2**32)]).standard_normal()
        return max(0.0, mean * (1.0 + noise * float(wobble)))

    def _extend(self, *, until_count: float | None = None, until_offset: float | None = None) -> None:
        """Add pieces until C reaches `until_count` or the pieces reach `until_offset`."""
        while (until_count is not None and self._counts[-1] <= until_count) or (
            until_offset is not None and self._offsets[-1] <= until_offset
        ):
            begin = self._offsets[-1]
            absolute = self.start + begin
            minute = math.floor(absolute / 60)
            end = (minute + 1) * 60 - self.start
            if end - begin < 1e-9:
                end += 60
            rate = self._minute_rate(minute)
            self._rates.append(rate)
            self._offsets.append(end)
            self._counts.append(self._counts[-1] + rate * (end - begin))
            if len(self._rates) > 10_000_000:
                raise TollError("the rate profile produces no records")

    def offsets(self, first: int, count: int) -> np.ndarray:
        """Offsets of records first .. first+count-1."""
        index = np.arange(first, first + count, dtype=np.float64)
        if self.profile is None:
            return index / self.rate
        self._extend(until_count=float(first + count))
        counts = np.asarray(self._counts)
        piece = np.searchsorted(counts, index, side="right") - 1
        piece = np.minimum(piece, len(self._rates) - 1)
        rates = np.asarray(self._rates)[piece]
        return np.asarray(self._offsets)[piece] + (index - counts[piece]) / rates

    def offset_of(self, record: int) -> float:
        return float(self.offsets(record, 1)[0])

    def count_at(self, offset: float) -> float:
        """C(offset): records due by then, as a real number."""
        if self.profile is None:
            return offset * self.rate
        self._extend(until_offset=offset)
        piece = int(np.searchsorted(np.asarray(self._offsets), offset, side="right")) - 1
        return self._counts[piece] + self._rates[piece] * (offset - self._offsets[piece])

    def due_by(self, offset: float) -> int:
        """Records whose offset is <= `offset`."""
        return math.floor(self.count_at(offset) + 1e-9) + 1

    def before(self, offset: float) -> int:
        """Records whose offset is < `offset`."""
        return max(0, math.ceil(self.count_at(offset) - 1e-9))


# ---------------------------------------------------------------------------------------------
# Options, parsing helpers and the run loop


# ---------------------------------------------------------------------------------------------
# Where a home's event time stands: a backfill continues after it
#
# Every run that delivers into a home records the last event time it delivered in
# `<home>/event-time.json` (in the ledger, so teardown removes it). A later `--backfill` without
# `--start` starts just after it instead of ending "now": typed by hand, the workshop's backfills then
# follow one another in event time as `toll workshop` lines them up, and the anomaly app, whose
# windows close by event time, counts none of them late.
#
# The price: backfills typed after the first one end after now, so the home's event time runs ahead
# of the clock. A live run's records carry the clock's time, so until the clock catches up they fall
# in windows the anomaly app has closed (late: not scored), and `--last` queries end at now. So a
# backfill that ends ahead of the clock says by how much (`ahead_of_clock_note`), a live run in such
# a home warns before it sends anything (`live_run_behind_note`), and its late-records note says why.

# Event time this far ahead of the clock is not worth a word (a backfill "ending now" ends a hair after).
AHEAD_TOLERANCE_S = 1.0

# The file's names and `read_last_event` are in tollcli.state (importable from here too, as before).


def record_last_event(backend: Backend, last_event: float) -> None:
    """Remember `last_event` (if later than what is recorded) for the next backfill in this home."""
    home = Path(backend.settings.home)
    known = read_last_event(home)
    if known is not None and known >= last_event:
        return
    ledger = backend.load_ledger()
    if ledger is None:
        return
    path = event_time_path(home)
    if ledger.find(EVENT_TIME_KIND, EVENT_TIME_FILE) is None:
        ledger.record(Resource(kind=EVENT_TIME_KIND, name=EVENT_TIME_FILE, settings={"path": str(path)}))
    atomic_write_json(path, {"last_event": format_instant(last_event), "last_event_epoch": last_event})


def ahead_of_clock(last_event: float | None, now: float) -> float:
    """Seconds by which `last_event` is ahead of `now` (0 if it is not, or by a negligible margin)."""
    if last_event is None or last_event - now <= AHEAD_TOLERANCE_S:
        return 0.0
    return last_event - now


def ahead_of_clock_note(last_event: float, ahead: float) -> str:
    """What a backfill that ended ahead of the clock says in its summary."""
    lead = format_duration(round(ahead))
    return (
        f"event time here now runs {lead} ahead of the clock (up to {format_instant(last_event)}): "
        "a live `toll generate` in this "
        f"home is late for the anomaly app, and not scored, until the clock catches up in {lead}; to avoid that, give "
        "a backfill --start so that it ends before now"
    )


def live_run_behind_note(last_event: float, ahead: float) -> str:
    """What a live run says before it starts in a home whose event time is ahead of the clock."""
    lead = format_duration(round(ahead))
    return (
        f"this home's event time runs {lead} ahead of the clock (a backfill delivered up to {format_instant(last_event)}): "
        f"this live run's records carry the clock's time, so the anomaly app counts them late and does not score "
        f"them until the clock catches up in {lead} (continue with `toll generate --backfill` instead, or wait)"
    )


# A live (real-time) run marks the home while it runs, so `toll query` can say that records are
# still buffered (up to 60 s) and on their way: `<home>/live-runs/<pid>.json`, removed when the run
# ends. The folder is in the ledger (teardown removes it); a marker whose process is gone (kill -9)
# is ignored. Local backend only: it is a hint about this machine's delivery stream.
LIVE_RUNS_DIR = "live-runs"
LIVE_RUNS_KIND = "live-runs"


def mark_live_run(backend: Backend) -> Path | None:
    if not backend.capabilities.local_delivery:
        return None
    try:
        ledger = backend.load_ledger()
        if ledger is None:
            return None
        folder = Path(backend.settings.home) / LIVE_RUNS_DIR
        if ledger.find(LIVE_RUNS_KIND, LIVE_RUNS_DIR) is None:
            ledger.record(Resource(kind=LIVE_RUNS_KIND, name=LIVE_RUNS_DIR, settings={"path": str(folder)}))
        folder.mkdir(exist_ok=True)
        marker = folder / f"{os.getpid()}.json"
        atomic_write_json(marker, {"pid": os.getpid(), "started": format_instant(time.time())})
    except OSError:
        return None  # a hint for queries, never a reason to stop generating
    return marker


def unmark_live_run(marker: Path | None) -> None:
    if marker is not None:
        marker.unlink(missing_ok=True)


def live_runs(home: Path) -> list[int]:
    """Process ids of `toll generate` runs delivering into this home's local stream right now."""
    pids = []
    for marker in (Path(home) / LIVE_RUNS_DIR).glob("*.json"):
        try:
            pid = int(json.loads(marker.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: not a run
        if process_alive(pid):  # a marker whose process is gone (kill -9) is ignored
            pids.append(pid)
    return sorted(pids)


@dataclass
class GenerateOptions:
    """Everything `toll generate` (and `toll workshop`) can ask of the generator."""

    rate: float = DEFAULT_RATE
    count: int | None = None
    duration: float | None = None  # seconds
    seed: int | None = None
    template_path: Path | None = None
    spec: GeneratorSpec | None = None  # a parsed template (wins over template_path)
    backfill: bool = False
    start: datetime | None = None  # backfill's first event time; default now minus the run's length
    rate_profile_path: Path | None = None
    rate_profile: RateProfile | None = None
    smooth: bool = False  # with a rate profile: move linearly between hours (the KDG's smoothing)
    skew_station: str | None = None  # start skewed towards (or, with drop, without) this station
    drop: bool = False
    watch_skew: bool = True  # follow `toll skew` while running


@dataclass
class GenerateProgress:
    generated: int
    accepted: int
    elapsed: float
    rate: float
    per_station: dict[str, int]


@dataclass
class GenerateSummary:
    records: int  # accepted by the sink: equals the records delivered
    generated: int
    retried: int
    failed: int
    objects: int
    elapsed_s: float
    target_rate: float | None
    achieved_rate: float
    per_station: dict[str, int]
    stopped_by: str  # count, duration, Ctrl-C, SIGTERM, stop request (should_stop), output closed
    backfill: bool
    first_event: str | None = None
    last_event: str | None = None
    skew: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)  # said with the summary
    warnings: list[str] = field(default_factory=list)  # said before the run sent anything (`on_warning`)
    continued_after: str | None = None  # a backfill that continued after the home's last event time
    ahead_of_clock_s: float = 0.0  # how far the home's last event time ran ahead of the clock when the run ended
    late_records: int = 0  # records the anomaly app counted late (their window had closed): not scored
    api_calls: int = 0  # AWS: PutRecordBatch / PutRecords calls, resends included
    firehose_records: int = 0  # AWS: records the stream accepted, many lines each: Firehose's billing units


@dataclass
class PreparedRun:
    """Options checked and resolved; nothing has been written yet."""

    options: GenerateOptions
    spec: GeneratorSpec
    profile: RateProfile | None
    limit: int | None  # records to send, when known up front
    start: float | None  # backfill start (epoch seconds)
    continued_after: float | None = None  # the home's last event time this backfill continues after


# Firehose's Direct PUT quota per stream in its largest regions; a higher rate is a typo that fills disks.
MAX_RATE = 500_000


def prepare(options: GenerateOptions, *, last_event: float | None = None) -> PreparedRun:
    """Check every option (UsageError on bad input) before anything is opened or written.

    A backfill starts at `--start`; else just after `last_event` (the home's last event time, when it
    holds data); else so that it ends now."""
    if not isinstance(options.rate, (int, float)) or not math.isfinite(options.rate) or options.rate <= 0:
        raise UsageError(f"--rate must be a number above 0, not {options.rate}")
    if options.rate > MAX_RATE:
        raise UsageError(f"--rate {options.rate:g} is above {MAX_RATE:,} records/s, a Firehose stream's Direct PUT quota")
    if options.count is not None and options.count < 1:
        raise UsageError(f"--count must be at least 1, not {options.count}")
    if options.seed is not None and options.seed < 0:
        raise UsageError(f"--seed must be 0 or more, not {options.seed}")  # numpy's generators refuse negative seeds
    if options.duration is not None and (not math.isfinite(options.duration) or options.duration <= 0):
        raise UsageError("--duration must be above 0")
    if options.count is not None and options.duration is not None:
        raise UsageError("give --count or --duration, not both")
    if options.start is not None and not options.backfill:
        raise UsageError("--start sets backfill's event time: add --backfill")
    if options.backfill and options.count is None and options.duration is None:
        raise UsageError("--backfill needs --count or --duration (it runs as fast as it can)")
    if options.drop and not options.skew_station:
        raise UsageError("--drop needs --skew STATION")
    spec = options.spec or (load_template(options.template_path) if options.template_path else default_spec())
    profile = options.rate_profile or (
        load_rate_profile(options.rate_profile_path, smooth=options.smooth) if options.rate_profile_path else None
    )
    if options.skew_station is not None:
        station = spec.station_field
        if station is None:
            raise UsageError("--skew needs a template whose second field is a weighted station list")
        check_station(options.skew_station, station.data)
    limit: int | None = options.count
    start: float | None = None
    continued_after: float | None = None
    if options.backfill:
        mean_rate = profile.mean_rate if profile else options.rate
        length = options.duration if options.duration is not None else (options.count or 0) / mean_rate
        if options.start is not None:
            start = options.start.timestamp()
        elif last_event is not None:
            start, continued_after = last_event + 1 / mean_rate, last_event
        else:
            start = time.time() - length
    return PreparedRun(options=options, spec=spec, profile=profile, limit=limit, start=start, continued_after=continued_after)


def sample_records(options: GenerateOptions, count: int) -> bytes:
    """`count` records from the template, as the KDG's "Test template" shows them."""
    if count < 1:
        raise UsageError(f"--sample must be at least 1, not {count}")
    run = prepare(options)
    factory = RecordFactory(run.spec, seed=options.seed)
    _apply_skew(factory, _initial_skew(options, None))
    start = run.start if run.start is not None else time.time()
    schedule = Schedule(start=start, rate=options.rate, profile=run.profile, seed=options.seed)
    return factory.make_chunk(start + schedule.offsets(0, count)).lines


def _initial_skew(options: GenerateOptions, home: Path | None) -> SkewState | None:
    if options.skew_station:
        return SkewState(station=options.skew_station, mode="drop" if options.drop else "divert")
    if home is not None and options.watch_skew:
        return read_skew(home)
    return None


def _apply_skew(factory: RecordFactory, state: SkewState | None) -> str | None:
    """Re-weight the station field; a note when the state names a station we do not have."""
    if factory.station_index is None:
        return None if state is None else "skew ignored: the template has no weighted station field"
    if state is not None and state.station not in factory.stations:
        return f"skew ignored: {state.station} is not a station of this template"
    pattern = skewed_spec().station_field
    assert pattern is not None
    try:
        weights = skewed_weights(factory.stations, factory.template_station_weights, state, pattern.data, pattern.weights)
    except UsageError as exc:
        return f"skew ignored: {exc.message}"
    factory.set_station_weights(weights)
    return None


def run_generation(
    backend: Backend,
    options: GenerateOptions,
    *,
    on_progress: Callable[[GenerateProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sink: RecordSink | None = None,
    on_alert: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Generate and deliver records until the count, the duration, or a stop request.

    Opens `backend.open_sink(realtime=not backfill)` (or uses `sink`, e.g. stdout, in which case
    no anomaly feed is opened) and hands each chunk to the sink, then to the anomaly feed, whose
    alerts go to `on_alert` (default: stderr). What the run must say before it sends anything (a
    live run in a home whose event time is ahead of the clock) goes to `on_warning` and into the
    summary's `warnings`. The sink is flushed and the feed closed however the run ends, Ctrl-C
    included."""
    own_sink = sink is None
    delivers_home = own_sink and backend is not None
    last_known = read_last_event(Path(backend.settings.home)) if delivers_home else None
    run = prepare(options, last_event=last_known if options.backfill else None)
    home = Path(backend.settings.home) if backend is not None and options.watch_skew else None
    factory = RecordFactory(run.spec, seed=options.seed)
    skew_state = _initial_skew(options, home)
    notes: list[str] = []
    note = _apply_skew(factory, skew_state)
    if note:
        notes.append(note)
    watcher = SkewWatcher(home) if home is not None else None
    if run.continued_after is not None:
        notes.append(
            f"this home already holds records up to {format_instant(run.continued_after)}: the backfill continued after them "
            "(give --start to choose its event time)"
        )

    warnings: list[str] = []
    behind = 0.0 if options.backfill else ahead_of_clock(last_known, time.time())
    if last_known is not None and behind:
        warnings.append(live_run_behind_note(last_known, behind))
        if on_warning is not None:
            on_warning(warnings[-1])

    if sink is None:  # (own_sink)
        sink = backend.open_sink(realtime=not options.backfill)
    marker = mark_live_run(backend) if own_sink and not options.backfill else None
    try:
        feed = backend.open_anomaly_feed(on_alert=on_alert, bulk=options.backfill) if (own_sink and backend is not None) else None
    except BaseException:
        unmark_live_run(marker)
        raise

    clock = time.monotonic
    began = clock()
    wall_start = time.time()
    start = run.start if options.backfill else wall_start
    assert start is not None
    schedule = Schedule(start=start, rate=options.rate, profile=run.profile, seed=options.seed)
    limit = run.limit
    if options.duration is not None:
        limit = schedule.before(options.duration)
    generated = 0
    stopped_by = "Ctrl-C"
    first_event: float | None = None
    last_event: float | None = None
    last_skew_poll = began
    last_progress = began

    def send(count: int) -> None:
        nonlocal generated, first_event, last_event
        while count > 0:
            size = min(count, factory.chunk_records)
            times = start + schedule.offsets(generated, size)
            chunk = factory.make_chunk(times, tally=False)
            sink.write(chunk)
            factory.tally()
            if feed is not None:
                feed.consume(chunk)
            if first_event is None:
                first_event = float(times[0])
            last_event = float(times[-1])
            generated += size
            count -= size

    def housekeeping(now: float) -> None:
        nonlocal last_skew_poll, last_progress, skew_state
        if watcher is not None and now - last_skew_poll >= SKEW_POLL:
            last_skew_poll = now
            if watcher.changed():
                skew_state = watcher.current()
                message = _apply_skew(factory, skew_state)
                if message and message not in notes:
                    notes.append(message)
        sink.poll()
        if on_progress is not None and now - last_progress >= PROGRESS_EVERY:
            last_progress = now
            on_progress(_progress(now))

    def _progress(now: float) -> GenerateProgress:
        elapsed = max(now - began, 1e-9)
        return GenerateProgress(generated, sink.stats.accepted, elapsed, generated / elapsed, factory.per_station())

    try:
        if options.backfill:
            assert limit is not None
            while generated < limit:
                if should_stop is not None and should_stop():
                    stopped_by = "stop request"
                    break
                send(min(MAX_CHUNK, limit - generated))
                housekeeping(clock())
            else:
                stopped_by = "count" if options.count is not None else "duration"
        else:
            while True:
                if should_stop is not None and should_stop():
                    stopped_by = "stop request"
                    break
                now = clock()
                due = schedule.due_by(now - began)
                if limit is not None:
                    due = min(due, limit)
                if due > generated:
                    send(due - generated)
                if limit is not None and generated >= limit:
                    # a run of N records at R/s lasts N/R seconds, like the schedule says
                    end_at = options.duration if options.duration is not None else schedule.offset_of(limit)
                    _sleep_until(began + end_at, clock, should_stop)
                    stopped_by = "count" if options.count is not None else "duration"
                    break
                housekeeping(clock())
                next_due = began + schedule.offset_of(generated)
                now = clock()
                time.sleep(min(MAX_TICK, max(MIN_TICK, next_due - now)))
    except KeyboardInterrupt as exc:
        stopped_by = signal_name(exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    except BrokenPipeError:
        stopped_by = "output closed"
    finally:
        try:
            sink.close()
        finally:
            try:
                if feed is not None:
                    feed.close()
            finally:
                unmark_live_run(marker)
                if delivers_home and last_event is not None and sink.stats.accepted:
                    try:
                        record_last_event(backend, last_event)
                    except OSError:
                        pass  # a full disk already fails the run; the next backfill then starts as in a new home
    elapsed = max(clock() - began, 1e-9)
    stats = sink.stats
    late = feed.late_records if feed is not None else 0
    if late:
        if options.backfill:
            why = "a backfill should start after the home's last event"
        elif behind:
            why = "a live run's records carry the clock's time, and this home's event time was ahead of it"
        else:
            why = "a live run's records carry the clock's time: something had delivered later event times here"
        notes.append(
            f"the anomaly app counted {late:,} {plural(late, 'record')} late: their event time fell in windows it had "
            f"already closed, so it left them out of its scores ({why})"
        )
    # the home's event time: the later of what it held and what this backfill delivered
    home_last = max((t for t in (last_known, last_event if stats.accepted else None) if t is not None), default=None)
    ahead = ahead_of_clock(home_last, time.time()) if delivers_home else 0.0
    if options.backfill and home_last is not None and ahead:  # a live run warned at its start
        notes.append(ahead_of_clock_note(home_last, ahead))
    return GenerateSummary(
        records=stats.accepted,
        generated=generated,
        retried=stats.retried,
        failed=stats.failed,
        objects=stats.objects,
        elapsed_s=round(elapsed, 3),
        target_rate=None if run.profile else options.rate,
        achieved_rate=round(stats.accepted / elapsed, 1),
        per_station=factory.per_station(),
        stopped_by=stopped_by,
        backfill=options.backfill,
        first_event=format_instant(first_event) if first_event is not None else None,
        last_event=format_instant(last_event) if last_event is not None else None,
        skew=skew_state.to_json() if skew_state is not None else None,
        notes=notes,
        warnings=warnings,
        continued_after=format_instant(run.continued_after) if run.continued_after is not None else None,
        ahead_of_clock_s=round(ahead, 3),
        late_records=late,
        api_calls=stats.api_calls,
        firehose_records=stats.stream_records,
    )


def signal_name(signum: int) -> str:
    """How a summary names the signal that stopped a run."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _sleep_until(deadline: float, clock: Callable[[], float], should_stop: Callable[[], bool] | None) -> None:
    while True:
        left = deadline - clock()
        if left <= 0 or (should_stop is not None and should_stop()):
            return
        time.sleep(min(left, MAX_TICK))
