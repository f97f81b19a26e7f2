"""Many newline-terminated lines per stream record: what Firehose and Kinesis bill by.

Firehose bills ingestion per record rounded up to the next 5 KB, Kinesis Data Streams per 25 KB
PUT payload unit: a ~40-byte toll line sent as its own record is billed as 5 KB (about 125x its
bytes). Both services deliver a record's bytes exactly as sent, so a record holding many whole
lines lands in S3 (and reaches the Lambda handler) exactly as those lines sent one by one would:

    buffer  b"l1\\nl2\\n...ln\\n"  --cut_records(max_bytes)-->  [b"l1\\n...lk\\n", b"lk+1\\n...", ...]

A record is cut only after a newline, so a line is never split across records; a single line
longer than `max_bytes` is a record of its own (the sinks refuse lines over the service limit
before they get here). `LineBuffer` holds the lines a sink has not sent yet and says when they are
due: when enough bytes wait to fill a call, or when the oldest has waited `flush_seconds`, so live
traffic stays live (at least one send a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FIREHOSE_BILLING_BYTES = 5 * 1024  # Firehose ingestion: each record rounded up to 5 KB
KINESIS_BILLING_BYTES = 25 * 1024  # Kinesis Data Streams: PUT payload units of 25 KB
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class PackedRecord:
    """One stream record: whole newline-terminated lines, and how many."""

    data: bytes
    lines: int


def cut_records(buffer: bytes, max_bytes: int) -> list[PackedRecord]:
    """`buffer` (whole lines) as records of at most `max_bytes`, each ending after a newline."""
    records: list[PackedRecord] = []
    start, end = 0, len(buffer)
    while start < end:
        limit = start + max_bytes
        if limit >= end:
            cut = end
        else:
            newline = buffer.rfind(b"\n", start, limit)
            if newline < 0:  # one line longer than max_bytes: a record of its own
                newline = buffer.find(b"\n", limit)
                cut = end if newline < 0 else newline + 1
            else:
                cut = newline + 1
        data = bytes(buffer[start:cut])
        records.append(PackedRecord(data, data.count(b"\n")))
        start = cut
    return records


def billed_bytes(record_size: int, unit: int = FIREHOSE_BILLING_BYTES) -> int:
    """What one record of `record_size` bytes is billed as: rounded up to the next `unit`."""
    return -(-max(record_size, 1) // unit) * unit


class LineBuffer:
    """Lines waiting to be packed and sent; `due()` says whether to send them now."""

    def __init__(self, *, ready_bytes: int, flush_seconds: float = FLUSH_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ready_bytes = ready_bytes
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._data = bytearray()
        self._lines = 0
        self._since: float | None = None

    def __len__(self) -> int:
        return len(self._data)

    @property
    def lines(self) -> int:
        return self._lines

    @property
    def since(self) -> float | None:
        """When the oldest waiting line arrived (None when nothing waits)."""
        return self._since

    def add(self, lines: bytes, count: int, *, since: float | None = None) -> None:
        """Queue whole lines; `since` keeps the age of lines taken and put back."""
        if not lines:
            return
        if self._since is None:
            self._since = self.clock() if since is None else since
        self._data += lines
        self._lines += count

    def full(self) -> bool:
        """Enough bytes wait to fill a call."""
        return len(self._data) >= self.ready_bytes

    def aged(self) -> bool:
        """The oldest waiting line has waited `flush_seconds` (live traffic must go now)."""
        return bool(self._data) and self._since is not None and self.clock() - self._since >= self.flush_seconds

    def take(self) -> bytes:
        data, self._data, self._lines, self._since = bytes(self._data), bytearray(), 0, None
        return data

    def clear(self) -> None:
        self.take()
