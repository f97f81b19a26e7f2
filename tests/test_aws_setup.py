"""`--backend aws` setup, status, query and teardown against moto in process (`mock_aws`).

These assert the configuration AWS would hold after `toll setup` (buffering, encryption, public
access block, the policies' scope, tags, the table's columns and projection), that teardown
removes exactly what the ledger lists and carries our tag, and that a setup stopped at any step
can still be torn down.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from typer.testing import CliRunner

from tollcli.backends.aws.backend import (
    BYTES_SCANNED_CUTOFF,
    KIND_BUCKET,
    ROLE_PATH,
    AwsBackend,
    athena_cost_usd,
    firehose_hourly_cost_usd,
)
from tollcli.backends.aws.client import TAG_KEY, AwsClient, translate_error
from tollcli.cli import app
from tollcli.config import Settings
from tollcli.errors import TollError, UsageError
from tollcli.state import Ledger
from tollcli.workshop import StepReport, Workshop, WorkshopOptions

REGION = "us-west-2"
ACCOUNT = "123456789012"
STACK_TAG = {TAG_KEY: "toll"}


def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws():
        yield lambda name: boto3.client(name, region_name=REGION)


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(backend="aws", home=home, region=REGION, backend_explicit=True)


def make_backend(settings: Settings) -> AwsBackend:
    return AwsBackend(settings, sleep=no_sleep)


@pytest.fixture
def set_up(aws: Callable[[str], Any], settings: Settings) -> Ledger:
    make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    ledger = Ledger.load(settings.ledger_path)
    assert ledger is not None
    return ledger


def bucket_of(ledger: Ledger) -> str:
    resource = ledger.find(KIND_BUCKET)
    assert resource is not None
    return resource.name


def writable_bucket(client: Callable[[str], Any], ledger: Ledger) -> str:
    """The stack's bucket, its TLS-only policy removed: moto ignores the policy's condition and
    would deny our direct uploads (Firehose's own writes inside moto bypass it)."""
    bucket = bucket_of(ledger)
    client("s3").delete_bucket_policy(Bucket=bucket)
    return bucket


def what_is_left(client: Callable[[str], Any]) -> dict[str, list[str]]:
    """Everything a toll stack could have left in the account."""
    return {
        "buckets": [b["Name"] for b in client("s3").list_buckets().get("Buckets", [])],
        "roles": [r["RoleName"] for r in client("iam").list_roles(PathPrefix=ROLE_PATH)["Roles"]],
        "streams": client("firehose").list_delivery_streams()["DeliveryStreamNames"],
        "databases": [d["Name"] for d in client("glue").get_databases()["DatabaseList"]],
        "workgroups": [w["Name"] for w in client("athena").list_work_groups()["WorkGroups"] if w["Name"] != "primary"],
    }


NOTHING = {"buckets": [], "roles": [], "streams": [], "databases": [], "workgroups": []}


# --- what setup creates ------------------------------------------------------------------------
def test_bucket_is_private_encrypted_tls_only_and_tagged(aws: Callable[[str], Any], set_up: Ledger) -> None:
    s3, bucket = aws("s3"), bucket_of(set_up)
    assert bucket.startswith(f"toll-data-{ACCOUNT}-{REGION}-")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == STACK_TAG


def test_role_only_firehose_of_this_account_and_only_this_bucket(aws: Callable[[str], Any], set_up: Ledger) -> None:
    iam, bucket = aws("iam"), bucket_of(set_up)
    role = iam.get_role(RoleName="toll-firehose-delivery")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT}}  # Firehose's documented form
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == ["deliver-to-toll-bucket"]
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="deliver-to-toll-bucket")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert "s3:PutObject" in actions and not any(a.endswith("*") for a in actions)
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]} == STACK_TAG


def test_stream_is_direct_put_with_the_workshop_buffering(aws: Callable[[str], Any], set_up: Ledger) -> None:
    firehose = aws("firehose")
    stream = firehose.describe_delivery_stream(DeliveryStreamName="toll-data-stream")["DeliveryStreamDescription"]
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert stream["DeliveryStreamStatus"] == "ACTIVE"
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    assert destination["BucketARN"] == f"arn:aws:s3:::{bucket_of(set_up)}"
    assert destination["RoleARN"].endswith(":role/toll/toll-firehose-delivery")
    assert destination.get("Prefix", "") == ""
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName="toll-data-stream")["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == STACK_TAG


def test_table_has_workshop_columns_and_hourly_partition_projection(aws: Callable[[str], Any], set_up: Ledger) -> None:
    glue, bucket = aws("glue"), bucket_of(set_up)
    table = glue.get_table(DatabaseName="toll", Name="lab_toll_data_stream")["Table"]
    descriptor = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [("date", "string"), ("toll", "string"), ("user", "string")]
    assert descriptor["Location"] == f"s3://{bucket}/"
    assert descriptor["SerdeInfo"]["Parameters"]["field.delim"] == ","
    assert [k["Name"] for k in table["PartitionKeys"]] == ["datehour"]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.datehour.type"] == "date"
    assert params["projection.datehour.format"] == "yyyy/MM/dd/HH"
    assert params["projection.datehour.interval.unit"] == "HOURS"
    assert params["projection.datehour.range"].endswith(",NOW")
    assert params["storage.location.template"] == f"s3://{bucket}/${{datehour}}/"
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:{REGION}:{ACCOUNT}:database/toll")["Tags"] == STACK_TAG


def test_workgroup_keeps_results_in_the_bucket_with_a_scan_limit(aws: Callable[[str], Any], set_up: Ledger) -> None:
    athena = aws("athena")
    config = athena.get_work_group(WorkGroup="toll-workgroup")["WorkGroup"]["Configuration"]
    assert config["ResultConfiguration"]["OutputLocation"] == f"s3://{bucket_of(set_up)}/athena-results/"
    assert config["BytesScannedCutoffPerQuery"] == BYTES_SCANNED_CUTOFF
    assert config["EnforceWorkGroupConfiguration"] is True
    arn = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/toll-workgroup"
    tags = athena.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == STACK_TAG


def test_setup_is_idempotent_and_applies_new_buffering(aws: Callable[[str], Any], set_up: Ledger, settings: Settings) -> None:
    again = make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    assert not again.changed and len(again.existing) == 6
    assert len(aws("s3").list_buckets()["Buckets"]) == 1
    changed = make_backend(settings).setup(buffer_mb=5, buffer_seconds=120)
    assert [r.kind for r in changed.created] == ["delivery_stream"]
    stream = aws("firehose").describe_delivery_stream(DeliveryStreamName="toll-data-stream")["DeliveryStreamDescription"]
    hints = stream["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"]
    assert hints == {"SizeInMBs": 5, "IntervalInSeconds": 120}


def test_stream_creation_retries_while_the_role_propagates(aws: Callable[[str], Any], settings: Settings) -> None:
    backend = make_backend(settings)
    client = backend.client_for(None)
    firehose = client.client("firehose")
    real_create = firehose.create_delivery_stream
    calls = {"n": 0}

    def not_yet_assumable(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] < 3:
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "InvalidArgumentException", "Message": "Firehose is unable to assume role arn:..."}}
            raise ClientError(error, "CreateDeliveryStream")
        return real_create(**kwargs)

    firehose.create_delivery_stream = not_yet_assumable
    events: list[str] = []
    backend.setup(buffer_mb=1, buffer_seconds=60, on_event=events.append)
    assert calls["n"] == 3
    assert sum("waiting for the new role" in e for e in events) == 2
    assert "toll-data-stream" in what_is_left(aws)["streams"]


def test_setup_refuses_a_name_that_is_not_ours_before_creating_anything(aws: Callable[[str], Any], settings: Settings) -> None:
    aws("glue").create_database(DatabaseInput={"Name": "toll"})  # someone else's, untagged
    with pytest.raises(UsageError, match="database named toll already exists"):
        make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    assert aws("s3").list_buckets()["Buckets"] == []
    assert not settings.ledger_path.exists()


def test_bad_buffering_and_stack_names_are_usage_errors(aws: Callable[[str], Any], settings: Settings) -> None:
    with pytest.raises(UsageError, match="buffer size"):
        make_backend(settings).setup(buffer_mb=0, buffer_seconds=60)
    from dataclasses import replace

    with pytest.raises(UsageError, match="stack name"):
        make_backend(replace(settings, stack="Not_Valid")).setup(buffer_mb=1, buffer_seconds=60)
    assert aws("s3").list_buckets()["Buckets"] == []


# --- status --------------------------------------------------------------------------------------
def test_status_shows_live_state_leftovers_and_cost(aws: Callable[[str], Any], set_up: Ledger, settings: Settings) -> None:
    s3 = aws("s3")
    s3.put_object(Bucket=writable_bucket(aws, set_up), Key="2026/11/28/10/x", Body=b"a,b,c\n" * 1000)
    s3.create_bucket(Bucket="toll-leftover-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket="toll-leftover-bucket", Tagging={"TagSet": [{"Key": TAG_KEY, "Value": "toll"}]})
    report = make_backend(settings).status()
    states = {r.kind: r.state for r in report.resources}
    assert states == {
        "bucket": "present",
        "role": "present",
        "delivery_stream": "ACTIVE",
        "database": "present",
        "table": "present",
        "workgroup": "ENABLED",
    }
    bucket = next(r for r in report.resources if r.kind == "bucket")
    assert bucket.details["objects"] == 1 and bucket.details["bytes"] == 6000
    assert [(u.kind, u.name) for u in report.unknown] == [("bucket", "toll-leftover-bucket")]
    assert report.monthly_cost_usd is not None and report.monthly_cost_usd >= 0
    # Firehose at the workshop's 100 lines/s of ~40 bytes: packed, one 5 KB unit a second (4,000 bytes);
    # a line per record, 100 units a second. $0.029/GB.
    packed, unpacked = 5120 * 3600 / 1024**3 * 0.029, 100 * 5120 * 3600 / 1024**3 * 0.029
    [note] = [n for n in report.notes if n.startswith("Firehose bills each record rounded up to 5 KB")]
    assert f"${packed:.4f}/hour to ingest" in note and f"(${unpacked:.4f}/hour sent a line per record)" in note
    assert firehose_hourly_cost_usd(130) == 2 * packed  # 5,200 bytes a second: two units


def test_status_marks_a_resource_deleted_behind_our_back(aws: Callable[[str], Any], set_up: Ledger, settings: Settings) -> None:
    aws("athena").delete_work_group(WorkGroup="toll-workgroup", RecursiveDeleteOption=True)
    report = make_backend(settings).status()
    assert {r.kind: r.state for r in report.resources}["workgroup"] == "missing"


# --- query -----------------------------------------------------------------------------------------
def test_query_runs_through_the_workgroup_and_prices_the_scan(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings
) -> None:
    header = {"Data": [{"VarCharValue": "station"}, {"VarCharValue": "records"}]}
    row = {"Data": [{"VarCharValue": "SH130"}, {"VarCharValue": "156"}]}
    info = [
        {"Name": "station", "Type": "varchar", "Nullable": "UNKNOWN", "CaseSensitive": True, "Precision": 0, "Scale": 0},
        {"Name": "records", "Type": "bigint", "Nullable": "UNKNOWN", "CaseSensitive": False, "Precision": 19, "Scale": 0},
    ]
    athena_backends[ACCOUNT][REGION].query_results_queue.append(QueryResults(rows=[header, row], column_info=info))
    result = make_backend(settings).query("SELECT toll AS station, count(*) AS records FROM lab_toll_data_stream GROUP BY toll")
    assert result.columns == ["station", "records"]
    assert result.rows == [("SH130", 156)]
    assert result.bytes_scanned == 0
    assert result.cost_usd == pytest.approx(athena_cost_usd(10 * 1024**2))
    executions = aws("athena").list_query_executions(WorkGroup="toll-workgroup")["QueryExecutionIds"]
    assert len(executions) == 1


def test_athena_cost_is_five_dollars_a_terabyte_with_a_10_mb_minimum() -> None:
    assert athena_cost_usd(1024**4) == pytest.approx(5.0)
    assert athena_cost_usd(0) == athena_cost_usd(10 * 1024**2) == pytest.approx(5.0 * 10 / 1024**2)


# --- teardown --------------------------------------------------------------------------------------
def test_teardown_removes_everything_including_object_versions(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings
) -> None:
    s3, bucket = aws("s3"), writable_bucket(aws, set_up)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1\n", b"2\n"):
        s3.put_object(Bucket=bucket, Key="2026/11/28/10/obj", Body=body)
    s3.delete_object(Bucket=bucket, Key="2026/11/28/10/obj")  # a delete marker too
    events: list[str] = []
    report = make_backend(settings).teardown(on_event=events.append)
    assert report.failed == []
    assert [label.split()[0] for label in report.removed] == [
        "table",
        "database",
        "workgroup",
        "delivery_stream",
        "role",
        "bucket",
    ]
    assert what_is_left(aws) == NOTHING
    assert not settings.home.exists()
    assert any("emptied bucket" in e and "3 object versions" in e for e in events)
    assert make_backend(settings).teardown().nothing_to_do


def test_teardown_removes_the_skew_file_too_and_the_home_with_it(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings
) -> None:
    from tollcli.generator import record_last_event
    from tollcli.skew import write_skew
    from tollcli.state import skew_path

    backend = make_backend(settings)
    write_skew(backend, "35South", drop=False)  # `toll --backend aws skew --station 35South`
    record_last_event(backend, 1_764_000_000.0)  # what a `toll --backend aws generate --backfill` leaves
    assert skew_path(settings.home).exists() and (settings.home / "event-time.json").exists()
    report = backend.teardown()
    assert report.failed == [] and {"skew skew.json", "event-time event-time.json"} <= set(report.removed)
    assert what_is_left(aws) == NOTHING
    assert not settings.home.exists()  # nothing of ours is left behind, the ledger included


def test_a_skew_file_teardown_cannot_remove_is_reported_as_failed_as_locally(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings
) -> None:
    """skew.json turned into a folder: the AWS resources go, the file is reported as failed (the local
    backend's label and reason), and it stays in the ledger with the home for another teardown."""
    from tollcli.skew import write_skew
    from tollcli.state import skew_path

    backend = make_backend(settings)
    write_skew(backend, "35South", drop=False)
    skew = skew_path(settings.home)
    skew.unlink()
    skew.mkdir()
    (skew / "kept").write_text("x", encoding="utf-8")
    report = backend.teardown()
    assert report.failed == [("skew skew.json", os.strerror(errno.EISDIR))]
    assert "skew skew.json" not in report.removed and what_is_left(aws) == NOTHING
    left = Ledger.load(settings.ledger_path)
    assert left is not None and [(r.kind, r.name) for r in left.resources] == [("skew", "skew.json")]
    assert (skew / "kept").exists()


def test_teardown_leaves_what_lost_our_tag_and_says_so(aws: Callable[[str], Any], set_up: Ledger, settings: Settings) -> None:
    aws("iam").untag_role(RoleName="toll-firehose-delivery", TagKeys=[TAG_KEY])
    report = make_backend(settings).teardown()
    assert [label for label, _ in report.failed] == ["role toll-firehose-delivery"]
    assert "does not carry the tag toll:stack=toll" in report.failed[0][1]
    assert what_is_left(aws)["roles"] == ["toll-firehose-delivery"]
    assert what_is_left(aws)["buckets"] == []
    ledger = Ledger.load(settings.ledger_path)
    assert ledger is not None and [r.name for r in ledger.resources] == ["toll-firehose-delivery"]


def test_teardown_through_the_cli_exits_1_listing_what_it_could_not_remove(
    aws: Callable[[str], Any], set_up: Ledger, toll: Callable[..., Any]
) -> None:
    aws("firehose").untag_delivery_stream(DeliveryStreamName="toll-data-stream", TagKeys=[TAG_KEY])
    result = toll("--backend", "aws", "--region", REGION, "teardown", "--yes")
    assert result.exit_code == 1
    assert "could not remove delivery_stream toll-data-stream" in result.output
    assert what_is_left(aws)["streams"] == ["toll-data-stream"]


def test_a_kept_workshop_s_commands_reach_the_aws_stack_as_printed(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings, runner: CliRunner
) -> None:
    """`toll workshop --keep` prints commands without --backend: the home's ledger names the backend."""
    workshop = Workshop(make_backend(settings), WorkshopOptions(seed=1))
    step = StepReport(number=9, total=9, key="teardown", title="Keep", replaces="", command="")
    workshop.keep(step)
    commands = re.findall(r"`(toll [^`]+)`", " ".join(step.lines))
    teardown = next(c for c in commands if c.endswith(" teardown --yes"))
    assert all("--backend" not in c for c in commands) and str(settings.home.resolve()) in teardown
    pasted = runner.invoke(app, shlex.split(teardown)[1:])
    assert pasted.exit_code == 0, pasted.output
    assert what_is_left(aws) == NOTHING and not settings.home.exists()  # the AWS stack went, not a local one


# Every change setup makes, in order; a setup "crashes" just before or just after each one.
SETUP_STEPS = [
    "create_bucket",
    "secure_bucket",
    "create_role",
    "put_role_policy",
    "create_delivery_stream",
    "create_database",
    "put_table",
    "create_workgroup",
]


class Crash(Exception):
    """Stands for the process dying (Ctrl-C, a lost network) in the middle of setup."""


# "after" is the hard case (the resource exists, maybe untagged); "before" leaves a ledger entry
# for something that was never made, checked for two steps to keep the suite quick.
INTERRUPTIONS = [(step, "after") for step in SETUP_STEPS] + [("create_bucket", "before"), ("create_delivery_stream", "before")]


@pytest.mark.parametrize(("step", "when"), INTERRUPTIONS)
def test_teardown_after_a_setup_interrupted_at_each_step(
    aws: Callable[[str], Any], settings: Settings, monkeypatch: pytest.MonkeyPatch, step: str, when: str
) -> None:
    real = getattr(AwsClient, step)

    def interrupted(self: AwsClient, *args: Any, **kwargs: Any) -> Any:
        if when == "after":
            real(self, *args, **kwargs)
        raise Crash(step)

    monkeypatch.setattr(AwsClient, step, interrupted)
    with pytest.raises(Crash):
        make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    monkeypatch.setattr(AwsClient, step, real)
    report = make_backend(settings).teardown()
    assert report.failed == []
    assert what_is_left(aws) == NOTHING
    assert not settings.ledger_path.exists()


def test_setup_resumes_after_an_interruption(
    aws: Callable[[str], Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = AwsClient.create_database

    def interrupted(self: AwsClient, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        raise Crash("create_database")

    monkeypatch.setattr(AwsClient, "create_database", interrupted)
    with pytest.raises(Crash):
        make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    monkeypatch.setattr(AwsClient, "create_database", real)
    report = make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    assert [r.kind for r in report.created] == ["database", "table", "workgroup"]
    assert len(what_is_left(aws)["buckets"]) == 1
    ledger = Ledger.load(settings.ledger_path)
    assert ledger is not None and all("state" not in r.settings for r in ledger.resources)


# --- errors a user can fix -----------------------------------------------------------------------
def test_access_denied_is_one_usage_line(aws: Callable[[str], Any], settings: Settings) -> None:
    client = AwsClient(region=REGION, sleep=no_sleep)
    with Stubber(client.client("sts")) as stub:
        stub.add_client_error("get_caller_identity", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(UsageError, match="access denied while trying to check your AWS identity"):
            AwsBackend(settings, aws=client).setup(buffer_mb=1, buffer_seconds=60)
    assert not settings.ledger_path.exists()


@pytest.mark.parametrize(
    ("code", "kind", "text"),
    [
        ("AccessDeniedException", UsageError, "access denied"),
        ("ExpiredToken", UsageError, "refresh them"),
        ("ServiceUnavailableException", TollError, "ServiceUnavailableException"),
        ("ValidationException", TollError, "ValidationException"),
    ],
)
def test_aws_errors_translate_to_our_own(code: str, kind: type[TollError], text: str) -> None:
    from botocore.exceptions import ClientError

    error = translate_error(ClientError({"Error": {"Code": code, "Message": "m\nsecond line"}}, "Op"), "do it")
    assert type(error) is kind or (kind is TollError and isinstance(error, TollError) and not isinstance(error, UsageError))
    assert text in error.message and "second line" not in error.message


def test_unknown_profile_region_and_missing_credentials_exit_2_without_leaking(
    toll: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "SECRETVALUE-should-never-be-printed"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    result = toll("--backend", "aws", "--profile", "nosuch", "setup")
    assert result.exit_code == 2 and "AWS profile 'nosuch'" in result.output
    result = toll("--backend", "aws", "--region", "mars-north-1", "setup")
    assert result.exit_code == 2 and "unknown AWS region 'mars-north-1'" in result.output
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    result = toll("--backend", "aws", "--region", REGION, "setup")
    assert result.exit_code == 2 and "no AWS credentials found" in result.output
    assert "Traceback" not in result.output and secret not in result.output
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = toll("--backend", "aws", "setup")
    assert result.exit_code == 2 and "no AWS region is set" in result.output


def test_emptying_a_bucket_reaches_past_the_first_thousand_objects(aws: Callable[[str], Any]) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="toll-many-objects", CreateBucketConfiguration={"LocationConstraint": REGION})
    for i in range(1500):
        s3.put_object(Bucket="toll-many-objects", Key=f"2026/11/28/10/object-{i:05d}", Body=b"a,b,c\n")
    assert AwsClient(region=REGION).empty_bucket("toll-many-objects") == 1500
    assert s3.list_objects_v2(Bucket="toll-many-objects")["KeyCount"] == 0


def test_teardown_keeps_a_database_holding_someone_elses_table(
    aws: Callable[[str], Any], set_up: Ledger, settings: Settings
) -> None:
    aws("glue").create_table(DatabaseName="toll", TableInput={"Name": "my_own_table"})
    report = make_backend(settings).teardown()
    assert [label for label, _ in report.failed] == ["database toll"]
    assert "my_own_table" in report.failed[0][1]
    assert aws("glue").get_tables(DatabaseName="toll")["TableList"][0]["Name"] == "my_own_table"
    assert what_is_left(aws)["buckets"] == [] and what_is_left(aws)["streams"] == []


def test_setup_restores_a_widened_trust_policy(aws: Callable[[str], Any], set_up: Ledger, settings: Settings) -> None:
    iam = aws("iam")
    anyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="toll-firehose-delivery", PolicyDocument=json.dumps(anyone))
    make_backend(settings).setup(buffer_mb=1, buffer_seconds=60)
    trust = iam.get_role(RoleName="toll-firehose-delivery")["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}


@pytest.mark.parametrize(
    ("arn", "label"),
    [
        ("arn:aws:s3:::toll-data-1", ("bucket", "toll-data-1")),
        ("arn:aws:firehose:us-west-2:1:deliverystream/toll-data-stream", ("delivery_stream", "toll-data-stream")),
        ("arn:aws:lambda:us-west-2:1:event-source-mapping:abc-123", ("lambda event-source-mapping", "abc-123")),
        ("arn:aws:sns:us-west-2:1:toll-anomaly-alerts", ("sns topic", "toll-anomaly-alerts")),
    ],
)
def test_leftovers_are_named_as_the_ledger_names_them(arn: str, label: tuple[str, str]) -> None:
    from tollcli.backends.aws.backend import _arn_kind_and_name

    assert _arn_kind_and_name(arn) == label
