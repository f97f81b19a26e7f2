"""The whole AWS workshop end to end: `toll --backend aws workshop` against a moto server.

The CLI runs in process (CliRunner) against a `ThreadedMotoServer` on 127.0.0.1, so every request
it makes is also checked against botocore's models (conftest's strict hook). Stand-ins replace only
what moto cannot do, each defined below where it is used:

- `AthenaStandIn`: moto runs no SQL. The query text runs on the local backend's engine (DuckDB,
  through `LocalBackend.query`, the same translation `toll query` uses locally) over a copy of the
  moto bucket's objects, and the result is stored where moto's GetQueryResults reads it, so
  PyAthena fetches it exactly as it fetches Athena's.
- `LambdaStandIn`: moto cannot invoke a function (that needs Docker) nor run an event source
  mapping, and its KDS-sourced delivery stream delivers nothing. It reads the live stream from
  TRIM_HORIZON, writes each record's bytes to the bucket under Firehose's key layout (as the
  stream's delivery stream would), and calls the deployed function's handler (`process`, with the
  function's own environment) as Lambda's mapping does: 10 s tumbling windows, batches of records
  in Lambda's event shape, the returned state carried into the next invoke, and a final invoke per
  window. Lambda windows by arrival time; here a window holds the lines whose event time falls in
  it (for live traffic the same, to within the sinks' 1 s packing), regrouped into records per window.
- moto's own Kinesis-to-Lambda hand-off (`send_kinesis_message`) would run the function in Docker,
  absent here: it is switched off, `LambdaStandIn` plays that part.
- The bucket's TLS-only policy: moto enforces `aws:SecureTransport` on its plain-HTTP endpoint, which
  real clients reach over TLS; `open_bucket` removes that one statement before a stand-in reads.
- `VirtualClock`: on AWS the workshop runs in real time (17 minutes by default; the forest needs
  32 windows to warm up). The workshop and generator modules get a clock whose `sleep` advances it,
  so the phases run at CPU speed with the same schedule, event times and waits.
"""

from __future__ import annotations

import base64
import json
import time as real_time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.athena.models import AthenaBackend, QueryResults
from moto.awslambda.models import LambdaBackend
from moto.server import ThreadedMotoServer

import tollcli.generator
import tollcli.workshop
from tollcli.anomaly.app import AnomalyConfig
from tollcli.backends.aws.lambda_handler import SCORES_PREFIX, HandlerConfig, process
from tollcli.backends.local import LocalBackend
from tollcli.config import Settings

REGION = "us-west-2"
WINDOW = 10


class VirtualClock:
    """`time` for the workshop and generator: `sleep` advances the clock instead of waiting."""

    def __init__(self) -> None:
        # On a window boundary, so that whole-minute phases start on one: the workshop counts an
        # alert whose window straddles the skew's start as "before the skew" (reported to the lead).
        self.now = float(int(real_time.time()) // WINDOW * WINDOW)
        self.offset = real_time.monotonic() - self.now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now + self.offset

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


def open_bucket(s3: Any) -> list[str]:
    """The stack's buckets, with the TLS-only policy removed (see the module docstring)."""
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("toll-")]
    for bucket in buckets:
        s3.delete_bucket_policy(Bucket=bucket)
    return buckets


class SnsRecorder:
    """The function's SNS client, keeping what it published (the topic is gone after teardown)."""

    def __init__(self, sns: Any) -> None:
        self.sns = sns
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> Any:
        answer = self.sns.publish(**kwargs)
        self.published.append(kwargs)
        return answer


class LambdaStandIn:
    """The live stream's event source mapping and delivery stream (see the module docstring)."""

    def __init__(self, endpoint: str, clock: VirtualClock) -> None:
        def client(name: str) -> Any:
            return boto3.client(name, region_name=REGION, endpoint_url=endpoint)

        self.kinesis, self.s3, self.lam = client("kinesis"), client("s3"), client("lambda")
        self.sns = SnsRecorder(client("sns"))
        self.clock = clock
        self.iterator: str | None = None
        self.pending: dict[int, list[bytes]] = defaultdict(list)  # window start -> lines
        self.closed: set[int] = set()
        self.invokes = 0
        self.delivered_objects = 0

    def _config(self) -> tuple[HandlerConfig, str] | None:
        try:
            function = self.lam.get_function_configuration(FunctionName="toll-anomaly")
        except self.lam.exceptions.ResourceNotFoundException:
            return None
        variables = function["Environment"]["Variables"]
        return HandlerConfig.from_environ(variables), variables["TOLL_BUCKET"]

    def pump(self) -> None:
        """Deliver and score everything the stream holds whose window has closed by now."""
        found = self._config()
        if found is None:
            return
        config, bucket = found
        open_bucket(self.s3)
        if self.iterator is None:
            shard = self.kinesis.list_shards(StreamName="toll-live-records")["Shards"][0]["ShardId"]
            self.iterator = self.kinesis.get_shard_iterator(
                StreamName="toll-live-records", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        while True:
            page = self.kinesis.get_records(ShardIterator=self.iterator, Limit=10_000)
            self.iterator = page["NextShardIterator"]
            if not page["Records"]:
                break
            for record in page["Records"]:
                data = record["Data"]
                moment = datetime.now(timezone.utc)
                key = f"{moment:%Y/%m/%d/%H}/toll-live-to-s3-1-{moment:%Y-%m-%d-%H-%M-%S}-{record['SequenceNumber']}"
                self.s3.put_object(Bucket=bucket, Key=key, Body=data)  # the KDS-sourced delivery stream
                self.delivered_objects += 1
                for line in data.splitlines(keepends=True):
                    stamp = datetime.fromisoformat(line.split(b",", 1)[0].decode().replace("Z", "+00:00")).timestamp()
                    self.pending[int(stamp // WINDOW) * WINDOW].append(line)
        for start in sorted(w for w in self.pending if w + WINDOW <= self.clock.time()):
            self._run_window(start, self.pending.pop(start), config)

    def _run_window(self, start: int, lines: list[bytes], config: HandlerConfig) -> None:
        """Lambda's calls for one tumbling window: batches with the state carried, then the final invoke."""
        iso = lambda t: datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
        window = {"start": iso(start), "end": iso(start + WINDOW)}
        records = [b"".join(lines[i : i + 200]) for i in range(0, len(lines), 200)]
        state: dict[str, Any] = {}
        for first in range(0, len(records), 5):
            event = {
                "Records": [
                    {"kinesis": {"data": base64.b64encode(r).decode(), "sequenceNumber": f"{start}-{first + i}"}}
                    for i, r in enumerate(records[first : first + 5])
                ],
                "window": window,
                "state": state,
                "isFinalInvokeForWindow": False,
                "isWindowTerminatedEarly": False,
            }
            result = process(event, config=config, s3=self.s3, sns=self.sns)
            assert result["batchItemFailures"] == []
            state = result["state"]
            self.invokes += 1
        final = {"Records": [], "window": window, "state": state, "isFinalInvokeForWindow": True}
        assert process(final, config=config, s3=self.s3, sns=self.sns) == {"state": {}, "batchItemFailures": []}
        self.invokes += 1


class AthenaStandIn:
    """Athena's SQL execution on the local engine (see the module docstring)."""

    def __init__(self, endpoint: str, lake_home: Path, before: Callable[[], None]) -> None:
        self.s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        self.local = LocalBackend(Settings(backend="local", home=lake_home))
        self.local.setup(buffer_mb=1, buffer_seconds=60)
        self.local.deploy(config=AnomalyConfig())  # declares the local `anomaly_scores` table
        self.before = before
        self.queries: list[str] = []

    def _sync_lake(self) -> None:
        buckets = open_bucket(self.s3)
        lake = self.local.settings.home / "bucket"
        scores: dict[str, list[bytes]] = {}
        for bucket in buckets:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key[:4].isdigit() and not (lake / key).exists():  # Firehose's YYYY/MM/DD/HH/ objects
                        (lake / key).parent.mkdir(parents=True, exist_ok=True)
                        (lake / key).write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                    elif key.startswith(SCORES_PREFIX):  # anomaly/scores/YYYY/MM/DD/HH/<window>.json lines
                        hour = key[len(SCORES_PREFIX) :].rsplit("/", 1)[0]
                        scores.setdefault(hour, []).append(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for hour, bodies in scores.items():  # the local store's layout: anomaly/scores/YYYY/MM/DD/HH.jsonl
            path = self.local.settings.home / "anomaly" / "scores" / f"{hour}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(bodies))

    def results(self, query: str) -> QueryResults:
        self.before()
        self._sync_lake()
        self.queries.append(query)
        result = self.local.query(query)

        def athena_type(values: list[Any]) -> str:
            kinds = {type(v) for v in values if v is not None}
            if kinds and kinds <= {int}:
                return "bigint"
            if (kinds and kinds <= {int, float}) or any(k.__name__ == "Decimal" for k in kinds):
                return "double"
            return "varchar"

        columns = [str(c) for c in result.columns]
        types = [athena_type([row[i] for row in result.rows]) for i in range(len(columns))]
        column_info = [
            {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c, "Label": c, "Type": t,
             "Precision": 19 if t == "bigint" else 17 if t == "double" else 2147483647, "Scale": 0,
             "Nullable": "UNKNOWN", "CaseSensitive": t == "varchar"}
            for c, t in zip(columns, types)
        ]  # fmt: skip
        rows = [{"Data": [{"VarCharValue": c} for c in columns]}]  # Athena's first row: the labels
        rows += [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in result.rows]
        return QueryResults(rows=rows, column_info=column_info)


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_aws_workshop_end_to_end_against_a_moto_server(
    moto_server: str,
    toll: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lambda_build_cache: Path,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("TOLL_LAMBDA_CACHE", str(lambda_build_cache))
    monkeypatch.chdir(tmp_path)
    clock = VirtualClock()
    monkeypatch.setattr(tollcli.generator, "time", clock)
    monkeypatch.setattr(tollcli.workshop, "time", clock)
    lambda_stand_in = LambdaStandIn(moto_server, clock)
    athena = AthenaStandIn(moto_server, tmp_path / "athena-lake", lambda_stand_in.pump)
    real_start = AthenaBackend.start_query_execution

    def start_query_execution(self: AthenaBackend, query: str, *args: Any, **kwargs: Any) -> str:
        execution_id = real_start(self, query, *args, **kwargs)
        self.query_results[execution_id] = athena.results(query)
        return execution_id

    monkeypatch.setattr(AthenaBackend, "start_query_execution", start_query_execution)
    monkeypatch.setattr(LambdaBackend, "send_kinesis_message", lambda *_a, **_kw: None)
    from tollcli.backends.aws.backend import AwsBackend

    real_read_alerts, real_read_scores = AwsBackend.read_alerts, AwsBackend.read_scores

    def read_alerts(self: AwsBackend, **kwargs: Any) -> Any:
        lambda_stand_in.pump()
        return real_read_alerts(self, **kwargs)

    def read_scores(self: AwsBackend, **kwargs: Any) -> Any:
        lambda_stand_in.pump()
        return real_read_scores(self, **kwargs)

    monkeypatch.setattr(AwsBackend, "read_alerts", read_alerts)
    monkeypatch.setattr(AwsBackend, "read_scores", read_scores)

    began = real_time.monotonic()
    result = toll(
        "--backend", "aws", "workshop", "--minutes", "1", "--steady-minutes", "6", "--skew-minutes", "2",
        "--rate", "50", "--seed", "7", "--format", "json",
    )  # fmt: skip
    elapsed = real_time.monotonic() - began
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    statuses = {s["key"]: s["status"] for s in report["steps"]}
    assert statuses == dict.fromkeys(statuses, "ok"), [s["lines"] for s in report["steps"] if s["status"] != "ok"]
    assert list(statuses) == ["setup", "traffic", "answers", "deploy", "steady", "skew", "alerts", "dashboard", "teardown"]
    # the three answers, from the query text run on the moto bucket's objects
    answers = report["answers"]
    assert set(answers) == {"busiest", "most-active", "quiet"} and all(answers[q]["rows"] for q in answers)
    assert answers["quiet"]["flagged"] == ["35South"]  # the workshop's weights: 35South gets 1% of traffic
    assert any("FROM lab_toll_data_stream" in q for q in athena.queries)
    # the 35South alert: raised by the deployed handler on Lambda-shaped windows, sent through SNS
    assert [a["station"] for a in report["alerts"]].count("35South") >= 1
    assert all(a["window_start"] >= report["steps"][5]["details"]["skew_started"] for a in report["alerts"])
    published = lambda_stand_in.sns.published
    assert [p["Subject"] for p in published] == [f"toll: anomalous traffic at {a['station']}" for a in report["alerts"]]
    assert "Anomalous data detected at station 35South" in published[0]["Message"]
    assert Path(report["dashboard"]).is_file()
    # torn down to nothing
    assert report["torn_down"] is True
    aws = lambda name: boto3.client(name, region_name=REGION, endpoint_url=moto_server)  # noqa: E731
    assert aws("s3").list_buckets()["Buckets"] == []
    assert aws("kinesis").list_streams()["StreamNames"] == []
    assert aws("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert aws("iam").list_roles()["Roles"] == []
    assert aws("sns").list_topics()["Topics"] == []
    assert aws("glue").get_databases()["DatabaseList"] == []
    assert aws("logs").describe_log_groups()["logGroups"] == []
    assert [w["Name"] for w in aws("athena").list_work_groups()["WorkGroups"]] == ["primary"]
    print(f"aws workshop: {elapsed:.1f} s, {lambda_stand_in.invokes} invokes, {len(published)} SNS messages")
