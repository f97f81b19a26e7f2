"""The Firehose sink: PutRecordBatch limits, partial failures, throttling, exactly-once delivery.

moto never fails a record and ignores the 500-record limit, so failures come from botocore's
`Stubber` (checked against the real API model) and from a wrapper around the moto-backed client
that fails chosen entries; the records that reach the bucket are then counted one by one.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tollcli.backends.aws.backend import KIND_BUCKET, AwsBackend
from tollcli.backends.aws.client import AwsClient, RetryableError
from tollcli.backends.aws.packing import PackedRecord, billed_bytes, cut_records
from tollcli.backends.aws.sinks import BATCH_MAX_BYTES, RECORD_MAX_BYTES, Backoff, FirehoseSink, plan_batches
from tollcli.config import Settings
from tollcli.errors import TollError, UsageError
from tollcli.records import RecordChunk
from tollcli.state import Ledger

REGION = "us-west-2"
STREAM = "toll-data-stream"


def chunk_of(records: list[bytes]) -> RecordChunk:
    return RecordChunk(lines=b"".join(records), count=len(records), event_times=np.zeros(len(records)))


def toll_records(count: int) -> list[bytes]:
    return [b"2026-11-28T10:00:%02dZ,35South,PLATE%06d\n" % (i % 60, i) for i in range(count)]


# --- batching --------------------------------------------------------------------------------------
def test_batches_hold_at_most_500_records_in_order() -> None:
    records = [PackedRecord(line, 1) for line in toll_records(1234)]
    batches = plan_batches(records)
    assert [len(b) for b in batches] == [500, 500, 234]
    assert [r for b in batches for r in b] == records


def test_batches_hold_at_most_4_mib() -> None:
    big = [PackedRecord(bytes([65 + i % 26]) * (900 * 1024) + b"\n", 1) for i in range(11)]
    batches = plan_batches(big)
    assert all(sum(len(r.data) for r in b) <= BATCH_MAX_BYTES for b in batches)
    assert [len(b) for b in batches] == [4, 4, 3]
    assert [r for b in batches for r in b] == big


def test_a_record_over_1000_kib_is_refused_before_sending() -> None:
    class Unused:
        def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]:
            raise AssertionError("nothing may be sent")

    sink = FirehoseSink(Unused(), STREAM)
    with pytest.raises(UsageError, match="1,000 KiB"):
        sink.write(chunk_of([b"x" * RECORD_MAX_BYTES + b"\n"]))
    sink.close()


# --- retries with botocore's Stubber --------------------------------------------------------------
def test_stubbed_partial_failure_then_throttling_delivers_each_record_once() -> None:
    """10% of entries fail on the first call, the resend is throttled, the next resend succeeds."""
    aws = AwsClient(region=REGION)
    client = aws.client("firehose-data")
    records = toll_records(20)
    failing = {0, 10}
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_response(
            "put_record_batch",
            {
                "FailedPutCount": len(failing),
                "RequestResponses": [
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                    if i in failing
                    else {"RecordId": f"id-{i}"}
                    for i in range(20)
                ],
            },
            {"DeliveryStreamName": STREAM, "Records": [{"Data": r} for r in records]},
        )
        resend = {"DeliveryStreamName": STREAM, "Records": [{"Data": records[i]} for i in sorted(failing)]}
        stub.add_client_error(
            "put_record_batch",
            service_error_code="ServiceUnavailableException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=resend,
        )
        stub.add_response(
            "put_record_batch",
            {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r1"}, {"RecordId": "r2"}]},
            resend,
        )
        sink = FirehoseSink(aws, STREAM, workers=1, sleep=sleeps.append, jitter=lambda: 1.0, record_bytes=1)
        sink.write(chunk_of(records))
        sink.close()
        stub.assert_no_pending_responses()
    stats = sink.stats
    assert (stats.accepted, stats.retried, stats.failed, stats.api_calls) == (20, 4, 0, 3)
    assert sleeps == [0.1, 0.2]  # exponential: base, then twice the base (jitter pinned at its top)


def test_server_errors_are_resent_but_a_missing_stream_is_not() -> None:
    aws = AwsClient(region=REGION)
    client = aws.client("firehose-data")
    records = toll_records(3)
    with Stubber(client) as stub:
        stub.add_client_error("put_record_batch", service_error_code="InternalFailure", http_status_code=500)
        stub.add_response("put_record_batch", {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"}]})  # 3 lines, 1 record
        sink = FirehoseSink(aws, STREAM, workers=1, sleep=lambda _s: None)
        sink.write(chunk_of(records))
        sink.flush()
        assert sink.stats.accepted == 3 and sink.stats.retried == 3
        stub.add_client_error("put_record_batch", service_error_code="ResourceNotFoundException", http_status_code=400)
        sink.write(chunk_of(records))
        with pytest.raises(TollError, match="does not exist: run `toll setup`"):
            sink.close()


def test_a_batch_still_failing_after_every_attempt_stops_the_sink() -> None:
    class AlwaysThrottled:
        calls = 0

        def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]:
            self.calls += 1
            raise RetryableError("could not send: ServiceUnavailableException")

    putter = AlwaysThrottled()
    sink = FirehoseSink(putter, STREAM, workers=1, max_attempts=4, sleep=lambda _s: None, record_bytes=1)
    sink.write(chunk_of(toll_records(700)))
    with pytest.raises(TollError, match=r"refused 500 records 4 times in a row .*ServiceUnavailableException") as raised:
        sink.close()
    assert "(0 of 700 records were delivered to toll-data-stream; the rest were not)" in raised.value.message
    stats = sink.stats
    assert (stats.accepted, stats.failed, stats.api_calls) == (0, 500, 4)  # the second batch is not sent
    assert putter.calls == 4


# --- exactly once into a moto bucket, concurrently -------------------------------------------------
class FlakyFirehose:
    """The real (moto) client, except that 10% of entries fail the first time they are sent and
    every third call is throttled as a whole."""

    def __init__(self, aws: AwsClient) -> None:
        self.aws = aws
        self.seen: set[bytes] = set()
        self.sent: list[bytes] = []
        self.calls = 0
        self.lock = threading.Lock()

    def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]:
        with self.lock:
            self.calls += 1
            if self.calls % 3 == 0:
                raise RetryableError("could not send records: ServiceUnavailableException: Slow down.")
            fail = [r not in self.seen and hash(r) % 10 == 0 for r in records]
            self.seen.update(records)
            self.sent.extend(records)
        accepted = [r for r, f in zip(records, fail) if not f]
        codes = self.aws.put_record_batch(stream, accepted) if accepted else []
        answer = iter(codes)
        return ["ServiceUnavailableException" if f else next(answer) for f in fail]


@pytest.fixture
def stack(home: Path) -> Iterator[tuple[AwsBackend, str]]:
    with mock_aws():
        settings = Settings(backend="aws", home=home, region=REGION, backend_explicit=True)
        backend = AwsBackend(settings, sleep=lambda _s: None)
        backend.setup(buffer_mb=1, buffer_seconds=60)
        ledger = Ledger.load(settings.ledger_path)
        assert ledger is not None
        bucket = ledger.find(KIND_BUCKET)
        assert bucket is not None
        yield backend, bucket.name


@pytest.mark.parametrize("record_bytes", [1, 2048], ids=["a-line-per-record", "packed"])
def test_every_record_reaches_the_bucket_exactly_once_despite_failures(
    stack: tuple[AwsBackend, str], read_bucket_lines: Callable[[str, str], list[bytes]], record_bytes: int
) -> None:
    """Partial failures resend exactly the failed records, whether a record is a line or many."""
    backend, bucket = stack
    flaky = FlakyFirehose(backend.client_for(None))
    records = toll_records(2500)
    sink = FirehoseSink(flaky, STREAM, realtime=False, workers=4, sleep=lambda _s: None, record_bytes=record_bytes)
    for start in range(0, len(records), 300):  # chunks that do not line up with batches
        sink.write(chunk_of(records[start : start + 300]))
    sink.close()
    stats = sink.stats
    assert (stats.accepted, stats.failed) == (2500, 0)
    assert stats.retried > 0 and flaky.calls == stats.api_calls
    delivered = Counter(read_bucket_lines(bucket, REGION))
    assert delivered == Counter(records)
    assert all(len(r) <= record_bytes or r.count(b"\n") == 1 for r in flaky.sent) and all(r.endswith(b"\n") for r in flaky.sent)
    if record_bytes > 1:
        assert stats.stream_records < len(records) / 40  # ~50 lines of ~40 bytes in each 2 KiB record


def test_backfill_fills_batches_to_the_limit(stack: tuple[AwsBackend, str]) -> None:
    backend, _bucket = stack
    sink = backend.open_sink(realtime=False)
    for start in range(0, 10_000, 128):
        sink.write(chunk_of(toll_records(10_000)[start : start + 128]))
    sink.close()
    # 10,000 lines of ~40 bytes pack into one Firehose record: one call, one 5 KB billing unit per 5 KB
    assert (sink.stats.api_calls, sink.stats.stream_records, sink.stats.accepted) == (1, 1, 10_000)
    size = sum(map(len, toll_records(10_000)))
    assert sink.stats.billed_bytes == -(-size // 5120) * 5120 < 10_000 * 5120 / 100


def test_generate_exits_1_when_records_fail(
    stack: tuple[AwsBackend, str], toll: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse_all(self: AwsClient, stream: str, records: list[bytes]) -> list[str | None]:
        return ["InternalFailure"] * len(records)

    monkeypatch.setattr(AwsClient, "put_record_batch", refuse_all)
    monkeypatch.setattr(Backoff, "wait", lambda self, attempt: None)
    result = toll("generate", "--count", "50", "--backfill")
    assert result.exit_code == 1, result.output
    assert "refused 50 records 8 times in a row (InternalFailure)" in result.stderr
    assert "(0 of 50 records were delivered" in result.stderr


# --- packing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_bytes", [1, 40, 41, 100, 4096, RECORD_MAX_BYTES])
def test_cut_records_keeps_every_line_whole_and_in_order(max_bytes: int) -> None:
    lines = [b"2026-11-28T10:00:00.%03dZ,35South,%s\n" % (i, b"P" * (i % 17)) for i in range(997)]
    buffer = b"".join(lines)
    records = cut_records(buffer, max_bytes)
    assert b"".join(r.data for r in records) == buffer
    assert [line for r in records for line in r.data.splitlines(keepends=True)] == lines
    assert all(r.data.endswith(b"\n") and r.lines == r.data.count(b"\n") for r in records)
    assert all(len(r.data) <= max_bytes or r.lines == 1 for r in records)
    if max_bytes >= 100:  # full records: a record and the next line would be over max_bytes
        assert all(len(a.data) + len(b.data.split(b"\n")[0]) + 1 > max_bytes for a, b in itertools.pairwise(records))


def test_billing_rounds_each_record_up_to_5_kb() -> None:
    assert [billed_bytes(n) for n in (1, 40, 5120, 5121, 1000 * 1024)] == [5120, 5120, 5120, 10240, 1000 * 1024]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]:
        self.calls.append(records)
        return [None] * len(records)


def test_live_traffic_is_sent_packed_at_least_every_second() -> None:
    """`realtime`: lines wait for at most `flush_seconds` (then go as one record), never for a full call."""
    now = [0.0]
    putter = Recorder()
    sink = FirehoseSink(putter, STREAM, workers=1, clock=lambda: now[0])
    for tick in range(25):  # 10 writes a second of 20 lines each, for 2.5 s
        now[0] = tick / 10
        sink.write(chunk_of(toll_records(20)))
    sink.close()
    # sent when the oldest waiting line is 1 s old: at 1.0 s (writes 0.0..1.0) and 2.1 s (1.1..2.1),
    # each as one packed record; the last 0.3 s at close
    assert [[r.count(b"\n") for r in call] for call in putter.calls] == [[220], [220], [60]]
    assert sink.stats.accepted == 500 and sink.stats.stream_records == 3


def test_generate_json_reports_api_calls_and_firehose_records(
    stack: tuple[AwsBackend, str], toll: Callable[..., Any], read_bucket_lines: Callable[[str, str], list[bytes]]
) -> None:
    """`--format json`: the calls made and the Firehose records sent (the billing units), beside the lines."""
    _backend, bucket = stack
    result = toll("generate", "--count", "30000", "--backfill", "--seed", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = read_bucket_lines(bucket, REGION)
    size = sum(map(len, lines))
    assert summary["records"] == len(lines) == 30_000
    # ~1.2 MB of lines: two records of at most 1,000 KiB (moto writes one object per call)
    assert summary["firehose_records"] == -(-size // RECORD_MAX_BYTES) == 2
    assert summary["api_calls"] == 1
