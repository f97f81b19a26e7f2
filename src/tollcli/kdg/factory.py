"""The KDG template's renderer: a whole chunk of records at once, as bytes, with numpy.

`RecordFactory(spec, seed=...)` turns a `GeneratorSpec` (parsed from a KDG template by this package)
into `RecordChunk`s: weighted draws by binary search over cumulative weights, dates formatted once per
second of event time (`moment.py`'s formats), faker.js helpers drawn in bulk (`fakerjs.py`), and the
bytes of every column scattered into one buffer (`ByteTable`, `assemble`). Seeded, a seed and the
event times give the same bytes every time. The generator (`tollcli.generator`) paces the chunks and
hands them to a backend's sink.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

import numpy as np

from tollcli.errors import UsageError
from tollcli.kdg import (
    DateField,
    FakerField,
    GeneratorSpec,
    Literal,
    NumberField,
    UniformChoice,
    WeightedChoice,
    compile_moment,
    format_fraction,
    format_second,
    is_literal_token,
    strftime_pattern,
)
from tollcli.kdg.fakerjs import Draw, Join, Pick, js_number
from tollcli.records import RecordChunk

MAX_CHUNK = 32_768  # records per chunk: big enough to amortise numpy, small enough for memory
CHUNK_BYTES = 32 * 1024 * 1024  # ... and at most about this many bytes (a 100 KB template makes big records)
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


EMPTY_RECORD = b"string parameter is required!"  # what faker.fake returns once the text it renders is empty


def _fill_empty_records(lines: bytes) -> bytes:
    """Records that render empty (`{{lorem.words(-5)}}`) are faker.fake's answer to an empty text, as in the KDG."""
    if not lines.startswith(b"\n") and b"\n\n" not in lines:
        return lines
    records = lines.split(b"\n")[:-1]
    return b"".join((record or EMPTY_RECORD) + b"\n" for record in records)


def cumulative_weights(weights: tuple[float, ...] | list[float]) -> np.ndarray:
    """Running sums of the weights. Past the largest double they are Infinity, as in the KDG's
    weightedArrayElement: its draw (`Math.random() * Infinity`) is Infinity too, so it takes the
    first value whose running sum reaches Infinity, and so do we (no numpy overflow warning)."""
    with np.errstate(over="ignore"):
        return np.cumsum(np.asarray(weights, dtype=np.float64))


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
        # A record with literal text is never empty: only other templates need looking at for empty records.
        self._may_render_empty = not any(isinstance(part, Literal) and part.text for part in spec.parts)
        for index, part in enumerate(spec.parts):
            if isinstance(part, (WeightedChoice, UniformChoice)):
                self._tables[index] = ByteTable([_clean(v) for v in part.data])
            if isinstance(part, WeightedChoice):
                self._cumulative[index] = cumulative_weights(part.weights)
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
        cumulative = cumulative_weights(weights)
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
                # The KDG's loop: the first value whose running sum reaches the draw (`draw <= sum`).
                codes = np.minimum(np.searchsorted(cumulative, draws, side="left"), len(cumulative) - 1)
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
        if self._may_render_empty:
            lines = _fill_empty_records(lines)
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
