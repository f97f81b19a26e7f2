"""The Lambda handler, called directly with events shaped as Lambda sends them (moto for S3/SNS).

moto cannot invoke a function here (that needs Docker), so these tests play Lambda's part:
batches of base64 Kinesis records within a 10 s tumbling window, the state we returned last time
carried into the next call, and a final invoke that closes the window.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from tollcli.anomaly.app import AnomalyApp, AnomalyConfig
from tollcli.anomaly.rcf import WORKSHOP_STATIONS as STATIONS
from tollcli.anomaly.rcf import ForestSettings
from tollcli.anomaly.windows import ClosedWindow
from tollcli.backends.aws.lambda_handler import CONFIG_VARIABLE, MODEL_KEY, HandlerConfig, process

REGION = "us-west-2"
BUCKET = "toll-anomaly-test-bucket"
START = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)
SMALL_FOREST = ForestSettings(trees=30, sample_size=64, time_decay=100_000, shingle=1, output_after=8, seed=7)
STEADY_WEIGHTS = [0.02, 0.04, 0.05, 0.06, 0.02, 0.02, 0.02, 0.02, 0.02, 0.1]  # the workshop's first template
SKEWED_WEIGHTS = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]  # all traffic through 35South


class Aws:
    """moto's S3 and SNS with the app's bucket and topic."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.topic_arn = self.sns.create_topic(Name="toll-anomaly-alerts")["TopicArn"]

    def config(self, threshold: float = 2.5, topic_arn: str | None = None) -> HandlerConfig:
        app = AnomalyConfig(threshold=threshold, forest=SMALL_FOREST)
        env = {"TOLL_BUCKET": BUCKET, "TOLL_TOPIC_ARN": topic_arn or self.topic_arn, CONFIG_VARIABLE: json.dumps(app.to_json())}
        return HandlerConfig.from_environ(env)

    def sent(self) -> list[tuple[Any, ...]]:
        return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[self.topic_arn].sent_notifications)

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def json_lines(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        yield Aws()


def toll_line(moment: datetime, station: str, plate: str = "6LD7N") -> str:
    return f"{moment.isoformat()},{station},{plate}\n"


def kinesis_record(data: bytes, seq: int, arrival: float) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": str(seq),
            "sequenceNumber": f"{49590338271490256608559692538361571095921575989136588898 + seq}",
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "awsRegion": REGION,
        "eventSourceARN": f"arn:aws:kinesis:{REGION}:123456789012:stream/toll-live-records",
    }


def window_event(
    payloads: list[bytes], *, start: datetime, state: dict[str, Any] | None, final: bool = False, first_seq: int = 0
) -> dict[str, Any]:
    """An event as Lambda builds it for a Kinesis mapping with TumblingWindowInSeconds=10."""
    return {
        "Records": [kinesis_record(p, first_seq + i, start.timestamp() + 1) for i, p in enumerate(payloads)],
        "window": {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(seconds=10)).isoformat().replace("+00:00", "Z"),
        },
        "state": state or {},
        "shardId": "shardId-000000000000",
        "eventSourceARN": f"arn:aws:kinesis:{REGION}:123456789012:stream/toll-live-records",
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def draw_window(rng: random.Random, start: datetime, weights: list[float], count: int = 1000) -> list[bytes]:
    stations = rng.choices(STATIONS, weights=weights, k=count)
    return [toll_line(start + timedelta(seconds=i * 10 / count), s).encode() for i, s in enumerate(stations)]


def run_window(aws: Aws, config: HandlerConfig, payloads: list[bytes], start: datetime) -> dict[str, Any]:
    """Two batches and an empty final invoke, as Lambda calls a function for one window."""
    half = len(payloads) // 2
    first = process(window_event(payloads[:half], start=start, state=None), config=config, s3=aws.s3, sns=aws.sns)
    assert first["batchItemFailures"] == []
    second = process(
        window_event(payloads[half:], start=start, state=first["state"], first_seq=half), config=config, s3=aws.s3, sns=aws.sns
    )
    assert second["batchItemFailures"] == []
    final = process(window_event([], start=start, state=second["state"], final=True), config=config, s3=aws.s3, sns=aws.sns)
    assert final == {"state": {}, "batchItemFailures": []}
    return second["state"]


def test_counts_vehicles_per_station_across_the_invokes_of_a_window(aws: Aws) -> None:
    lines = [toll_line(START, "35South"), toll_line(START, "TX45"), toll_line(START, "35South")]
    batch = [lines[0].encode(), (lines[1] + lines[2]).encode(), b"not,a toll line\n"]  # one record may carry several lines
    first = process(window_event(batch, start=START, state=None), config=aws.config(), s3=aws.s3, sns=aws.sns)
    assert first["state"]["counts"] == {"35South": 2, "TX45": 1}
    assert (first["state"]["records"], first["state"]["rejected"]) == (3, 1)
    second = process(
        window_event([lines[1].encode()], start=START, state=first["state"], first_seq=3),
        config=aws.config(),
        s3=aws.s3,
        sns=aws.sns,
    )
    assert second["state"]["counts"] == {"35South": 2, "TX45": 2}
    assert len(json.dumps(second["state"])) < 1_000_000  # Lambda's limit for the carried state
    assert aws.keys("anomaly/") == []  # nothing is written before the window closes


def test_final_invoke_writes_the_scored_window_and_keeps_the_model_in_the_bucket(aws: Aws) -> None:
    rng = random.Random(1)
    run_window(aws, aws.config(), draw_window(rng, START, STEADY_WEIGHTS, 500), START)
    [scores_key] = aws.keys("anomaly/scores/")
    assert scores_key == "anomaly/scores/2026/11/28/09/2026-11-28T09-00-00Z.json"
    rows = aws.json_lines(scores_key)
    assert [r["station"] for r in rows] == list(STATIONS)
    assert sum(r["vehicle_count"] for r in rows) == 500
    assert {r["window_start"] for r in rows} == {"2026-11-28T09:00:00Z"}
    assert {r["anomaly_score"] for r in rows} == {0.0}  # the model is still warming up
    checkpoint = AnomalyApp.from_state_bytes(aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read())
    assert checkpoint.stats.last_window_start == "2026-11-28T09:00:00Z"
    assert (checkpoint.stats.windows_scored, checkpoint.stats.records) == (1, 500)
    assert checkpoint.config.forest == SMALL_FOREST


def test_scores_from_the_bucket_model_equal_an_uninterrupted_forest(aws: Aws) -> None:
    """Saving and loading the model (and the baseline it carries) between every window changes no
    score and no explanation: the function's rows are the in-memory app's, skewed windows included."""
    rng = random.Random(2)
    windows = [
        draw_window(rng, START + timedelta(seconds=10 * i), STEADY_WEIGHTS if i < 14 else SKEWED_WEIGHTS, 300) for i in range(16)
    ]
    config = aws.config()
    in_memory = AnomalyApp(config.app)
    expected = []
    for i, payloads in enumerate(windows):
        start = START + timedelta(seconds=10 * i)
        state = run_window(aws, config, payloads, start)
        window = ClosedWindow(start.timestamp(), start.timestamp() + 10, state["counts"], 0, 0)
        expected.append(in_memory.score(window).table_rows())
    got = [aws.json_lines(key) for key in aws.keys("anomaly/scores/")]
    assert got == expected
    assert any(row["anomaly_score"] > 0 for rows in got for row in rows)
    assert {row["baseline_count"] for row in got[0]} == {None} and all(row["baseline_count"] is not None for row in got[-1])
    assert any(row["alert"] for row in got[-2] + got[-1])  # the skew alerted, here as in memory


def test_skewed_traffic_publishes_the_workshop_alert_to_sns(aws: Aws) -> None:
    rng = random.Random(3)
    config = aws.config(threshold=2.5)
    usual_counts = []  # 35South's count in each steady window
    for i in range(40):
        start = START + timedelta(seconds=10 * i)
        payloads = draw_window(rng, start, STEADY_WEIGHTS)
        usual_counts.append(sum(b",35South," in p for p in payloads))
        run_window(aws, config, payloads, start)
    assert aws.sent() == []  # no alert while traffic is steady
    skewed_start = START + timedelta(seconds=400)
    run_window(aws, config, draw_window(rng, skewed_start, SKEWED_WEIGHTS), skewed_start)

    usual = statistics.median(usual_counts[-30:])  # the baseline: the last 30 normal windows, carried in the bucket
    [(_id, message, subject, _attrs, _group)] = aws.sent()
    assert message.startswith(
        f"Anomalous data detected at station 35South. Total vehicles detected was 1000 (usually {usual:g}). "
        "The anomaly score was "
    )
    assert message.endswith(", which is greater than your configured threshold of 2.5")
    assert "35South" in subject
    [alert_key] = aws.keys("anomaly/alerts/")
    alert = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=alert_key)["Body"].read())
    assert alert["station"] == "35South" and alert["notified"] is True and alert["anomaly_score"] > 2.5
    assert alert["explanation"].startswith("35South HIGH")
    assert alert["message"] == message and alert["baseline_count"] == usual
    [scored] = [aws.json_lines(key) for key in aws.keys("anomaly/scores/") if "09-06-40Z" in key]
    assert {r["station"]: r["baseline_count"] for r in scored}["35South"] == usual
    assert len(aws.keys("anomaly/scores/")) == 41


def test_a_threshold_above_every_score_sends_nothing(aws: Aws) -> None:
    rng = random.Random(3)
    config = aws.config(threshold=1000.0)
    for i in range(12):
        start = START + timedelta(seconds=10 * i)
        run_window(aws, config, draw_window(rng, start, STEADY_WEIGHTS if i < 11 else SKEWED_WEIGHTS, 300), start)
    assert aws.sent() == []
    assert aws.keys("anomaly/alerts/") == []
    rows = [row for key in aws.keys("anomaly/scores/") for row in aws.json_lines(key)]
    assert not any(row["alert"] for row in rows)


def test_an_undecodable_record_is_reported_with_every_record_after_it(aws: Aws) -> None:
    good = toll_line(START, "TX45").encode()
    event = window_event([good, good, good, good], start=START, state=None)
    event["Records"][2]["kinesis"]["data"] = "%%% not base64 %%%"
    result = process(event, config=aws.config(), s3=aws.s3, sns=aws.sns)
    sequence = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert result["batchItemFailures"] == [{"itemIdentifier": sequence[2]}, {"itemIdentifier": sequence[3]}]
    assert result["state"]["counts"] == {"TX45": 2}  # the state of the records before it, for Lambda's retry


def test_a_retried_final_invoke_does_not_teach_the_model_twice(aws: Aws) -> None:
    rng = random.Random(4)
    config = aws.config()
    state = run_window(aws, config, draw_window(rng, START, STEADY_WEIGHTS, 200), START)
    model_before = aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read()
    again = process(window_event([], start=START, state=state, final=True), config=config, s3=aws.s3, sns=aws.sns)
    assert again == {"state": {}, "batchItemFailures": []}
    assert aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read() == model_before


def test_a_dead_topic_keeps_the_alert_in_the_bucket(aws: Aws) -> None:
    rng = random.Random(3)
    config = aws.config(threshold=2.5, topic_arn=f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:deleted-topic")
    for i in range(41):
        start = START + timedelta(seconds=10 * i)
        run_window(aws, config, draw_window(rng, start, STEADY_WEIGHTS if i < 40 else SKEWED_WEIGHTS), start)
    [alert_key] = aws.keys("anomaly/alerts/")
    alert = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=alert_key)["Body"].read())
    assert alert["notified"] is False and "error" in alert


def test_workshop_mode_scores_each_station_row_as_the_workshop_did(aws: Aws) -> None:
    """`toll deploy --mode workshop`: RANDOM_CUT_FOREST(..., 1, 10, 10, 2) over (station, count) rows."""
    app = AnomalyConfig.from_options(mode="workshop", threshold=2.5)
    env = {"TOLL_BUCKET": BUCKET, "TOLL_TOPIC_ARN": aws.topic_arn, CONFIG_VARIABLE: json.dumps(app.to_json())}
    config = HandlerConfig.from_environ(env)
    rng = random.Random(5)
    for i in range(6):
        start = START + timedelta(seconds=10 * i)
        run_window(aws, config, draw_window(rng, start, STEADY_WEIGHTS, 400), start)
    rows = [row for key in aws.keys("anomaly/scores/") for row in aws.json_lines(key)]
    assert {row["mode"] for row in rows} == {"workshop"}
    assert all(row["vehicle_count"] > 0 for row in rows)  # GROUP BY station: only stations with records
    assert len({row["anomaly_score"] for row in rows}) > 2  # every row has its own score
    for alert_key in aws.keys("anomaly/alerts/"):  # noisy by design: each alert names its own row
        alert = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=alert_key)["Body"].read())
        assert alert["anomaly_score"] > 2.5 and alert["message"].startswith(
            f"Anomalous data detected at station {alert['station']}."
        )


class DeniedModelS3:
    """S3 as it answers a role without s3:ListBucket: the missing model key is a 403, not a 404."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.model_reads = 0

    def get_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if kwargs["Key"] == MODEL_KEY:
            self.model_reads += 1
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
        return self.s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_a_denied_model_read_is_one_clear_error_not_a_retry(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    """A raise on the final invoke makes Lambda retry the same denied read; the handler ends the
    window with one line naming the missing grant instead, and writes nothing half-way."""
    s3 = DeniedModelS3(aws.s3)
    state = process(
        window_event([toll_line(START, "35South").encode()], start=START, state=None), config=aws.config(), s3=s3, sns=aws.sns
    )
    with caplog.at_level("ERROR", logger="tollcli.anomaly"):
        final = process(window_event([], start=START, state=state["state"], final=True), config=aws.config(), s3=s3, sns=aws.sns)
    assert final == {"state": {}, "batchItemFailures": []}
    assert s3.model_reads == 1
    [message] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "s3:ListBucket on the bucket" in message and MODEL_KEY in message
    assert aws.keys("anomaly/") == []


def test_the_function_role_may_list_the_bucket_so_a_missing_model_is_a_404() -> None:
    """S3 answers 404 for a missing key only to a caller allowed s3:ListBucket on the bucket, and a
    grant conditioned on `s3:prefix` does not apply to GetObject (it is what made the model unsavable)."""
    from tollcli.backends.aws.anomaly import policy_document

    document = json.loads(
        policy_document(
            "lambda-policy",
            account="123456789012",
            region=REGION,
            partition="aws",
            bucket=BUCKET,
            stream_arn="arn:aws:kinesis:us-west-2:123456789012:stream/s",
            topic_arn="arn:aws:sns:us-west-2:123456789012:t",
            function="f",
        )
    )
    listing = [
        s for s in document["Statement"] if "s3:ListBucket" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert [(s["Effect"], s["Resource"], s.get("Condition")) for s in listing] == [("Allow", f"arn:aws:s3:::{BUCKET}", None)]


def test_the_handler_counts_every_line_of_records_packed_by_the_kinesis_sink(aws: Aws) -> None:
    """`toll generate` packs many lines into each Kinesis record; Lambda hands the function those
    records as they are in the stream: every line is counted once, in its station."""
    import numpy as np

    from tollcli.backends.aws.anomaly import KinesisSink
    from tollcli.records import RecordChunk

    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="toll-live-records", ShardCount=1)
    rng = random.Random(3)
    stations = rng.choices(STATIONS, weights=STEADY_WEIGHTS, k=2000)
    lines = [toll_line(START + timedelta(milliseconds=5 * i), s, f"P{i:05d}").encode() for i, s in enumerate(stations)]
    with KinesisSink(kinesis, "toll-live-records", sleep=lambda _s: None, record_bytes=8192) as sink:
        for start in range(0, len(lines), 250):
            part = lines[start : start + 250]
            sink.write(RecordChunk(lines=b"".join(part), count=len(part), event_times=np.zeros(len(part))))
    shard = kinesis.list_shards(StreamName="toll-live-records")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="toll-live-records", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    stream_records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10_000)["Records"]
    assert 2000 / 250 <= len(stream_records) < 2000 / 50  # packed, not a record per line
    state: dict[str, Any] | None = None
    for first in range(0, len(stream_records), 7):  # batches, as Lambda forms them
        batch = [r["Data"] for r in stream_records[first : first + 7]]
        result = process(
            window_event(batch, start=START, state=state, first_seq=first), config=aws.config(), s3=aws.s3, sns=aws.sns
        )
        assert result["batchItemFailures"] == []
        state = result["state"]
    assert state is not None
    assert state["counts"] == {s: stations.count(s) for s in set(stations)}
    assert (state["records"], state["rejected"]) == (2000, 0)
