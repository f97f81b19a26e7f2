"""Firehose-style delivery into the local bucket folder.

`LocalDeliveryStream` buffers records until the size hint or the interval hint is reached
(the interval counts event time in backfill, wall time otherwise), then delivers the buffer as
one object at `<bucket>/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>` (UTC, the time of
the object's first record). An object is written aside under a name starting with '.', fsynced,
then renamed into place: `kill -9` at any moment leaves whole objects only. Writing happens on
a background thread so generation and disk work overlap; `stats.accepted` counts only records in
renamed objects. Like Firehose, it stores exactly the bytes it was sent and adds no delimiter.

With `delivered_log` set (the local backend sets it), each object whose every line is a good row
of the toll table (`well_formed_rows`: what `engine.valid_row_sql` would keep) is recorded there
once it is in place: its path, size, modification time and rows, one JSON line appended. The local
query engine trusts those objects and checks only objects that came from elsewhere.

With `live_marker` set (a real-time stream the local backend opened: `live_runs.py`), the stream
removes that file when it closes, as nothing it was given is buffered any more.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tollcli.backends.base import RecordSink
from tollcli.backends.local.live_runs import unmark_live_run
from tollcli.backends.reports import SinkStats
from tollcli.errors import TollError
from tollcli.oscompat import replace_file
from tollcli.records import RecordChunk

PENDING_OBJECTS = 4  # objects queued for the writer thread before `write` waits


def object_key(stream_name: str, moment: float, object_id: str, version: int = 1) -> str:
    """Firehose's key for an object whose first record arrived (or happened) at `moment`."""
    stamp = datetime.fromtimestamp(moment, tz=timezone.utc)
    return f"{stamp:%Y/%m/%d/%H}/{stream_name}-{version}-{stamp:%Y-%m-%d-%H-%M-%S}-{object_id}"


def record_ends(chunk: RecordChunk) -> np.ndarray | None:
    """Byte offset just past each record, or None when the chunk is not one line per record."""
    ends = np.flatnonzero(np.frombuffer(chunk.lines, dtype=np.uint8) == 10) + 1
    if len(ends) != chunk.count or (len(ends) and ends[-1] != len(chunk.lines)):
        return None
    return ends


# The date layouts the check below understands (d: a digit); any other layout is left for the query
# engine to check. Both are ISO-8601 in UTC, as `toll generate` writes them.
_DATE_LAYOUTS = {24: b"dddd-dd-ddTdd:dd:dd.dddZ", 20: b"dddd-dd-ddTdd:dd:ddZ"}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def well_formed_rows(data: bytes) -> int | None:
    """How many rows `data` holds if every line is `date,toll,user` with three non-empty fields and a
    valid ISO-8601 UTC date (a row `engine.valid_row_sql` keeps); None if any line is not, or if
    the dates have a layout this check does not know (the query engine then checks the object)."""
    if not data or not data.endswith(b"\n"):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(buf == 44)
    if len(commas) != 2 * len(ends) or (np.searchsorted(commas, ends) != 2 * np.arange(1, len(ends) + 1)).any():
        return None  # not exactly two commas on every line
    first, second = commas[0::2], commas[1::2]
    if (first < starts).any() or (first == starts).any() or (second == first + 1).any() or (ends == second + 1).any():
        return None  # an empty field
    if (buf == 34).any() or (buf == 13).any():
        return None  # quotes or carriage returns: let the reader decide
    widths = first - starts
    layout = _DATE_LAYOUTS.get(int(widths[0]))
    if layout is None or (widths != widths[0]).any():
        return None
    dates = buf[starts[:, None] + np.arange(len(layout))]
    pattern = np.frombuffer(layout, dtype=np.uint8)
    digit = pattern == ord("d")
    block = dates[:, digit]
    if ((block < 48) | (block > 57)).any() or (dates[:, ~digit] != pattern[~digit]).any():
        return None
    values = (block - 48).astype(np.int64)

    def number(first_digit: int, count: int) -> np.ndarray:
        result = np.zeros(len(values), dtype=np.int64)
        for k in range(first_digit, first_digit + count):
            result = result * 10 + values[:, k]
        return result

    year, month, day = number(0, 4), number(4, 2), number(6, 2)
    hour, minute, second_ = number(8, 2), number(10, 2), number(12, 2)
    if ((month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59) | (second_ > 59) | (year < 1)).any():
        return None
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    if (day > _DAYS_IN_MONTH[month] + ((month == 2) & leap)).any():
        return None
    return len(ends)


def append_delivered(log: Path, path: Path, rows: int) -> None:
    """Record one well-formed object (a JSON line, appended whole); a failure only costs a later check."""
    try:
        info = path.stat()
        real = str(path.resolve())  # the query engine lists the resolved table location
        line = json.dumps({"path": real, "size": info.st_size, "mtime_ns": info.st_mtime_ns, "rows": rows}) + "\n"
        log.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)
    except OSError:
        pass


class LocalDeliveryStream(RecordSink):
    """A delivery stream whose destination is a folder laid out like the S3 bucket."""

    def __init__(
        self,
        *,
        bucket: Path,
        stream_name: str,
        buffer_bytes: int,
        buffer_seconds: float,
        realtime: bool,
        version: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        delivered_log: Path | None = None,
        live_marker: Path | None = None,
    ) -> None:
        self.bucket = Path(bucket)
        self.stream_name = stream_name
        self.buffer_bytes = max(1, int(buffer_bytes))
        self.buffer_seconds = float(buffer_seconds)
        self.realtime = realtime
        self.version = version
        self._clock = clock
        self._wall = wall
        self._new_id = new_id
        self.delivered_log = delivered_log
        self.live_marker = live_marker
        self._parts: list[bytes] = []
        self._buffered_bytes = 0
        self._buffered_records = 0
        self._opened_at = 0.0  # clock() (realtime) or event time (backfill) of the first record
        self._key_time = 0.0  # epoch seconds that name the object
        self._stats = SinkStats()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, bytes, int] | None] = queue.Queue(maxsize=PENDING_OBJECTS)
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False

    # RecordSink -------------------------------------------------------------------------------
    @property
    def stats(self) -> SinkStats:
        with self._lock:
            return SinkStats(**vars(self._stats))

    def write(self, chunk: RecordChunk) -> None:
        self._raise_writer_error()
        if self._closed:
            raise TollError("the delivery stream is closed")
        if chunk.count == 0 or not chunk.lines:
            return
        ends = record_ends(chunk)
        if ends is None:  # not one line per record (a producer without '\n'): deliver as sent
            self._append(chunk.lines, chunk.count, float(chunk.event_times[0]) if len(chunk.event_times) else self._wall())
            self._flush_if_due()
            return
        times = np.asarray(chunk.event_times, dtype=np.float64)
        record = 0
        while record < chunk.count:
            base = int(ends[record - 1]) if record else 0
            if not self._parts:
                self._open(float(times[record]) if len(times) == chunk.count else self._wall())
            room = self.buffer_bytes - self._buffered_bytes
            stop = min(int(np.searchsorted(ends, base + room, side="left")) + 1, chunk.count)
            if not self.realtime and self.buffer_seconds > 0 and len(times) == chunk.count:
                in_interval = int(np.searchsorted(times, self._opened_at + self.buffer_seconds, side="left"))
                if in_interval <= record:  # this record starts the next object
                    self._deliver()
                    continue
                stop = min(stop, in_interval)
            end = int(ends[stop - 1])
            self._append(chunk.lines[base:end], stop - record, None)
            record = stop
            if self._buffered_bytes >= self.buffer_bytes or (not self.realtime and record < chunk.count):
                self._deliver()
        self._flush_if_due()

    def poll(self) -> None:
        """Deliver the buffer if its wall-clock interval has passed (called while idle)."""
        self._raise_writer_error()
        if self._parts and self.realtime:
            self._flush_if_due()

    def flush(self) -> None:
        """Deliver what is buffered and wait until every object is in place."""
        if self._parts:
            self._deliver()
        if self._writer is not None:
            self._queue.join()
        self._raise_writer_error()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._writer is not None:
                self._queue.put(None)
                self._writer.join()
                self._writer = None
            unmark_live_run(self.live_marker)
        self._raise_writer_error()

    # buffering --------------------------------------------------------------------------------
    def _open(self, event_time: float) -> None:
        if self.realtime:
            self._opened_at = self._clock()
            self._key_time = self._wall()
        else:
            self._opened_at = event_time
            self._key_time = event_time

    def _append(self, data: bytes, records: int, event_time: float | None) -> None:
        if event_time is not None and not self._parts:
            self._open(event_time)
        self._parts.append(data)
        self._buffered_bytes += len(data)
        self._buffered_records += records

    def _flush_if_due(self) -> None:
        if not self._parts:
            return
        if (
            self._buffered_bytes >= self.buffer_bytes
            or self.buffer_seconds <= 0
            or (self.realtime and self._clock() - self._opened_at >= self.buffer_seconds)
        ):
            self._deliver()

    def _deliver(self) -> None:
        """Hand the buffer to the writer thread as one object."""
        if not self._parts:
            return
        data = b"".join(self._parts)
        key = object_key(self.stream_name, self._key_time, self._new_id(), self.version)
        records = self._buffered_records
        self._parts, self._buffered_bytes, self._buffered_records = [], 0, 0
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_objects, name="toll-delivery", daemon=True)
            self._writer.start()
        while True:
            self._raise_writer_error()
            try:
                self._queue.put((key, data, records), timeout=0.5)
                return
            except queue.Full:
                continue

    # the writer thread ------------------------------------------------------------------------
    def _write_objects(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is not None:
                    continue  # after a failure, queued objects are not delivered (nor counted)
                key, data, records = item
                rows = well_formed_rows(data) if self.delivered_log is not None else None
                try:
                    self._put_object(key, data)
                except OSError as exc:
                    self._error = TollError(f"cannot deliver {key} to {self.bucket}: {exc.strerror or exc}")
                    continue
                if rows is not None and self.delivered_log is not None:
                    append_delivered(self.delivered_log, self.bucket / key, rows)
                with self._lock:
                    self._stats.accepted += records
                    self._stats.objects += 1
                    self._stats.api_calls += 1
            finally:
                self._queue.task_done()

    def _put_object(self, key: str, data: bytes) -> None:
        target = self.bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        aside = target.with_name(f".{target.name}.writing")
        try:
            with open(aside, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            replace_file(aside, target)
        except OSError:
            aside.unlink(missing_ok=True)  # a full disk must not leave a partial object behind
            raise

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            raise self._error
