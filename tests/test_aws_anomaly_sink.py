"""After `toll deploy` on AWS, `toll generate` writes to the live Kinesis stream: batching and
retries of `PutRecords` (moto accepts everything, so a wrapper fails chosen entries), and
`toll alerts` reading what the function wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tollcli.backends.aws.anomaly import read_alerts, read_scores
from tollcli.backends.aws.sinks import PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_COUNT, KinesisSink
from tollcli.errors import TollError
from tollcli.records import RecordChunk

REGION = "us-west-2"
STREAM = "toll-live-records"


def chunk_of(lines: list[bytes]) -> RecordChunk:
    return RecordChunk(lines=b"".join(lines), count=len(lines), event_times=np.zeros(len(lines)))


class FlakyKinesis:
    """moto's client, but the first call fails every 10th entry and the second is throttled."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[list[dict[str, Any]]] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        if len(self.calls) == 2:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutRecords")
        if len(self.calls) == 1:
            results: list[dict[str, Any]] = []
            for index, entry in enumerate(Records):
                if index % 10 == 0:
                    results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
                else:
                    self.real.put_records(StreamName=StreamName, Records=[entry])
                    results.append({"SequenceNumber": "1", "ShardId": "shardId-000000000000"})
            return {"FailedRecordCount": sum(1 for r in results if "ErrorCode" in r), "Records": results}
        return self.real.put_records(StreamName=StreamName, Records=Records)


@pytest.fixture
def kinesis() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name=REGION)
        client.create_stream(StreamName=STREAM, ShardCount=1)
        yield client


def stream_contents(kinesis: Any) -> list[bytes]:
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    data: list[bytes] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
        data.extend(r["Data"] for r in page["Records"])
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return data


def test_every_record_lands_exactly_once_through_partial_failures_and_throttling(kinesis: Any) -> None:
    lines = [f"2026-11-28T09:00:00Z,35South,P{i:05d}\n".encode() for i in range(1234)]
    flaky = FlakyKinesis(kinesis)
    delays: list[float] = []
    sink = KinesisSink(flaky, STREAM, sleep=delays.append, jitter=lambda: 1.0, record_bytes=1)
    with sink:
        sink.write(chunk_of(lines))
    assert sorted(stream_contents(kinesis)) == sorted(lines)
    assert (sink.stats.accepted, sink.stats.failed) == (1234, 0)
    assert sink.stats.retried == 50 + 50  # 50 failed entries resent, then throttled and resent again
    assert [len(c) for c in flaky.calls] == [500, 50, 50, 500, 234]
    assert flaky.calls[1] == [e for i, e in enumerate(flaky.calls[0]) if i % 10 == 0]  # exactly the failed entries
    assert delays == [0.1, 0.2]  # exponential backoff


def test_batches_respect_the_count_and_size_limits(kinesis: Any) -> None:
    big = [(f"2026-11-28T09:00:00Z,TX45,{i:05d}".ljust(12 * 1024, "x") + "\n").encode() for i in range(1100)]
    calls: list[list[dict[str, Any]]] = []

    class Recording:
        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs["Records"])
            return kinesis.put_records(**kwargs)

    with KinesisSink(Recording(), STREAM, sleep=lambda _s: None, record_bytes=1, flush_seconds=0) as sink:
        sink.write(chunk_of(big[:600]))
        sink.write(chunk_of(big[600:]))
    assert all(len(c) <= PUT_RECORDS_MAX_COUNT for c in calls)
    assert all(sum(len(e["Data"]) + len(e["PartitionKey"]) for e in c) <= PUT_RECORDS_MAX_BYTES for c in calls)
    assert max(len(c) for c in calls) > 400  # batches are filled, not one call per record
    assert sink.stats.accepted == 1100 and sink.stats.api_calls == len(calls)


def test_records_that_keep_failing_stop_the_sink_with_the_delivered_count(kinesis: Any) -> None:
    class ThrottledAfterFirstCall:
        calls = 0

        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"}] * len(kwargs["Records"])}
            return {
                "FailedRecordCount": len(kwargs["Records"]),
                "Records": [{"ErrorCode": "ProvisionedThroughputExceededException"}] * len(kwargs["Records"]),
            }

    sink = KinesisSink(ThrottledAfterFirstCall(), STREAM, max_attempts=3, sleep=lambda _s: None, record_bytes=1, flush_seconds=0)
    sink.write(chunk_of([b"a,b,c\n"] * 5))
    with pytest.raises(TollError, match=r"refused 7 records 3 times in a row \(ProvisionedThroughputExceededException\).*"
                       r"\(5 of 12 records were delivered to the Kinesis stream"):  # fmt: skip
        sink.write(chunk_of([b"a,b,c\n"] * 7))
    assert (sink.stats.accepted, sink.stats.failed, sink.stats.retried, sink.stats.api_calls) == (5, 7, 14, 4)
    with pytest.raises(TollError, match="is closed"):  # nothing more is sent
        sink.write(chunk_of([b"a,b,c\n"]))
    assert sink.stats.api_calls == 4


def test_expired_credentials_mid_run_stop_the_sink_with_exit_1_not_2(kinesis: Any) -> None:
    from botocore.exceptions import ClientError

    class ExpiresAfterFirstCall:
        calls = 0

        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls > 1:
                raise ClientError({"Error": {"Code": "ExpiredTokenException", "Message": "expired"}}, "PutRecords")
            return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"}] * len(kwargs["Records"])}

    sink = KinesisSink(ExpiresAfterFirstCall(), STREAM, sleep=lambda _s: None, flush_seconds=0)
    sink.write(chunk_of([b"a,b,c\n"] * 3))
    with pytest.raises(TollError) as raised:
        sink.write(chunk_of([b"a,b,c\n"] * 2))
    assert raised.value.exit_status == 1 and "3 of 5 records were delivered" in raised.value.message
    assert "credentials" in raised.value.message


def test_a_missing_stream_is_an_error_not_a_retry_loop(kinesis: Any) -> None:
    with pytest.raises(TollError, match="could not write to the Kinesis stream gone"):
        KinesisSink(kinesis, "gone", sleep=lambda _s: None, flush_seconds=0).write(chunk_of([b"a,b,c\n"]))


def test_lines_are_packed_many_to_a_kinesis_record_and_read_back_as_lines(kinesis: Any) -> None:
    """Kinesis bills 25 KB PUT units and the stream's delivery stream 5 KB per record: a live run
    packs what waited a second into one record; a consumer splitting records on newlines (the Lambda
    handler, Firehose into S3) sees exactly the lines sent, once each, even through partial failures."""
    now = [0.0]
    flaky = FlakyKinesis(kinesis)
    lines = [f"2026-11-28T09:00:{i % 60:02d}Z,35South,P{i:05d}\n".encode() for i in range(3000)]
    sink = KinesisSink(flaky, STREAM, sleep=lambda _s: None, record_bytes=4096, clock=lambda: now[0])
    for tick in range(30):  # 100 lines every 0.1 s for 3 s
        now[0] = tick / 10
        sink.write(chunk_of(lines[tick * 100 : (tick + 1) * 100]))
    sink.close()
    records = stream_contents(kinesis)
    assert sorted(line for record in records for line in record.splitlines(keepends=True)) == sorted(lines)
    assert all(len(r) <= 4096 and r.endswith(b"\n") for r in records)
    assert (sink.stats.accepted, sink.stats.failed) == (3000, 0) and sink.stats.retried > 0
    assert sink.stats.stream_records == len(records) < 3000 / 50
    assert len(flaky.calls) < 10  # about one call a second, not one per write


def test_alerts_and_scores_are_read_back_oldest_first() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="toll-alerts-test", CreateBucketConfiguration={"LocationConstraint": REGION})
        for start in ("2026-11-28T09:00:10Z", "2026-11-28T09:00:00Z"):
            stamp = start.replace(":", "-")
            rows = [{"window_start": start, "station": s, "vehicle_count": 1, "anomaly_score": 0.5} for s in ("TX45", "183A")]
            s3.put_object(
                Bucket="toll-alerts-test",
                Key=f"anomaly/scores/2026/11/28/09/{stamp}.json",
                Body="".join(json.dumps(r) + "\n" for r in rows),
            )
        s3.put_object(
            Bucket="toll-alerts-test",
            Key="anomaly/alerts/2026/11/28/09/2026-11-28T09-00-10Z-35South.json",
            Body=json.dumps({"window_start": "2026-11-28T09:00:10Z", "station": "35South", "message": "Anomalous data detected"}),
        )
        scores = read_scores(s3, "toll-alerts-test")
        assert [(r["window_start"], r["station"]) for r in scores] == [
            ("2026-11-28T09:00:00Z", "183A"),
            ("2026-11-28T09:00:00Z", "TX45"),
            ("2026-11-28T09:00:10Z", "183A"),
            ("2026-11-28T09:00:10Z", "TX45"),
        ]
        assert [a["station"] for a in read_alerts(s3, "toll-alerts-test")] == ["35South"]
