"""What `toll generate` writes to on AWS: `FirehoseSink`, a Direct PUT delivery stream (Section 1),
and `KinesisSink`, the live Kinesis data stream after `toll deploy` (Section 2). Both pack lines
into records (`packing`), resend exactly what was refused with backoff and jitter, and stop with
one `TollError` and the true count when resending cannot help.

Firehose:

Lines are packed many to a Firehose record (up to `record_bytes`, 1,000 KiB by default: see
`packing`), since Firehose bills each record rounded up to 5 KB. Backfills send when 4 MiB wait;
live runs (`realtime`) at least once a second, so the bucket keeps up with the traffic.
Unlike the Kinesis Data Generator it replaces, it counts only what Firehose accepted:
`PutRecordBatch` calls of at most 500 records and 4 MiB; a call can succeed with some entries
failed, so exactly the entries carrying an `ErrorCode` are sent again, and whole calls refused
for throttling or a service error are sent again too, each time after an exponential backoff
with jitter. Batches go out on a small thread pool so a high `--rate` is reached; `write`
blocks once enough batches are in flight, which paces the generator.

A batch still refused after `max_attempts` (throttling that does not end), or a call that cannot
succeed by resending (expired credentials, a missing stream), stops the sink: nothing more is
sent, the calls in flight finish, and `write`/`flush`/`close` raise one `TollError` (exit 1, as
records were already sent) naming the problem and how many records Firehose accepted.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ReadTimeoutError

from tollcli.backends.aws.client import RetryableError, error_code, refused_for_good, stopped_with_count, translate_error
from tollcli.backends.aws.packing import (
    FIREHOSE_BILLING_BYTES,
    FLUSH_SECONDS,
    LineBuffer,
    PackedRecord,
    billed_bytes,
    cut_records,
)
from tollcli.backends.base import RecordSink
from tollcli.backends.reports import SinkStats
from tollcli.errors import TollError, UsageError
from tollcli.records import RecordChunk

BATCH_MAX_RECORDS = 500
BATCH_MAX_BYTES = 4 * 1024 * 1024
RECORD_MAX_BYTES = 1000 * 1024


class BatchPutter(Protocol):
    """`AwsClient.put_record_batch`: each entry's ErrorCode (None if accepted); RetryableError for the call."""

    def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]: ...


def plan_batches(records: list[PackedRecord]) -> list[list[PackedRecord]]:
    """Split records into PutRecordBatch calls: <= 500 records and <= 4 MiB each, order kept."""
    batches: list[list[PackedRecord]] = []
    current: list[PackedRecord] = []
    size = 0
    for record in records:
        if current and (len(current) == BATCH_MAX_RECORDS or size + len(record.data) > BATCH_MAX_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record.data)
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class Backoff:
    """How both sinks resend what was refused: at most `max_attempts` tries, waiting exponentially
    longer between them (capped at `max_delay`), half the delay plus a random half (jitter), so
    that many writers do not retry in step. `sleep` and `jitter` are injected: tests run instantly."""

    max_attempts: int = 8
    base_delay: float = 0.1
    max_delay: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def wait(self, attempt: int) -> None:
        delay = min(self.max_delay, self.base_delay * 2**attempt)
        self.sleep(delay * (0.5 + 0.5 * self.jitter()))


class FirehoseSink(RecordSink):
    """Sends records to one delivery stream; see the module docstring."""

    def __init__(
        self,
        putter: BatchPutter,
        stream: str,
        *,
        realtime: bool = True,
        workers: int = 4,
        max_attempts: int = 8,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        record_bytes: int = RECORD_MAX_BYTES,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`record_bytes` caps a packed record (1 sends each line as its own record, as the KDG did)."""
        if not 1 <= record_bytes <= RECORD_MAX_BYTES:
            raise UsageError(f"a Firehose record holds 1 to {RECORD_MAX_BYTES:,} bytes, not {record_bytes:,}")
        self.putter = putter
        self.record_bytes = record_bytes
        self.stream = stream
        self.realtime = realtime
        self.backoff = Backoff(max_attempts, base_delay, max_delay, sleep, jitter)
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="firehose")
        self._in_flight: deque[Future[None]] = deque()
        ready = min(BATCH_MAX_BYTES, BATCH_MAX_RECORDS * record_bytes)  # enough lines to fill a call
        self._pending = LineBuffer(ready_bytes=ready, flush_seconds=flush_seconds, clock=clock)
        self._stats = SinkStats()
        self._lock = threading.Lock()
        self._closed = False
        self._received = 0
        self._stopping = threading.Event()  # a batch failed for good: the others stop resending

    @property
    def stats(self) -> SinkStats:
        with self._lock:
            return SinkStats(**vars(self._stats))

    # RecordSink -----------------------------------------------------------------------------
    def write(self, chunk: RecordChunk) -> None:
        """Queue the chunk's lines; they go out packed once a call's worth waits, or (`realtime`)
        once the oldest has waited `flush_seconds`."""
        if self._closed:
            raise TollError("the Firehose sink is closed")
        if len(chunk.lines) > RECORD_MAX_BYTES:  # only then can one line be over the limit
            for line in chunk.split_records():
                if len(line) > RECORD_MAX_BYTES:
                    raise UsageError(f"a record of {len(line):,} bytes is over Firehose's 1,000 KiB limit")
        self._pending.add(chunk.lines, chunk.count)
        self._received += chunk.count
        if self._pending.full():
            self._send_pending(everything=False)  # full calls only; the rest waits for more lines
        if self.realtime and self._pending.aged():
            self._send_pending(everything=True)

    def flush(self) -> None:
        """Send what is queued and wait for every call in flight; raises the first hard failure."""
        self._send_pending(everything=True)
        while self._in_flight:
            self._wait(self._in_flight.popleft())

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)

    # sending --------------------------------------------------------------------------------
    def _send_pending(self, *, everything: bool = True) -> None:
        """Pack the waiting lines and send them; unless `everything`, a last call that is not full
        goes back to wait (so a backfill's calls are full whatever its chunks' sizes)."""
        if not len(self._pending):
            return
        since = self._pending.since
        batches = plan_batches(cut_records(self._pending.take(), self.record_bytes))
        last = batches[-1]
        if (
            not everything
            and len(last) < BATCH_MAX_RECORDS
            and sum(len(r.data) for r in last) + self.record_bytes <= BATCH_MAX_BYTES
        ):
            batches.pop()
            self._pending.add(b"".join(r.data for r in last), sum(r.lines for r in last), since=since)
        for batch in batches:
            self._submit(batch)

    def _submit(self, batch: list[PackedRecord]) -> None:
        # Bound the calls in flight: the oldest finishes (or raises) before another is queued.
        while len(self._in_flight) >= 2 * self.workers:
            self._wait(self._in_flight.popleft())
        self._in_flight.append(self._pool.submit(self._send, batch))

    def _wait(self, future: Future[None]) -> None:
        """The batch's outcome; a hard failure stops the sink and is raised with the final counts."""
        try:
            future.result()
        except TollError as exc:
            raise self._abort(exc) from None

    def _abort(self, exc: TollError) -> TollError:
        """Send nothing more, let the calls in flight finish, and name what was delivered."""
        self._stopping.set()
        self._closed = True
        self._pending.clear()
        self._in_flight.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        return stopped_with_count(exc, accepted=self.stats.accepted, received=self._received, destination=self.stream)

    def _send(self, records: list[PackedRecord]) -> None:
        """Deliver one batch; resend exactly the failed entries until none is left or attempts run out."""
        reason = ""
        for attempt in range(self.backoff.max_attempts):
            if self._stopping.is_set():  # another batch failed for good: this one is not sent
                return
            with self._lock:
                self._stats.api_calls += 1
            try:
                codes = self.putter.put_record_batch(self.stream, [r.data for r in records])
            except RetryableError as exc:
                failed, reason = records, exc.message
            except TollError:
                with self._lock:
                    self._stats.failed += sum(r.lines for r in records)
                self._stopping.set()
                raise
            else:
                failed = [record for record, code in zip(records, codes) if code]
                reason = next((code for code in codes if code), "")
                delivered = [record for record, code in zip(records, codes) if not code]
                with self._lock:
                    self._stats.accepted += sum(r.lines for r in delivered)
                    self._stats.stream_records += len(delivered)
                    self._stats.billed_bytes += sum(billed_bytes(len(r.data), FIREHOSE_BILLING_BYTES) for r in delivered)
            if not failed:
                return
            if attempt == self.backoff.max_attempts - 1:
                break
            with self._lock:
                self._stats.retried += sum(r.lines for r in failed)
            records = failed
            self.backoff.wait(attempt)
        lines = sum(r.lines for r in records)
        with self._lock:
            self._stats.failed += lines
        self._stopping.set()
        raise refused_for_good("Firehose", lines, self.backoff.max_attempts, reason)


# --- Kinesis: the live stream the anomaly app reads ---------------------------------------------
PUT_RECORDS_MAX_COUNT = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024  # data and partition keys, per call
KINESIS_RECORD_MAX_BYTES = 1024 * 1024
PACKED_RECORD_BYTES = 1000 * 1024  # also within Firehose's record limit, for the stream's delivery stream
RETRYABLE_CALL_ERRORS = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "LimitExceededException",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSThrottlingException",
}


class KinesisSink(RecordSink):
    """`PutRecords` to the live stream: at most 500 records and 5 MiB a call; resends exactly
    the entries that failed (and whole calls that were throttled) with backoff and jitter.

    Lines are packed many to a Kinesis record (up to `record_bytes`, 1,000 KiB: see `packing`),
    since Kinesis bills 25 KB PUT units and the stream's delivery stream bills each record rounded
    up to 5 KB; the Lambda handler and Firehose both read a record's lines as sent. Live runs
    (`realtime`) send what waited `flush_seconds`; backfills send full calls.

    Entries still refused after `max_attempts`, or a call that resending cannot fix (expired
    credentials, a missing stream), stop the sink, as `FirehoseSink` does: nothing more is sent and
    one `TollError` (exit 1: records were already sent) names the problem and how many records
    Kinesis accepted. A run never goes on dropping records."""

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        *,
        realtime: bool = True,
        max_attempts: int = 8,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
        record_bytes: int = PACKED_RECORD_BYTES,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= record_bytes <= KINESIS_RECORD_MAX_BYTES:
            raise UsageError(f"a Kinesis record holds 1 to {KINESIS_RECORD_MAX_BYTES:,} bytes, not {record_bytes:,}")
        self.kinesis = kinesis
        self.stream = stream
        self.realtime = realtime
        self.record_bytes = record_bytes
        self.backoff = Backoff(max_attempts, base_delay, max_delay, sleep, jitter or random.random)
        self._stats = SinkStats()
        ready = min(PUT_RECORDS_MAX_BYTES // 2, PUT_RECORDS_MAX_COUNT * record_bytes)
        self._pending = LineBuffer(ready_bytes=ready, flush_seconds=flush_seconds, clock=clock)
        self._sequence = 0
        self._received = 0
        self._closed = False

    @property
    def stats(self) -> SinkStats:
        return self._stats

    def write(self, chunk: RecordChunk) -> None:
        if self._closed:
            raise TollError(f"the sink to the Kinesis stream {self.stream} is closed")
        if len(chunk.lines) > KINESIS_RECORD_MAX_BYTES:  # only then can one line be over the limit
            for line in chunk.split_records():
                if len(line) > KINESIS_RECORD_MAX_BYTES:
                    raise UsageError(f"a record of {len(line)} bytes is over Kinesis's 1 MiB limit")
        self._pending.add(chunk.lines, chunk.count)
        self._received += chunk.count
        if self._pending.full() or (self.realtime and self._pending.aged()):
            self.flush()

    def flush(self) -> None:
        if not len(self._pending):
            return
        for batch in self._batches(cut_records(self._pending.take(), self.record_bytes)):
            self._send(batch)

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True

    def _entry(self, data: bytes) -> dict[str, Any]:
        self._sequence += 1
        return {"Data": data, "PartitionKey": str(self._sequence % 1024)}

    def _batches(self, records: list[PackedRecord]) -> list[list[tuple[dict[str, Any], int]]]:
        """(entry, lines in it) per PutRecords call: <= 500 entries and <= 5 MiB, order kept."""
        batches: list[list[tuple[dict[str, Any], int]]] = []
        current: list[tuple[dict[str, Any], int]] = []
        size = 0
        for record in records:
            entry = self._entry(record.data)
            entry_size = len(record.data) + len(entry["PartitionKey"])
            if current and (len(current) == PUT_RECORDS_MAX_COUNT or size + entry_size > PUT_RECORDS_MAX_BYTES):
                batches.append(current)
                current, size = [], 0
            current.append((entry, record.lines))
            size += entry_size
        if current:
            batches.append(current)
        return batches

    def _send(self, entries: list[tuple[dict[str, Any], int]]) -> None:
        reason = ""
        for attempt in range(self.backoff.max_attempts):
            self._stats.api_calls += 1
            try:
                response = self.kinesis.put_records(StreamName=self.stream, Records=[entry for entry, _ in entries])
            except Exception as exc:
                if error_code(exc) not in RETRYABLE_CALL_ERRORS and not _is_transient(exc):
                    self._stats.failed += sum(lines for _, lines in entries)
                    raise self._stop(translate_error(exc, f"write to the Kinesis stream {self.stream}")) from None
                failed, reason = entries, error_code(exc) or type(exc).__name__
            else:
                results = response.get("Records", [])
                failed = [item for item, result in zip(entries, results) if result.get("ErrorCode")]
                reason = next((str(result["ErrorCode"]) for result in results if result.get("ErrorCode")), "")
                delivered = [item for item, result in zip(entries, results) if not result.get("ErrorCode")]
                self._stats.accepted += sum(lines for _, lines in delivered)
                self._stats.stream_records += len(delivered)
                # the stream's delivery stream bills the same records, each rounded up to 5 KB
                self._stats.billed_bytes += sum(billed_bytes(len(entry["Data"])) for entry, _ in delivered)
            if not failed:
                return
            if attempt == self.backoff.max_attempts - 1:
                break
            self._stats.retried += sum(lines for _, lines in failed)
            entries = failed
            self.backoff.wait(attempt)
        lines = sum(lines for _, lines in entries)
        self._stats.failed += lines
        raise self._stop(refused_for_good("Kinesis", lines, self.backoff.max_attempts, reason))

    def _stop(self, error: TollError) -> TollError:
        """Send nothing more; the error, with what was delivered (exit 1: records were sent)."""
        self._closed = True
        self._pending.clear()
        return stopped_with_count(
            error, accepted=self._stats.accepted, received=self._received, destination=f"the Kinesis stream {self.stream}"
        )


def _is_transient(exc: Exception) -> bool:
    """Connection resets and timeouts: worth a resend of the same entries."""
    return isinstance(exc, (BotoConnectionError, ReadTimeoutError))
