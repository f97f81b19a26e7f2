"""`toll deploy` on AWS against moto in process: what deploy creates, and that teardown leaves nothing.

The function's package is built for real (pip fetches the Lambda wheels from PyPI once; they
are cached in pytest's cache folder); these tests skip, saying why, only when PyPI is unreachable.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tollcli.anomaly.app import AnomalyConfig
from tollcli.anomaly.rcf import ForestSettings
from tollcli.backends.aws.anomaly import (
    ANOMALY_KINDS,
    KIND_DELIVERY_STREAM,
    KIND_MAPPING,
    KIND_PACKAGE,
    SMS_US_CAVEAT,
    AnomalyDeployer,
    AnomalyTarget,
    deploy_anomaly_app,
)
from tollcli.backends.aws.backend import AwsBackend
from tollcli.backends.aws.lambda_package import NUMPY_REQUIREMENT, PLATFORMS, build_lambda_package
from tollcli.config import Settings
from tollcli.errors import TollError, UsageError
from tollcli.state import Ledger

REGION = "us-west-2"
SMALL_FOREST = ForestSettings(trees=20, sample_size=32, time_decay=100_000, shingle=1, output_after=4, seed=1)
ACCOUNT = "123456789012"
BUCKET = "toll-anomaly-deploy-test"


RUN_HANDLER_SCRIPT = """
import base64, os
import krcf
from tollcli.backends.aws.lambda_handler import handler

assert krcf.__file__.startswith(os.environ["TASK_ROOT"]), krcf.__file__


def event(lines, start, state, final):
    records = [
        {"kinesis": {"data": base64.b64encode(line.encode()).decode(), "sequenceNumber": str(i)}} for i, line in enumerate(lines)
    ]
    return {"Records": records, "window": {"start": start, "end": start}, "state": state, "isFinalInvokeForWindow": final}


for minute in range(3):
    start = f"2026-11-28T09:0{minute}:00Z"
    out = handler(event(["2026-11-28T09:00:01Z,35South,ABC\\n"] * 5, start, {}, False), None)
    out = handler(event([], start, out["state"], True), None)
    assert out == {"state": {}, "batchItemFailures": []}, out
import sys, numpy
print("ok", f"{sys.version_info.major}.{sys.version_info.minor}", "numpy", numpy.__version__)
"""


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "toll"})
        yield lambda name: boto3.client(name, region_name=REGION)


@pytest.fixture
def target() -> AnomalyTarget:
    return AnomalyTarget(bucket=BUCKET, database="toll", region=REGION, account=ACCOUNT, stack="toll")


@pytest.fixture
def ledger(home: Path) -> Ledger:
    home.mkdir(parents=True)
    led = Ledger(path=home / "ledger.json", backend="aws", stack="toll")
    led.save()
    return led


def deploy(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, cache: Path | None, **kwargs: Any
) -> Any:
    config = AnomalyConfig(**kwargs)  # unchecked: deploy itself must refuse bad values
    return deploy_anomaly_app(aws, target, ledger, home=home, cache=cache, config=config, sleep=lambda _s: None)


def live_inventory(aws: Callable[[str], Any]) -> dict[str, list[str]]:
    """Everything of the kinds the app creates that exists in the (moto) account."""
    lam = aws("lambda")
    return {
        "streams": aws("kinesis").list_streams()["StreamNames"],
        "delivery_streams": aws("firehose").list_delivery_streams()["DeliveryStreamNames"],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]],
        "topics": [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]],
        "subscriptions": [s["SubscriptionArn"] for s in aws("sns").list_subscriptions()["Subscriptions"]],
        "roles": [r["RoleName"] for r in aws("iam").list_roles()["Roles"]],
        "log_groups": [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]],
        "tables": [
            t["Name"]
            for db in aws("glue").get_databases()["DatabaseList"]
            for t in aws("glue").get_tables(DatabaseName=db["Name"])["TableList"]
        ],
    }


def test_deploy_creates_the_app_and_teardown_removes_all_of_it(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    report = deploy(aws, target, ledger, home, lambda_build_cache, threshold=3.0, email="ops@example.com", phone="+15125550100")

    kinesis = aws("kinesis").describe_stream_summary(StreamName="toll-live-records")["StreamDescriptionSummary"]
    assert kinesis["OpenShardCount"] == 1
    assert aws("kinesis").list_tags_for_stream(StreamName="toll-live-records")["Tags"] == [{"Key": "toll:stack", "Value": "toll"}]

    delivery = aws("firehose").describe_delivery_stream(DeliveryStreamName="toll-live-to-s3")["DeliveryStreamDescription"]
    assert delivery["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert delivery["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"] == kinesis["StreamARN"]
    destination = delivery["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert destination["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}

    function = aws("lambda").get_function(FunctionName="toll-anomaly")
    config = function["Configuration"]
    assert (config["Runtime"], config["Handler"], config["Architectures"]) == (
        "python3.12",
        "tollcli.backends.aws.lambda_handler.handler",
        ["x86_64"],
    )
    app_config = json.loads(config["Environment"]["Variables"]["TOLL_ANOMALY_CONFIG"])
    assert (app_config["threshold"], app_config["mode"], app_config["forest"]["trees"]) == (3.0, "default", 50)
    assert "phone" not in app_config and "email" not in app_config
    assert config["Environment"]["Variables"]["TOLL_BUCKET"] == BUCKET
    assert function["Tags"]["toll:stack"] == "toll"

    [mapping] = aws("lambda").list_event_source_mappings(FunctionName="toll-anomaly")["EventSourceMappings"]
    assert mapping["EventSourceArn"] == kinesis["StreamARN"]
    assert mapping["TumblingWindowInSeconds"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ParallelizationFactor"] == 1

    subscriptions = aws("sns").list_subscriptions_by_topic(TopicArn=report.topic_arn)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == [
        ("email", "ops@example.com"),
        ("sms", "+15125550100"),
    ]
    assert aws("sns").list_tags_for_resource(ResourceArn=report.topic_arn)["Tags"] == [{"Key": "toll:stack", "Value": "toll"}]
    assert SMS_US_CAVEAT in report.notes and any("sandbox" in note for note in report.notes)

    [group] = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/toll-anomaly")["logGroups"]
    assert group["retentionInDays"] == 7

    table = aws("glue").get_table(DatabaseName="toll", Name="anomaly_scores")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/anomaly/scores/"
    assert "anomaly_score" in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]

    # Least privilege: the function's policy names only this stream, this bucket's anomaly/ prefix, this topic.
    policy = json.loads(
        json.dumps(aws("iam").get_role_policy(RoleName="toll-anomaly-function", PolicyName="lambda-policy")["PolicyDocument"])
    )
    resources = {
        res for st in policy["Statement"] for res in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"])
    }
    assert "*" not in resources
    assert resources >= {kinesis["StreamARN"], f"arn:aws:s3:::{BUCKET}/anomaly/*", report.topic_arn}
    trust = aws("iam").get_role(RoleName="toll-live-to-s3-firehose")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT}}

    kinds = {r.kind for r in Ledger.load(ledger.path).resources}
    assert kinds == ANOMALY_KINDS - {KIND_PACKAGE}  # the build folder is the test's, not the home's
    assert Ledger.load(ledger.path).meta["anomaly_app"]["data_stream"] == "toll-live-records"

    removed, failed = AnomalyDeployer(aws, target, Ledger.load(ledger.path), sleep=lambda _s: None).teardown()
    assert failed == []
    assert removed[0].startswith("anomaly-event-source-mapping")
    assert live_inventory(aws) == {k: [] for k in live_inventory(aws)}
    after = Ledger.load(ledger.path)
    assert after.resources == [] and "anomaly_app" not in after.meta


def test_deploy_again_changes_only_what_changed(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    backend = AwsBackend(Settings(backend="aws", home=home, region=target.region, backend_explicit=True))
    assert backend.deployed_anomaly_threshold() is None  # the dashboard then shows no anomaly chart
    first = deploy(aws, target, ledger, home, lambda_build_cache, email="ops@example.com")
    assert backend.deployed_anomaly_threshold() == 2.5
    second = deploy(aws, target, ledger, home, lambda_build_cache, threshold=4.5, email="ops@example.com")
    assert backend.deployed_anomaly_threshold() == 4.5  # what the dashboard draws before any alert
    assert first.changed and not second.changed
    assert len(aws("sns").list_subscriptions()["Subscriptions"]) == 1
    variables = aws("lambda").get_function_configuration(FunctionName="toll-anomaly")["Environment"]["Variables"]
    assert json.loads(variables["TOLL_ANOMALY_CONFIG"])["threshold"] == 4.5
    assert len(aws("lambda").list_event_source_mappings()["EventSourceMappings"]) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"phone": "5125550100"}, "not an E.164 number"),
        ({"phone": "+1 512 555 0100"}, "not an E.164 number"),
        ({"email": "ops@"}, "not an e-mail address"),
        ({"threshold": 0.0}, "must be a number above 0"),
        ({"mode": "sql"}, "unknown mode"),
    ],
)
def test_bad_input_is_a_usage_error_before_anything_is_made(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        deploy(aws, target, ledger, home, None, **options)
    assert Ledger.load(ledger.path).resources == []
    assert not (home / "cache").exists()
    assert aws("kinesis").list_streams()["StreamNames"] == []


def test_no_wheel_for_lambda_means_no_deploy(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip that cannot reach an index: a clear TollError, and nothing created in AWS."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(
        TollError, match=r"could not fetch a manylinux_2_34-compatible x86_64 wheel for Python 3.12 of krcf==0.4.0"
    ):
        deploy(aws, target, ledger, home, home / "empty-cache")
    assert Ledger.load(ledger.path).resources == []
    assert aws("kinesis").list_streams()["StreamNames"] == []
    assert aws("lambda").list_functions()["Functions"] == []


def test_teardown_after_a_deploy_that_failed_half_way(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    """The Glue database is gone, so deploy fails at the table: what it made is still removed."""
    aws("glue").delete_database(Name="toll")
    with pytest.raises(Exception, match="toll"):
        deploy(aws, target, ledger, home, lambda_build_cache)
    assert Ledger.load(ledger.path).find("anomaly-function") is not None
    removed, failed = AnomalyDeployer(aws, target, Ledger.load(ledger.path), sleep=lambda _s: None).teardown()
    assert failed == [] and removed
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("kinesis").list_streams()["StreamNames"] == []


def test_the_built_package_runs_the_handler_in_a_clean_virtual_environment(tmp_path: Path, lambda_build_cache: Path) -> None:
    """Unzip the package into a fresh venv's path with only boto3 beside it (as Lambda's runtime
    provides it), and score windows against a moto server on 127.0.0.1.

    The function's runtime is Python 3.12: with a 3.12 interpreter on the machine (pyenv's) the
    package is byte for byte the one deploy uploads; without one, the same code builds it for this
    interpreter's version (krcf's wheel is abi3; numpy's is the pinned version for this Python)."""
    import zipfile

    from moto.server import ThreadedMotoServer

    python312 = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python"))
    interpreter = str(python312[-1]) if python312 else sys.executable
    version = "3.12" if python312 else f"{sys.version_info.major}.{sys.version_info.minor}"
    package = build_lambda_package(lambda_build_cache, python_version=version)
    assert package.path.name.startswith(f"toll-anomaly-cp{version.replace('.', '')}-x86_64-")
    task_root = tmp_path / "task"
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(task_root)
    assert not (task_root / "tollcli" / "cli").exists()
    runtime = tmp_path / "runtime"  # what /var/runtime holds on Lambda: boto3 and its dependencies
    runtime.mkdir()
    import boto3 as boto3_module
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    for module in (boto3_module, botocore, s3transfer, jmespath, dateutil, urllib3):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    (runtime / "six.py").symlink_to(Path(six.__file__))
    venv = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        topic = boto3.client("sns", region_name=REGION, endpoint_url=endpoint).create_topic(Name="alerts")["TopicArn"]
        script = tmp_path / "invoke.py"
        script.write_text(RUN_HANDLER_SCRIPT)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": f"{task_root}{os.pathsep}{runtime}",
            "PYTHONNOUSERSITE": "1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "TOLL_BUCKET": BUCKET,
            "TOLL_TOPIC_ARN": topic,
            "TOLL_ANOMALY_CONFIG": json.dumps(AnomalyConfig(forest=SMALL_FOREST).to_json()),
            "TASK_ROOT": str(task_root),
        }
        done = subprocess.run([str(venv / "bin" / "python"), str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"ok {version} numpy {NUMPY_REQUIREMENT.split('==')[1]}"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="anomaly/")["Contents"]]
        assert len([k for k in keys if k.startswith("anomaly/scores/")]) == 3
        assert "anomaly/state/model.bin" in keys
    finally:
        server.stop()


def test_the_app_through_the_cli_deploy_generate_alerts_teardown(
    toll: Callable[..., Any], home: Path, lambda_build_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`toll --backend aws` in process against moto: generate writes to the live stream, the function
    (played by calling the handler with what the stream holds) scores it, `toll alerts` reads it."""
    from tollcli.backends.aws.lambda_handler import HandlerConfig, process

    monkeypatch.setenv("TOLL_LAMBDA_CACHE", str(lambda_build_cache))
    with mock_aws():
        assert toll("--backend", "aws", "setup").exit_code == 0
        bad = toll("deploy", "--phone", "512-555-0100")
        assert bad.exit_code == 2 and "not an E.164 number" in bad.output
        assert boto3.client("kinesis", region_name=REGION).list_streams()["StreamNames"] == []

        result = toll("deploy", "--email", "ops@example.com", "--phone", "+15125550100", "--format", "json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert {r["kind"] for r in report["created"]} >= {"anomaly-function", "anomaly-event-source-mapping", "anomaly-topic"}
        assert any("registered origination identity" in note for note in report["notes"])
        status = json.loads(toll("status", "--format", "json").stdout)
        states = {r["kind"]: r["state"] for r in status["resources"] if r["kind"].startswith("anomaly-")}
        assert states["anomaly-data-stream"] == "ACTIVE" and states["anomaly-function"] == "Active"
        assert states["anomaly-event-source-mapping"] == "Enabled" and states["anomaly-delivery-stream"] == "ACTIVE"
        assert "missing" not in states.values()
        assert status["monthly_cost_usd"] >= 10.95  # one shard, around the clock

        # moto would try to run the function in Docker for every record put; the handler is called below instead.
        from moto.kinesis.models import kinesis_backends

        kinesis_backends[ACCOUNT][REGION].streams["toll-live-records"].lambda_event_source_mappings.clear()
        generated = toll("generate", "--count", "1500", "--backfill", "--seed", "3", "--quiet")
        assert generated.exit_code == 0, generated.output
        kinesis = boto3.client("kinesis", region_name=REGION)
        shard = kinesis.list_shards(StreamName="toll-live-records")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="toll-live-records", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10000)["Records"]
        assert sum(r["Data"].count(b"\n") for r in records) == 1500

        # moto applies the bucket's TLS-only Deny to every request (it never sees TLS); real S3 does not.
        ledger = Ledger.load(home / "ledger.json")
        bucket = ledger.find("bucket").name
        boto3.client("s3", region_name=REGION).delete_bucket_policy(Bucket=bucket)
        lam = boto3.client("lambda", region_name=REGION)
        variables = lam.get_function_configuration(FunctionName="toll-anomaly")["Environment"]["Variables"]
        config = HandlerConfig.from_environ(variables)
        s3, sns = boto3.client("s3", region_name=REGION), boto3.client("sns", region_name=REGION)
        for window, start in enumerate(("2026-11-28T09:00:00Z", "2026-11-28T09:00:10Z", "2026-11-28T09:00:20Z")):
            batch = [
                {"kinesis": {"data": base64.b64encode(r["Data"]).decode(), "sequenceNumber": r["SequenceNumber"]}}
                for r in records[window * 500 : (window + 1) * 500]
            ]
            event = {"Records": batch, "window": {"start": start, "end": start}, "state": {}}
            state = process(event, config=config, s3=s3, sns=sns)["state"]
            closing = {"Records": [], "window": {"start": start, "end": start}, "state": state, "isFinalInvokeForWindow": True}
            assert process(closing, config=config, s3=s3, sns=sns) == {"state": {}, "batchItemFailures": []}

        alerts = toll("alerts", "--scores", "--format", "json")
        assert alerts.exit_code == 0, alerts.output
        scores = json.loads(alerts.stdout)["scores"]
        assert sorted({row["window_start"] for row in scores}) == [
            "2026-11-28T09:00:00Z",
            "2026-11-28T09:00:10Z",
            "2026-11-28T09:00:20Z",
        ]
        assert sum(row["vehicle_count"] for row in scores) == 1500

        removed = toll("teardown", "--yes")
        assert removed.exit_code == 0, removed.output
        aws = lambda name: boto3.client(name, region_name=REGION)  # noqa: E731
        assert live_inventory(aws) == {k: [] for k in live_inventory(aws)}
        assert aws("glue").get_databases()["DatabaseList"] == []
        assert not (home / "cache").exists()


@pytest.mark.slow  # ~15 s: a server, three subprocesses and a 17 MB upload over HTTP
def test_deploy_and_teardown_with_the_real_cli_against_a_moto_server(
    toll_process: Callable[..., subprocess.CompletedProcess[str]], home: Path, lambda_build_cache: Path
) -> None:
    """`python -m tollcli --backend aws` as a subprocess, talking to a moto server on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "TOLL_LAMBDA_CACHE": str(lambda_build_cache)}
        for args in (["--backend", "aws", "setup"], ["deploy", "--threshold", "3", "--email", "ops@example.com"]):
            done = toll_process(*args, env=env)
            assert done.returncode == 0, done.stderr
        assert "confirmation message to ops@example.com" in done.stdout

        def aws(name: str) -> Any:
            return boto3.client(name, region_name=REGION, endpoint_url=endpoint)

        [mapping] = aws("lambda").list_event_source_mappings(FunctionName="toll-anomaly")["EventSourceMappings"]
        assert mapping["TumblingWindowInSeconds"] == 10
        assert aws("kinesis").list_streams()["StreamNames"] == ["toll-live-records"]
        [subscription] = aws("sns").list_subscriptions()["Subscriptions"]
        assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")

        bad = toll_process("deploy", "--phone", "0044 20 7946 0000", env=env)
        assert bad.returncode == 2 and bad.stderr.startswith("toll: error: --phone") and "Traceback" not in bad.stderr

        done = toll_process("teardown", "--yes", env=env)
        assert done.returncode == 0, done.stderr
        assert live_inventory(aws) == {k: [] for k in live_inventory(aws)}
        assert aws("s3").list_buckets()["Buckets"] == []
        assert not (home / "ledger.json").exists()
    finally:
        server.stop()


def test_the_function_pins_its_own_numpy_and_asks_pip_for_every_compatible_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local numpy 2.2.6 (any Python 3.10 install) must not leak into the function's pins, and pip
    must be offered the older manylinux tags it will not infer from `manylinux_2_28` (numpy <= 2.2's
    cp312 wheels carry `manylinux_2_17`/`manylinux2014` only)."""
    import numpy

    monkeypatch.setattr(numpy, "__version__", "2.2.6")
    commands: list[list[str]] = []

    def record(command: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: offline")

    with pytest.raises(TollError, match=r"manylinux_2_34-compatible x86_64 wheel for Python 3.12 of krcf==0.4.0, numpy==2.4.6"):
        build_lambda_package(tmp_path, run=record)
    (command,) = commands
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    assert platforms == list(PLATFORMS["x86_64"])
    assert {"manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(platforms)
    assert command[-2:] == ["krcf==0.4.0", NUMPY_REQUIREMENT]
    assert "numpy==2.2.6" not in command


FETCH_FROM_PYTHON_310 = """
import importlib.util, json, sys
from pathlib import Path
# Only this module and tollcli.errors: a 3.10 install's numpy (<= 2.2) must play no part.
spec = importlib.util.spec_from_file_location("lambda_package", sys.argv[1])
module = sys.modules["lambda_package"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
wheels = module.fetch_wheels(module.runtime_requirements(), cache=Path(sys.argv[2]))
print(json.dumps([w.name for w in wheels]))
"""


def test_the_function_wheels_are_fetched_from_a_python_310_install(tmp_path: Path) -> None:
    """`toll deploy` run by Python 3.10 (pyenv's 3.10.13 and its own pip): the cp312 wheels of the
    pinned versions are found. The old single `manylinux_2_28` tag plus the local numpy pin failed
    here with "No matching distribution found for numpy==2.2.6"."""
    python310 = Path.home() / ".pyenv/versions/3.10.13/bin/python"
    if not python310.exists():
        pytest.skip("no Python 3.10 interpreter at ~/.pyenv/versions/3.10.13")
    import tollcli.backends.aws.lambda_package as lambda_package

    script = tmp_path / "fetch.py"
    script.write_text(FETCH_FROM_PYTHON_310)
    env = {**os.environ, "PYTHONPATH": str(Path(lambda_package.__file__).parents[3])}
    done = subprocess.run(
        [str(python310), str(script), lambda_package.__file__, str(tmp_path / "wheels")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    if done.returncode != 0 and ("connection" in done.stderr.lower() or "network" in done.stderr.lower()):
        pytest.skip(f"PyPI unreachable: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    names = json.loads(done.stdout)
    assert len(names) == 2
    assert names[0].startswith("krcf-0.4.0-cp310-abi3-manylinux")
    assert names[1].startswith(f"numpy-{NUMPY_REQUIREMENT.split('==')[1]}-cp312-cp312-manylinux")


class Flaky:
    """A moto client whose named operation first fails (or answers) as AWS does, then is itself."""

    def __init__(self, client: Any, operation: str, answers: list[Any]) -> None:
        self.client, self.operation, self.answers, self.calls = client, operation, answers, []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != self.operation:
            return real

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            if self.answers:
                answer = self.answers.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            return real(**kwargs)

        return call


def test_the_event_source_mapping_is_retried_while_the_new_role_propagates(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    """A first deploy on a real account: Lambda cannot yet assume the role it was just given, and
    refuses the mapping with 'Cannot access stream'; a second deploy used to succeed where the first failed."""
    from botocore.exceptions import ClientError

    not_yet = ClientError(
        {
            "Error": {
                "Code": "InvalidParameterValueException",
                "Message": "Cannot access stream arn:aws:kinesis:us-west-2:123456789012:stream/toll-live-records. Please ensure "
                "the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions "
                "on your stream in IAM.",
            }
        },
        "CreateEventSourceMapping",
    )
    lam = Flaky(aws("lambda"), "create_event_source_mapping", [not_yet, not_yet])
    report = deploy(lambda name: lam if name == "lambda" else aws(name), target, ledger, home, lambda_build_cache)
    assert lam.calls == ["create_event_source_mapping"] * 3
    assert len(aws("lambda").list_event_source_mappings()["EventSourceMappings"]) == 1
    assert [r.kind for r in report.created if r.kind == KIND_MAPPING] == [KIND_MAPPING]


def test_teardown_waits_out_a_delivery_stream_still_creating(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    """Firehose refuses DeleteDeliveryStream while the stream is CREATING (a deploy stopped while
    waiting for it): teardown waits for it, then deletes, and reports it removed."""
    deploy(aws, target, ledger, home, lambda_build_cache)
    firehose = aws("firehose")
    creating = {"DeliveryStreamDescription": {"DeliveryStreamStatus": "CREATING"}}
    watched = Flaky(firehose, "describe_delivery_stream", [creating, creating])
    order: list[str] = []
    real_delete = firehose.delete_delivery_stream

    def delete(**kwargs: Any) -> Any:
        order.append("delete")
        assert watched.answers == [], "deleted while still CREATING"
        return real_delete(**kwargs)

    firehose.delete_delivery_stream = delete
    clients = lambda name: watched if name == "firehose" else aws(name)  # noqa: E731
    removed, failed = AnomalyDeployer(clients, target, Ledger.load(ledger.path), sleep=lambda _s: None).teardown()
    assert failed == []
    assert order == ["delete"] and f"{KIND_DELIVERY_STREAM} toll-live-to-s3" in removed
    assert aws("firehose").list_delivery_streams()["DeliveryStreamNames"] == []


def test_the_boto3_floor_takes_every_parameter_we_send() -> None:
    """boto3 1.34 (allowed by the old floor) refuses `Tags` on CreateEventSourceMapping client-side:
    the floor in pyproject.toml is the release that added it, and older ones are refused up front."""
    import re

    from tollcli.backends.aws.client import MIN_BOTOCORE, check_botocore_version

    [floor] = re.findall(r'^\s*"boto3>=([\d.]+)', (Path(__file__).parents[1] / "pyproject.toml").read_text(), re.MULTILINE)
    assert tuple(int(p) for p in floor.split(".")) >= MIN_BOTOCORE
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    assert "Tags" in model.operation_model("CreateEventSourceMapping").input_shape.members
    with pytest.raises(UsageError, match=r"botocore 1\.34\.162 is too old .* 1\.35\.23 or later"):
        check_botocore_version("1.34.162")
    check_botocore_version("1.35.23")


def test_a_wait_that_runs_out_says_what_it_waited_for(
    aws: Callable[[str], Any], target: AnomalyTarget, ledger: Ledger, home: Path, lambda_build_cache: Path
) -> None:
    """Every wait is bounded and named: a delivery stream stuck in CREATING ends teardown's wait with
    one line naming it, and teardown goes on with the rest (the stream stays in the ledger for next time)."""
    deploy(aws, target, ledger, home, lambda_build_cache)
    creating = {"DeliveryStreamDescription": {"DeliveryStreamStatus": "CREATING"}}
    stuck = Flaky(aws("firehose"), "describe_delivery_stream", [creating] * 1_000_000)
    events: list[str] = []
    deployer = AnomalyDeployer(
        lambda name: stuck if name == "firehose" else aws(name), target, Ledger.load(ledger.path),
        sleep=lambda _s: None, on_event=events.append, wait_seconds=0.01,
    )  # fmt: skip
    removed, failed = deployer.teardown()
    [(label, reason)] = failed
    assert label == f"{KIND_DELIVERY_STREAM} toll-live-to-s3"
    assert reason.startswith("waited 0 s for the delivery stream toll-live-to-s3 to finish CREATING, so it can be deleted")
    assert "waiting for the delivery stream toll-live-to-s3 to finish CREATING, so it can be deleted (at most 0 s)" in events
    assert f"{KIND_MAPPING}" in " ".join(removed) and aws("lambda").list_functions()["Functions"] == []
    assert Ledger.load(ledger.path).find(KIND_DELIVERY_STREAM) is not None
