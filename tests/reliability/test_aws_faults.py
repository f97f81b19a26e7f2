"""AWS faults against the real code paths: throttling storms, 5xx, credentials expiring mid-run,
teardown racing a half-created (or half-deleted) stack, and the IAM policies as AWS stores them.

moto answers every call and never throttles, so faults come from `FaultLayer`: a botocore
`before-send` hook standing in for moto's own in every session made while it is installed (our
`AwsClient`'s and PyAthena's). It answers chosen calls with the HTTP error AWS would send (JSON, REST-XML or query
body, parsed by botocore from the real API model) instead of letting moto answer, so botocore's
own retries (standard mode, 5 attempts) and the Firehose sink's run as in production. Every sleep
is recorded, none taken: botocore's through `botocore.endpoint.time`, the sink's through its
`sleep` argument. Counts, never timings, are asserted.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import botocore.handlers
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

import iam_lint
import tollcli.backends.aws.backend
from tollcli.backends.aws.client import AwsClient
from tollcli.backends.aws.sinks import FirehoseSink
from tollcli.errors import TollError
from tollcli.records import RecordChunk
from tollcli.state import Ledger

REGION = "us-west-2"
ACCOUNT = "123456789012"
STREAM = "toll-data-stream"
PUT = "firehose.PutRecordBatch"
PROTOCOLS = {"s3": "rest-xml", "iam": "query", "sts": "query"}  # the others we call speak JSON
# Distinctive fake credentials: none may ever be printed.
ACCESS_KEY = "AKIAFAKETOLLFAULTS01"
SECRET_KEY = "s3cr3t-toll-faults-canary"
SESSION_TOKEN = "sessiontoken-toll-faults-canary"


# --- the fault layer --------------------------------------------------------------------------
def error_answer(request: Any, service: str, status: int, code: str, message: str = "injected") -> AWSResponse:
    """The HTTP error AWS sends for `code`, in the service's protocol."""
    protocol = PROTOCOLS.get(service, "json")
    headers = {"x-amzn-RequestId": "fault", "x-amz-request-id": "fault"}
    if request.method == "HEAD":  # S3 answers HEAD errors without a body
        body = ""
    elif protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>fault</RequestId></ErrorResponse>"
        )
    else:
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


def sent_records(request: Any) -> list[bytes]:
    """The records of a PutRecordBatch request, as the sink sent them."""
    return [base64.b64decode(r["Data"]) for r in json.loads(request.body)["Records"]]


Answer = Callable[[Any, str, int], "AWSResponse | None"]  # (request, service, nth call) -> answer or None (moto answers)


@dataclass
class FaultLayer:
    """Stands in front of moto's own before-send hook: botocore calls every before-send hook and
    keeps the first answer, so moto must not even see a call we answer (it would act on it)."""

    moto: Callable[..., Any]
    rules: dict[str, Answer] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # HTTP attempts per "service.Operation"
    injected: Counter[str] = field(default_factory=Counter)
    retry_sleeps: list[float] = field(default_factory=list)  # botocore's, between attempts
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        if getattr(self.local, "bypass", False):
            return self.moto(request=request, event_name=event_name, **kwargs)
        _, service, operation = event_name.split(".", 2)
        key = f"{service}.{operation}"
        with self.lock:
            self.calls[key] += 1
            nth = self.calls[key]
        rule = self.rules.get(key)
        answer = rule(request, service, nth) if rule else None
        if answer is None:
            return self.moto(request=request, event_name=event_name, **kwargs)
        with self.lock:
            self.injected[key] += 1
        return answer

    @contextmanager
    def bypass(self) -> Iterator[None]:
        """Calls made by the test itself (someone else in the account, or a look at the result)."""
        self.local.bypass = True
        try:
            yield
        finally:
            self.local.bypass = False

    def fail(self, key: str, code: str, status: int = 500, *, times: int | None = None, after: int = 0) -> None:
        """Answer `key` with `code` from call `after + 1` on, `times` times (None: for ever)."""

        def answer(request: Any, service: str, nth: int) -> AWSResponse | None:
            if nth <= after or (times is not None and nth > after + times):
                return None
            return error_answer(request, service, status, code)

        self.rules[key] = answer


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultLayer]:
    layer = FaultLayer(moto=botocore_stubber)
    handlers = [
        (spec[0], layer, *spec[2:]) if spec[1] is botocore_stubber else spec for spec in botocore.handlers.BUILTIN_HANDLERS
    ]
    assert sum(spec[1] is layer for spec in handlers) == 1
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=layer.retry_sleeps.append))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    with mock_aws():
        yield layer


@pytest.fixture
def sink_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The CLI's Firehose sink, its backoff recorded instead of slept, and each line its own record
    (`record_bytes=1`) so that these storms hit many calls; packing is tested in test_aws_firehose.py
    and runs the same resend code."""
    sleeps: list[float] = []

    class RecordedSleepSink(FirehoseSink):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "sleep": sleeps.append, "record_bytes": 1})

    monkeypatch.setattr(tollcli.backends.aws.backend, "FirehoseSink", RecordedSleepSink)  # where open_sink looks it up
    return sleeps


def client(layer: FaultLayer, name: str) -> Any:
    with layer.bypass():
        return boto3.client(name, region_name=REGION)


def aws_cli(toll: Callable[..., Any], *args: str) -> Any:
    return toll("--backend", "aws", "--region", REGION, *args)


def one_error_line(result: Any) -> str:
    """Exit 1, exactly one `toll: error:` line on stderr (the last; setup's progress lines may come
    before it), no traceback, no credential."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("toll: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.strip().startswith("created ") for line in lines[:-1]), result.stderr
    assert "Traceback" not in result.output
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
        assert secret not in result.output
    return errors[0]


def toll_records(count: int, tag: str = "") -> list[bytes]:
    return [b"2026-11-28T10:00:%02dZ,35South,P%s%06d\n" % (i % 60, tag.encode(), i) for i in range(count)]


def chunk_of(records: list[bytes]) -> RecordChunk:
    return RecordChunk(lines=b"".join(records), count=len(records), event_times=np.zeros(len(records)))


def stack_bucket(home: Path) -> str:
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None
    bucket = ledger.find("bucket")
    assert bucket is not None
    return bucket.name


def delivered(layer: FaultLayer, bucket: str, read: Callable[[str, str], list[bytes]]) -> list[bytes]:
    """Every line Firehose (moto) wrote to the bucket (`read` is the `read_bucket_lines` fixture)."""
    with layer.bypass():
        return read(bucket, REGION)


def delivered_count(line: str) -> int:
    found = re.search(r"\(([\d,]+) of ([\d,]+) records were delivered to toll-data-stream; the rest were not\)", line)
    assert found, line
    return int(found.group(1).replace(",", ""))


@pytest.fixture
def stack(faults: FaultLayer, toll: Callable[..., Any], home: Path) -> str:
    """A moto `toll setup` made through the CLI; its bucket."""
    result = aws_cli(toll, "setup", "--buffer-mb", "1")
    assert result.exit_code == 0, result.output
    return stack_bucket(home)


# --- 1. throttling storms on PutRecordBatch -------------------------------------------------------
@dataclass
class PutLog:
    """Each PutRecordBatch call as sent: its records and which were accepted."""

    calls: list[tuple[list[bytes], list[bool]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, records: list[bytes], accepted: list[bool]) -> None:
        with self.lock:
            self.calls.append((records, accepted))

    def check_each_record_once(self, records: list[bytes], max_attempts: int) -> None:
        """Every record: refused some times, then accepted exactly once, never sent after that;
        and each call keeps the records in the order they were generated."""
        position = {r: i for i, r in enumerate(records)}
        history: dict[bytes, list[bool]] = {r: [] for r in records}
        for sent, accepted in self.calls:
            assert [position[r] for r in sent] == sorted(position[r] for r in sent)
            for record, ok in zip(sent, accepted):
                history[record].append(ok)
        for record, outcomes in history.items():
            assert outcomes[-1] is True and outcomes.count(True) == 1, (record, outcomes)
            assert len(outcomes) <= max_attempts


def expected_backoff(refusals_per_batch: list[int], base: float = 0.1, cap: float = 5.0) -> Counter[float]:
    """The sink's sleeps with jitter pinned at its top: base, 2x base, ... capped, per refused call."""
    return Counter(min(cap, base * 2**k) for refusals in refusals_per_batch for k in range(refusals))


def refusals_per_batch(log: PutLog, records: list[bytes]) -> list[int]:
    """How many refused calls each batch (named by its first record) went through."""
    first_of_batch = {r for r in records[::500]}
    owner: dict[bytes, bytes] = {}
    counts: Counter[bytes] = Counter()
    for sent, accepted in log.calls:
        head = sent[0] if sent[0] in first_of_batch and sent[0] not in owner else owner[sent[0]]
        for record in sent:
            owner.setdefault(record, head)
        if not all(accepted):
            counts[head] += 1
    return list(counts.values())


def test_50_whole_call_throttles_in_a_row_then_success_deliver_every_record_once(
    faults: FaultLayer, stack: str, read_bucket_lines: Callable[[str, str], list[bytes]]
) -> None:
    """The first 50 PutRecordBatch calls are refused whole (ServiceUnavailableException 503 and
    ThrottlingException 400, alternating), then Firehose accepts: 3,000 records in 6 batches on 4
    workers; every record reaches the bucket exactly once, after a capped exponential backoff."""
    log = PutLog()

    def storm(request: Any, service: str, nth: int) -> AWSResponse | None:
        records = sent_records(request)
        refused = nth <= 50
        log.add(records, [not refused] * len(records))
        if not refused:
            return None
        code, status = ("ServiceUnavailableException", 503) if nth % 2 else ("ThrottlingException", 400)
        return error_answer(request, service, status, code, "Slow down.")

    faults.rules[PUT] = storm
    records = toll_records(3000)
    sleeps: list[float] = []
    sink = FirehoseSink(
        AwsClient(region=REGION),
        STREAM,
        realtime=False,
        max_attempts=60,
        sleep=sleeps.append,
        jitter=lambda: 1.0,
        record_bytes=1,
    )
    for start in range(0, len(records), 450):  # chunks that do not line up with batches
        sink.write(chunk_of(records[start : start + 450]))
    sink.close()

    assert faults.injected[PUT] == 50 and faults.calls[PUT] == 56
    stats = sink.stats
    assert (stats.accepted, stats.failed, stats.retried, stats.api_calls) == (3000, 0, 50 * 500, 56)
    assert Counter(delivered(faults, stack, read_bucket_lines)) == Counter(records)
    log.check_each_record_once(records, max_attempts=60)
    assert len(sleeps) == 50 and Counter(sleeps) == expected_backoff(refusals_per_batch(log, records))
    assert max(sleeps) == 5.0  # 50 refusals over at most 6 batches: one batch reached the cap
    assert faults.retry_sleeps == []  # the data path's client does not retry by itself


def test_50_partial_failures_in_a_row_resend_exactly_the_failed_entries(
    faults: FaultLayer, stack: str, read_bucket_lines: Callable[[str, str], list[bytes]]
) -> None:
    """For 50 calls in a row Firehose accepts only the first entry of each call (FailedPutCount =
    the rest, ErrorCode ServiceUnavailableException or InternalFailure); the accepted entries
    really reach moto. Then every call succeeds. 1,500 records, 3 batches, 2 workers."""
    log = PutLog()

    def partial(request: Any, service: str, nth: int) -> AWSResponse | None:
        records = sent_records(request)
        if nth > 50:
            log.add(records, [True] * len(records))
            return None
        accepted = [i == 0 for i in range(len(records))]
        log.add(records, accepted)
        with faults.bypass():  # the accepted entry goes to moto for real
            boto3.client("firehose", region_name=REGION).put_record_batch(
                DeliveryStreamName=STREAM, Records=[{"Data": records[0]}]
            )
        code = "ServiceUnavailableException" if nth % 2 else "InternalFailure"
        body = {
            "FailedPutCount": len(records) - 1,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": f"r{nth}"}]
            + [{"ErrorCode": code, "ErrorMessage": "Slow down."} for _ in records[1:]],
        }
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault"}
        return AWSResponse(request.url, 200, headers, MockRawResponse(json.dumps(body)))

    faults.rules[PUT] = partial
    records = toll_records(1500)
    sleeps: list[float] = []
    sink = FirehoseSink(
        AwsClient(region=REGION),
        STREAM,
        realtime=False,
        workers=2,
        max_attempts=60,
        sleep=sleeps.append,
        jitter=lambda: 1.0,
        record_bytes=1,
    )
    sink.write(chunk_of(records))
    sink.close()

    assert faults.injected[PUT] == 50 and faults.calls[PUT] == 53
    refused_entries = sum(len(sent) - 1 for sent, accepted in log.calls if not all(accepted))
    stats = sink.stats
    assert (stats.accepted, stats.failed, stats.retried, stats.api_calls) == (1500, 0, refused_entries, 53)
    assert Counter(delivered(faults, stack, read_bucket_lines)) == Counter(records)
    log.check_each_record_once(records, max_attempts=60)
    assert Counter(sleeps) == expected_backoff(refusals_per_batch(log, records))


def test_the_default_budget_rides_out_7_throttles_in_a_row_and_stops_at_8(
    faults: FaultLayer, stack: str, read_bucket_lines: Callable[[str, str], list[bytes]]
) -> None:
    """Default sink (8 attempts): a batch refused 7 times is delivered after sleeping 0.1 .. 3.2
    and 5.0 (the cap) seconds; the next batch, refused 8 times, stops the sink with a TollError
    naming the throttling and exactly what was delivered."""
    faults.fail(PUT, "ThrottlingException", 400, times=7)
    sleeps: list[float] = []
    sink = FirehoseSink(AwsClient(region=REGION), STREAM, workers=1, sleep=sleeps.append, jitter=lambda: 1.0, record_bytes=1)
    first, second = toll_records(10, "a"), toll_records(10, "b")
    sink.write(chunk_of(first))
    sink.flush()
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert sink.stats.accepted == 10

    faults.fail(PUT, "ThrottlingException", 400, after=faults.calls[PUT])  # never ends
    sink.write(chunk_of(second))
    with pytest.raises(TollError) as raised:
        sink.close()
    message = raised.value.message
    assert "Firehose refused 10 records 8 times in a row" in message and "ThrottlingException" in message
    assert "(10 of 20 records were delivered to toll-data-stream; the rest were not)" in message
    assert raised.value.exit_status == 1
    assert (sink.stats.accepted, sink.stats.failed) == (10, 10)
    assert sorted(delivered(faults, stack, read_bucket_lines)) == sorted(first)


def test_endless_throttling_stops_generate_with_one_line_and_the_true_count(
    faults: FaultLayer,
    stack: str,
    toll: Callable[..., Any],
    sink_sleeps: list[float],
    read_bucket_lines: Callable[[str, str], list[bytes]],
) -> None:
    """`toll generate --count 3000 --backfill`: the first 2 PutRecordBatch calls succeed, then
    Firehose answers ServiceUnavailableException for ever. Exit 1, one line naming the problem and
    how many records were delivered, which is exactly what the bucket holds; no summary claims more."""
    faults.fail(PUT, "ServiceUnavailableException", 503, after=2)
    result = aws_cli(toll, "generate", "--count", "3000", "--backfill", "--format", "json")
    line = one_error_line(result)
    assert result.stdout == ""
    assert "Firehose refused 500 records 8 times in a row" in line and "ServiceUnavailableException" in line
    assert "lower --rate" in line
    lines = delivered(faults, stack, read_bucket_lines)
    assert delivered_count(line) == len(lines) == len(set(lines)) == 1000
    assert sink_sleeps and all(0 < s <= 5.0 for s in sink_sleeps)


# --- 2. 5xx from Firehose, S3, IAM, Glue and Athena -------------------------------------------
TRANSIENT_SETUP_FAULTS = [  # (call, code, HTTP status, times in a row)
    ("s3.CreateBucket", "InternalError", 500, 2),
    ("s3.PutBucketPolicy", "SlowDown", 503, 1),
    ("iam.CreateRole", "ServiceFailure", 500, 2),
    ("firehose.CreateDeliveryStream", "InternalFailure", 500, 1),
    ("glue.CreateDatabase", "InternalServiceException", 500, 2),
    ("glue.CreateTable", "InternalServiceException", 500, 1),
    ("athena.CreateWorkGroup", "InternalServerException", 500, 2),
]


def test_transient_5xx_during_setup_and_status_are_retried_and_create_each_resource_once(
    faults: FaultLayer, toll: Callable[..., Any], home: Path
) -> None:
    for key, code, status, times in TRANSIENT_SETUP_FAULTS:
        faults.fail(key, code, status, times=times)
    result = aws_cli(toll, "setup", "--format", "json")
    assert result.exit_code == 0, result.output
    injected = sum(t for *_, t in TRANSIENT_SETUP_FAULTS)
    assert sum(faults.injected.values()) == injected == 11
    assert len(faults.retry_sleeps) == injected  # botocore slept (recorded, not taken) before each resend
    for key, _code, _status, times in TRANSIENT_SETUP_FAULTS:
        assert faults.calls[key] == times + 1, key  # refused `times`, then done once
    assert {r["kind"] for r in json.loads(result.stdout)["created"]} == {
        "bucket", "role", "delivery_stream", "database", "table", "workgroup",
    }  # fmt: skip
    assert len(client(faults, "s3").list_buckets()["Buckets"]) == 1
    assert len(client(faults, "iam").list_roles(PathPrefix="/toll/")["Roles"]) == 1

    faults.rules.clear()
    for key in ("s3.HeadBucket", "iam.GetRole", "firehose.DescribeDeliveryStream", "glue.GetDatabase", "athena.GetWorkGroup"):
        faults.fail(key, "InternalError", 500, times=2, after=faults.calls[key])
    status = aws_cli(toll, "status", "--format", "json")
    assert status.exit_code == 0, status.output
    assert {r["state"] for r in json.loads(status.stdout)["resources"]} <= {"present", "ACTIVE", "ENABLED"}
    assert sum(faults.injected.values()) == injected + 10


@pytest.mark.parametrize(
    ("command", "key", "code", "text"),
    [
        (("status",), "s3.HeadBucket", "500", "could not look up the bucket"),
        (("status",), "firehose.DescribeDeliveryStream", "InternalFailure", "could not look up the delivery stream"),
        (("status",), "glue.GetTable", "InternalServiceException", "could not look up the table toll.lab_toll_data_stream"),
        (("query", "sql", "SELECT 1"), "athena.StartQueryExecution", "InternalServerException", "query"),
        (("generate", "--count", "100", "--backfill"), PUT, "InternalFailure", "Firehose refused 100 records 8 times"),
    ],
    ids=["status-s3", "status-firehose", "status-glue", "query-athena", "generate-firehose"],
)
def test_a_5xx_that_does_not_end_is_one_line_and_exit_1(
    faults: FaultLayer, stack: str, toll: Callable[..., Any], sink_sleeps: list[float],
    command: tuple[str, ...], key: str, code: str, text: str,
) -> None:  # fmt: skip
    faults.fail(key, code, 500, after=faults.calls[key])
    line = one_error_line(aws_cli(toll, *command))
    assert text in line and code in line, line
    if key == PUT:
        assert faults.injected[key] == 8 and len(sink_sleeps) == 7  # the sink's own attempts
        assert delivered_count(line) == 0
    else:
        # botocore resent it before giving up: 1 + 5 retries for our clients, 1 + 2 for PyAthena's
        attempts = 3 if key.startswith("athena.") else 6
        assert (faults.injected[key], len(faults.retry_sleeps)) == (attempts, attempts - 1)


def test_transient_5xx_from_athena_during_a_query_are_retried(faults: FaultLayer, stack: str, toll: Callable[..., Any]) -> None:
    """StartQueryExecution and GetQueryExecution each answer InternalServerException twice
    (through PyAthena's own client): the query still answers, once."""
    header = {"Data": [{"VarCharValue": "records"}]}
    info = [{"Name": "records", "Type": "bigint", "Nullable": "UNKNOWN", "CaseSensitive": False, "Precision": 19, "Scale": 0}]
    athena_backends[ACCOUNT][REGION].query_results_queue.append(
        QueryResults(rows=[header, {"Data": [{"VarCharValue": "42"}]}], column_info=info)
    )
    for key in ("athena.StartQueryExecution", "athena.GetQueryExecution"):
        faults.fail(key, "InternalServerException", 500, times=2)
    result = aws_cli(toll, "query", "sql", "SELECT count(*) AS records FROM lab_toll_data_stream", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == [{"records": 42}]
    assert faults.injected["athena.StartQueryExecution"] == faults.injected["athena.GetQueryExecution"] == 2
    assert len(faults.retry_sleeps) == 4
    executions = client(faults, "athena").list_query_executions(WorkGroup="toll-workgroup")["QueryExecutionIds"]
    assert len(executions) == 1  # the refused starts never reached Athena: one query ran


def test_intermittent_500s_from_firehose_during_generate_lose_and_double_nothing(
    faults: FaultLayer,
    stack: str,
    toll: Callable[..., Any],
    sink_sleeps: list[float],
    read_bucket_lines: Callable[[str, str], list[bytes]],
) -> None:
    """Every third PutRecordBatch answers InternalFailure (HTTP 500): each refused call is resent
    after a backoff, and the bucket holds each of the 5,000 generated records once."""
    faults.rules[PUT] = lambda request, service, nth: (
        error_answer(request, service, 500, "InternalFailure") if nth % 3 == 0 else None
    )
    result = aws_cli(toll, "generate", "--count", "5000", "--backfill", "--seed", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["records"], summary["failed"]) == (5000, 0)
    lines = delivered(faults, stack, read_bucket_lines)
    assert len(lines) == len(set(lines)) == 5000
    assert faults.injected[PUT] == len(sink_sleeps) == faults.calls[PUT] // 3 >= 3


# --- 3. credentials expiring mid-run ------------------------------------------------------------
@pytest.mark.parametrize("code", ["ExpiredTokenException", "ExpiredToken", "RequestExpired"])
def test_credentials_expiring_mid_generate_stop_it_with_one_line_and_the_true_count(
    faults: FaultLayer,
    stack: str,
    toll: Callable[..., Any],
    sink_sleeps: list[float],
    code: str,
    read_bucket_lines: Callable[[str, str], list[bytes]],
) -> None:
    """After 3 accepted PutRecordBatch calls, Firehose answers `code` (HTTP 400) to everything:
    nothing is resent, exit 1, one line telling the user to refresh the credentials and how many
    records were delivered (what moto received), no credential printed."""
    log = PutLog()

    def expire(request: Any, service: str, nth: int) -> AWSResponse | None:
        records = sent_records(request)
        log.add(records, [nth <= 3] * len(records))
        return (
            None
            if nth <= 3
            else error_answer(request, service, 400, code, "The security token included in the request is expired")
        )

    faults.rules[PUT] = expire
    line = one_error_line(aws_cli(toll, "generate", "--count", "6000", "--backfill"))
    assert f"AWS rejected your credentials ({code})" in line and "refresh them" in line, line
    lines = delivered(faults, stack, read_bucket_lines)
    assert delivered_count(line) == len(lines) == len(set(lines)) == 1500
    sent = [r for records, _ in log.calls for r in records]
    assert len(sent) == len(set(sent))  # no record was sent twice: an expired token is not retried
    assert sink_sleeps == []


# --- 4. teardown racing a half-created or half-deleted stack --------------------------------------
FOREIGN_BUCKET = "someone-elses-bucket-toll-data"
FOREIGN_ROLE = "toll-someone-elses-role"


def add_foreign_resources(layer: FaultLayer) -> None:
    """Resources that are not ours: named like ours, one even under our IAM path, none tagged for us."""
    with layer.bypass():
        s3, iam = boto3.client("s3", region_name=REGION), boto3.client("iam", region_name=REGION)
        s3.create_bucket(Bucket=FOREIGN_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=FOREIGN_BUCKET, Key="keep.txt", Body=b"mine")
        iam.create_role(RoleName=FOREIGN_ROLE, Path="/toll/", AssumeRolePolicyDocument="{}")
        boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "not_toll"})


def what_is_left(layer: FaultLayer) -> dict[str, list[str]]:
    with layer.bypass():
        aws = {name: boto3.client(name, region_name=REGION) for name in ("s3", "iam", "firehose", "glue", "athena")}
        return {
            "buckets": sorted(b["Name"] for b in aws["s3"].list_buckets()["Buckets"]),
            "roles": sorted(r["RoleName"] for r in aws["iam"].list_roles()["Roles"]),
            "streams": aws["firehose"].list_delivery_streams()["DeliveryStreamNames"],
            "databases": sorted(d["Name"] for d in aws["glue"].get_databases()["DatabaseList"]),
            "workgroups": sorted(w["Name"] for w in aws["athena"].list_work_groups()["WorkGroups"]),
        }


ONLY_FOREIGN = {
    "buckets": [FOREIGN_BUCKET],
    "roles": [FOREIGN_ROLE],
    "streams": [],
    "databases": ["not_toll"],
    "workgroups": ["primary"],
}


def teardown_twice(toll: Callable[..., Any], layer: FaultLayer, home: Path) -> dict[str, Any]:
    """Teardown succeeds and leaves only the foreign resources; a second one is a no-op."""
    first = aws_cli(toll, "teardown", "--yes", "--format", "json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["failed"] == []
    assert what_is_left(layer) == ONLY_FOREIGN
    with layer.bypass():
        assert boto3.client("s3", region_name=REGION).get_object(Bucket=FOREIGN_BUCKET, Key="keep.txt")["Body"].read() == b"mine"
    assert not (home / "ledger.json").exists()
    second = aws_cli(toll, "teardown", "--yes", "--format", "json")
    assert second.exit_code == 0 and json.loads(second.stdout)["nothing_to_do"] is True
    return report


# Setup stopped by an AWS error that does not end, at several points (setup exits 1, one line).
# The ledger then lists what was made, and what setup was about to make ("creating").
SETUP_STOPS = [
    ("s3.PutPublicAccessBlock", "InternalError", ["bucket"]),  # the bucket exists, untagged
    ("iam.PutRolePolicy", "ServiceFailure", ["bucket", "role"]),  # the role exists without its policy
    ("glue.CreateDatabase", "InternalServiceException", ["bucket", "role", "delivery_stream", "database"]),
    (
        "athena.CreateWorkGroup",
        "InternalServerException",
        ["bucket", "role", "delivery_stream", "database", "table", "workgroup"],
    ),
]


@pytest.mark.parametrize(("key", "code", "kinds"), SETUP_STOPS, ids=[k for k, *_ in SETUP_STOPS])
def test_teardown_after_setup_stopped_by_a_5xx_removes_ours_only(
    faults: FaultLayer, toll: Callable[..., Any], home: Path, key: str, code: str, kinds: list[str]
) -> None:
    add_foreign_resources(faults)
    faults.fail(key, code, 500)
    line = one_error_line(aws_cli(toll, "setup"))
    assert code in line and faults.injected[key] == 6  # botocore resent it 5 times before setup gave up
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None and [r.kind for r in ledger.resources] == kinds
    faults.rules.clear()
    report = teardown_twice(toll, faults, home)
    assert len(report["removed"]) == len(kinds)
    never_made = 1 if key in ("glue.CreateDatabase", "athena.CreateWorkGroup") else 0
    assert sum("(already gone)" in label for label in report["removed"]) == never_made


# Between teardown's look (tags) and its delete, someone else deletes the resource: the delete
# fails with NoSuchBucket / NoSuchEntity / ResourceNotFoundException / EntityNotFoundException.
def delete_bucket(aws: Callable[[str], Any], bucket: str) -> None:
    s3 = aws("s3")
    s3.delete_bucket_policy(Bucket=bucket)  # moto applies its TLS-only Deny to plain calls
    for item in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def delete_role(aws: Callable[[str], Any], _bucket: str) -> None:
    iam = aws("iam")
    for name in iam.list_role_policies(RoleName="toll-firehose-delivery")["PolicyNames"]:
        iam.delete_role_policy(RoleName="toll-firehose-delivery", PolicyName=name)
    iam.delete_role(RoleName="toll-firehose-delivery")


RACES: dict[str, Callable[[Callable[[str], Any], str], None]] = {
    "s3.DeleteBucketPolicy": delete_bucket,
    "s3.DeleteBucket": delete_bucket,
    "iam.DeleteRolePolicy": delete_role,
    "iam.DeleteRole": delete_role,
    "firehose.DeleteDeliveryStream": lambda aws, _b: aws("firehose").delete_delivery_stream(DeliveryStreamName=STREAM),
    "glue.DeleteTable": lambda aws, _b: aws("glue").delete_table(DatabaseName="toll", Name="lab_toll_data_stream"),
    "glue.GetTables": lambda aws, _b: aws("glue").delete_database(Name="toll"),
    "athena.DeleteWorkGroup": lambda aws, _b: aws("athena").delete_work_group(
        WorkGroup="toll-workgroup", RecursiveDeleteOption=True
    ),
}


@pytest.mark.parametrize("key", list(RACES))
def test_teardown_finishes_when_someone_else_deletes_a_resource_under_it(
    faults: FaultLayer, stack: str, toll: Callable[..., Any], home: Path, key: str
) -> None:
    add_foreign_resources(faults)
    aws_cli(toll, "generate", "--count", "700", "--backfill")  # the bucket holds objects
    raced: list[str] = []

    def someone_else_first(request: Any, service: str, nth: int) -> None:
        if not raced:
            with faults.bypass():
                RACES[key](lambda name: boto3.client(name, region_name=REGION), stack)
            raced.append(key)  # (had the deletion failed, this test would see no race and fail)
        if key == "athena.DeleteWorkGroup":  # moto deletes a missing workgroup without a word; AWS says:
            return error_answer(request, service, 400, "InvalidRequestException", "WorkGroup toll-workgroup is not found.")
        return None  # moto answers our call: the resource is gone

    faults.rules[key] = someone_else_first
    report = teardown_twice(toll, faults, home)
    assert raced == [key], report
    aws_resources = [label for label in report["removed"] if not label.startswith("event-time ")]
    assert len(aws_resources) == 6, aws_resources  # (and the home's event-time.json, recorded by generate)
    assert sum("(already gone)" in label for label in report["removed"]) == 1, report


def test_teardown_hit_by_5xx_exits_1_then_a_second_teardown_finishes(
    faults: FaultLayer, stack: str, toll: Callable[..., Any], home: Path
) -> None:
    add_foreign_resources(faults)
    faults.fail("iam.DeleteRole", "ServiceFailure", 500)
    first = aws_cli(toll, "teardown", "--yes")
    assert first.exit_code == 1 and "Traceback" not in first.output
    assert "could not remove role toll-firehose-delivery" in first.stderr and "ServiceFailure" in first.stderr
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None and [r.kind for r in ledger.resources] == ["role"]  # the rest went
    faults.rules.clear()
    teardown_twice(toll, faults, home)


# --- 5. the IAM policies as AWS stores them after setup and deploy ---------------------------------
def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Resources not named after ours, each because the API requires it. None is needed today: the
# Glue catalog ARN (required by Glue next to the database and table) appears only in the
# QuickSight role, which neither setup nor deploy creates. A new entry must say why here.
REQUIRED_BY_THE_API: set[str] = set()


def test_the_stored_role_policies_after_setup_and_deploy_name_only_our_resources(
    faults: FaultLayer, stack: str, toll: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, lambda_build_cache: Path
) -> None:
    monkeypatch.setenv("TOLL_LAMBDA_CACHE", str(lambda_build_cache))
    deployed = aws_cli(toll, "deploy", "--email", "ops@example.com")
    assert deployed.exit_code == 0, deployed.output
    ours = (stack, "toll-data-stream", "toll-live-records", "toll-live-to-s3", "toll-anomaly", "toll-workgroup")
    iam = client(faults, "iam")
    roles = iam.list_roles()["Roles"]
    assert sorted(r["RoleName"] for r in roles) == ["toll-anomaly-function", "toll-firehose-delivery", "toll-live-to-s3-firehose"]
    checked = 0
    for role in roles:
        name = role["RoleName"]
        assert role["Path"] == "/toll/"
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []  # no managed policy
        trust = role["AssumeRolePolicyDocument"]
        assert iam_lint.findings(trust, trust=True) == [], name  # parliament, as stored
        for statement in trust["Statement"]:
            assert set(statement["Principal"]) == {"Service"} and len(as_list(statement["Principal"]["Service"])) == 1
        policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
        assert len(policies) == 1
        document = iam.get_role_policy(RoleName=name, PolicyName=policies[0])["PolicyDocument"]
        assert iam_lint.findings(document) == [], name
        for statement in as_list(document["Statement"]):
            assert statement["Effect"] == "Allow"
            actions = as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            for resource in as_list(statement["Resource"]):
                checked += 1
                assert resource != "*", (name, statement)
                if resource in REQUIRED_BY_THE_API:
                    continue
                head = resource.split("*")[0]
                assert any(own in head for own in ours), (name, resource)  # a wildcard only after our name
                assert ":::" in resource or f":{ACCOUNT}:" in resource, (name, resource)  # this account only
    assert checked >= 10
    bucket_policy = json.loads(client(faults, "s3").get_bucket_policy(Bucket=stack)["Policy"])
    assert all(s["Effect"] == "Deny" for s in bucket_policy["Statement"])  # the bucket grants nothing
    assert iam_lint.findings(bucket_policy) == []
    assert SECRET_KEY not in deployed.output and ACCESS_KEY not in deployed.output


# --- --timeout on Athena ---------------------------------------------------------------------------
def test_an_athena_query_past_its_timeout_is_stopped_in_athena_and_exits_1(
    faults: FaultLayer, stack: str, toll: Callable[..., Any]
) -> None:
    """Athena keeps answering RUNNING: after --timeout the query is stopped there (StopQueryExecution),
    and the command ends with the local engine's one line and exit 1."""

    def running(request: Any, service: str, nth: int) -> AWSResponse:
        query_id = json.loads(request.body)["QueryExecutionId"]
        body = {"QueryExecution": {"QueryExecutionId": query_id, "Query": "SELECT 1", "Status": {"State": "RUNNING"}}}
        headers = {"x-amzn-RequestId": "fault", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 200, headers, MockRawResponse(json.dumps(body)))

    faults.rules["athena.GetQueryExecution"] = running
    started = time.monotonic()
    result = aws_cli(toll, "query", "sql", "--timeout", "1", "SELECT 1")
    assert time.monotonic() - started < 30
    assert one_error_line(result) == "toll: error: query stopped after 1 s (--timeout)"
    assert faults.calls["athena.StartQueryExecution"] == 1
    assert faults.calls["athena.StopQueryExecution"] == 1
