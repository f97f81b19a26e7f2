"""Event-time tumbling windows that count vehicles per station (the workshop's STEP ... BY 10 s).

A window `[start, start + size)` closes once the watermark (the latest event time seen) passes
`start + size + lateness`. A record whose window has already closed is late: it is counted in
`late_records` (reported with the next window to close), never added to a window that was
scored, and never silently dropped. Lateness is judged against the watermark at the start of
each chunk, so a chunk's own records never make each other late.

Only windows that hold records are emitted, as a SQL `GROUP BY` over a stream would: a gap in
event time (the generator was stopped for an hour) produces no run of empty windows.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tollcli.config import DEFAULT_LATENESS_SECONDS, DEFAULT_WINDOW_SECONDS

MAX_COUNT_TABLE = 4_000_000  # cells of add_codes' (window x station) table: 32 MB


@dataclass(frozen=True)
class ClosedWindow:
    """One window's counts, final: it will never change again."""

    start: float  # epoch seconds
    end: float
    counts: dict[str, int]
    late_records: int  # records that arrived after their own window closed, since the previous close
    rejected_records: int  # lines with no station, since the previous close

    @property
    def records(self) -> int:
        return sum(self.counts.values())


def stations_from_lines(lines: bytes) -> list[str | None]:
    """The station (field 2 of `date,toll,user`) of each line; None for a line that has none."""
    stations: list[str | None] = []
    for line in lines.splitlines():
        fields = line.split(b",", 2)
        station = fields[1].strip() if len(fields) >= 2 else b""
        stations.append(station.decode("utf-8", "replace") if station else None)
    return stations


class TumblingWindows:
    """Counts per station in event-time windows; `add` returns the windows it closed, oldest first."""

    def __init__(self, size: float = DEFAULT_WINDOW_SECONDS, lateness: float = DEFAULT_LATENESS_SECONDS) -> None:
        if not size > 0:
            raise ValueError("window size must be above 0")
        if lateness < 0:
            raise ValueError("lateness cannot be negative")
        self.size = float(size)
        self.lateness = float(lateness)
        self.open: dict[int, Counter[str]] = {}
        self.watermark = -math.inf
        self.closed_before: int | None = None  # every window with a lower index is closed
        self.late_records = 0  # in total
        self.rejected_records = 0  # in total
        self._late_pending = 0
        self._rejected_pending = 0

    # counting ---------------------------------------------------------------------------------
    def add(self, times: np.ndarray, stations: Sequence[str | None] | np.ndarray) -> list[ClosedWindow]:
        """Count one chunk (event times in epoch seconds, one station per record)."""
        times = np.asarray(times, dtype=np.float64)
        if len(times) != len(stations):
            raise ValueError(f"{len(times)} event times but {len(stations)} stations")
        if len(times) == 0:
            return []
        index = np.floor(times / self.size).astype(np.int64)
        station_array = np.asarray(stations, dtype=object)
        known = np.not_equal(station_array, np.array(None, dtype=object))  # elementwise: a station at all
        if not known.all():
            rejected = int((~known).sum())
            self.rejected_records += rejected
            self._rejected_pending += rejected
            index, times, station_array = index[known], times[known], station_array[known]
        index, times, station_array = self._drop_late(index, times, station_array)
        if len(index):
            self._count(index, station_array)
            self.watermark = max(self.watermark, float(times.max()))
        return self._close()

    def add_codes(self, times: np.ndarray, codes: np.ndarray, names: Sequence[str]) -> list[ClosedWindow]:
        """As `add`, with each record's station given as a code into `names` (the generator's own
        column): counted with one `bincount` instead of a Counter update per record."""
        times = np.asarray(times, dtype=np.float64)
        codes = np.asarray(codes, dtype=np.int64)
        if len(times) != len(codes):
            raise ValueError(f"{len(times)} event times but {len(codes)} station codes")
        if len(times) == 0:
            return []
        index = np.floor(times / self.size).astype(np.int64)
        index, times, codes = self._drop_late(index, times, codes)
        if len(index):
            first, span, width = int(index.min()), int(index.max() - index.min()) + 1, len(names)
            if span * width > MAX_COUNT_TABLE:  # records spread over ages: count them the slow way
                self._count(index, np.asarray(names, dtype=object)[codes])
            else:
                table = np.bincount((index - first) * width + codes, minlength=span * width).reshape(span, width)
                filled = np.flatnonzero(table.any(axis=1))
                for offset, row in zip(filled.tolist(), table[filled].tolist()):
                    counter = self._window(first + offset)
                    for name, count in zip(names, row):
                        if count:
                            counter[name] += count
            self.watermark = max(self.watermark, float(times.max()))
        return self._close()

    def _drop_late(self, index: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
        """Leave out (and count as late) records whose window has closed."""
        if self.closed_before is not None:
            on_time = index >= self.closed_before
            late = len(index) - int(on_time.sum())
            if late:
                self.late_records += late
                self._late_pending += late
                return (index[on_time], *(column[on_time] for column in columns))
        return (index, *columns)

    def _count(self, index: np.ndarray, stations: np.ndarray) -> None:
        if index[0] == index[-1] and (len(index) < 3 or bool((index == index[0]).all())):
            self._window(int(index[0])).update(stations.tolist())
            return
        if not bool((np.diff(index) >= 0).all()):
            order = np.argsort(index, kind="stable")
            index, stations = index[order], stations[order]
        bounds = [0, *(np.flatnonzero(np.diff(index)) + 1).tolist(), len(index)]
        for lo, hi in itertools.pairwise(bounds):
            self._window(int(index[lo])).update(stations[lo:hi].tolist())

    def _window(self, index: int) -> Counter[str]:
        counter = self.open.get(index)
        if counter is None:
            counter = self.open[index] = Counter()
        return counter

    def _close(self) -> list[ClosedWindow]:
        """Close every open window whose end plus lateness the watermark has passed."""
        if self.watermark == -math.inf:
            return []
        boundary = math.floor((self.watermark - self.lateness) / self.size)
        if self.closed_before is not None and boundary <= self.closed_before:
            return []
        self.closed_before = boundary
        due = sorted(i for i in self.open if i < boundary)
        closed = []
        for index in due:
            counts = self.open.pop(index)
            closed.append(
                ClosedWindow(
                    start=index * self.size,
                    end=(index + 1) * self.size,
                    counts=dict(counts),
                    late_records=self._late_pending,
                    rejected_records=self._rejected_pending,
                )
            )
            self._late_pending = self._rejected_pending = 0
        return closed

    # checkpoint -------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "lateness": self.lateness,
            "open": {str(i): dict(c) for i, c in self.open.items()},
            "watermark": None if self.watermark == -math.inf else self.watermark,
            "closed_before": self.closed_before,
            "late_records": self.late_records,
            "rejected_records": self.rejected_records,
            "late_pending": self._late_pending,
            "rejected_pending": self._rejected_pending,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TumblingWindows:
        windows = cls(size=float(state["size"]), lateness=float(state["lateness"]))
        windows.open = {int(i): Counter({str(k): int(v) for k, v in c.items()}) for i, c in state["open"].items()}
        watermark = state.get("watermark")
        windows.watermark = -math.inf if watermark is None else float(watermark)
        closed_before = state.get("closed_before")
        windows.closed_before = None if closed_before is None else int(closed_before)
        windows.late_records = int(state.get("late_records", 0))
        windows.rejected_records = int(state.get("rejected_records", 0))
        windows._late_pending = int(state.get("late_pending", 0))
        windows._rejected_pending = int(state.get("rejected_pending", 0))
        return windows
