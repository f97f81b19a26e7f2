"""The workshop's Section 2 on AWS in 2026: deploy, feed, read and remove the anomaly app.

Kinesis Data Analytics for SQL no longer runs (since 2026-01-27), so `toll --backend aws deploy`
builds the same pipeline from services that exist today:

    toll generate --PutRecords--> Kinesis Data Stream <stack>-live-records (1 shard)
        |-- Firehose <stack>-live-to-s3 --> the Section 1 bucket, YYYY/MM/DD/HH/ (so queries see every record)
        '-- Lambda <stack>-anomaly (python3.12, 10 s tumbling windows, the shared anomaly core)
                |-- model state   s3://<bucket>/anomaly/state/model.msgpack
                |-- scored windows s3://<bucket>/anomaly/scores/...  (Athena table anomaly_scores)
                |-- alerts         s3://<bucket>/anomaly/alerts/...
                '-- SNS topic <stack>-anomaly-alerts --> e-mail / SMS subscriptions

Plan, then act, then record: inputs are checked and the function's package is built (the step
most likely to fail) before anything is created; each resource is tagged `toll:stack` and written
to the ledger as soon as it exists, so `toll teardown` removes it even after a failed deploy;
teardown walks the app's resources in dependency order (mapping, function, log group, delivery stream, data
stream, subscriptions, topic, table, roles).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Any

from tollcli.anomaly.alerts import check_threshold
from tollcli.anomaly.app import DEFAULT_THRESHOLD, SCORE_COLUMNS, AnomalyConfig
from tollcli.backends.aws.client import (
    Result,
    is_missing,
    retry_while_role_propagates,
    translate_error,
    wait_until,
)
from tollcli.backends.aws.context import AwsContext
from tollcli.backends.aws.lambda_handler import ALERTS_PREFIX, CONFIG_VARIABLE, SCORES_PREFIX
from tollcli.backends.aws.lambda_package import HANDLER, LAMBDA_RUNTIME, LambdaPackage, build_lambda_package
from tollcli.backends.aws.names import TAG_KEY
from tollcli.backends.aws.sinks import KinesisSink
from tollcli.backends.reports import DeployReport, EventCallback
from tollcli.config import DATABASE_NAME
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.state import Ledger, Resource

TUMBLING_WINDOW_SECONDS = 10
ANOMALY_PREFIX = "anomaly/"
PACKAGE_PREFIX = "anomaly/package/"
DIRECT_UPLOAD_MAX_BYTES = 45 * 1024 * 1024  # Lambda takes 50 MB inline; leave room for the request
SCORES_TABLE = "anomaly_scores"
ROLE_PATH = "/toll/"  # where the AWS backend looks for roles left over from other runs
# Ledger kinds, in the order deploy creates them; teardown walks TEARDOWN_ORDER.
KIND_DATA_STREAM = "anomaly-data-stream"
KIND_FIREHOSE_ROLE = "anomaly-firehose-role"
KIND_DELIVERY_STREAM = "anomaly-delivery-stream"
KIND_TOPIC = "anomaly-topic"
KIND_SUBSCRIPTION = "anomaly-subscription"
KIND_FUNCTION_ROLE = "anomaly-function-role"
KIND_FUNCTION = "anomaly-function"
KIND_MAPPING = "anomaly-event-source-mapping"
KIND_SCORES_TABLE = "anomaly-table"
KIND_PACKAGE = "anomaly-package"
KIND_LOG_GROUP = "anomaly-log-group"
LOG_RETENTION_DAYS = 7
TEARDOWN_ORDER = (
    KIND_MAPPING,
    KIND_FUNCTION,
    KIND_LOG_GROUP,
    KIND_DELIVERY_STREAM,
    KIND_DATA_STREAM,
    KIND_SUBSCRIPTION,
    KIND_TOPIC,
    KIND_SCORES_TABLE,
    KIND_FUNCTION_ROLE,
    KIND_FIREHOSE_ROLE,
    KIND_PACKAGE,
)
ANOMALY_KINDS = frozenset(TEARDOWN_ORDER)

HIVE_TYPES = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean"}
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")

SMS_SANDBOX_CAVEAT = (
    "SMS: accounts start in the SNS SMS sandbox, where texts reach only verified numbers "
    "(aws sns create-sms-sandbox-phone-number --phone-number {phone}, then verify the code)."
)
SMS_US_CAVEAT = (
    "SMS to US numbers (+1) also needs a registered origination identity (a toll-free number or 10DLC "
    "campaign in AWS End User Messaging SMS); without one, US texts are not delivered."
)
EMAIL_CAVEAT = "E-mail: AWS sends a confirmation message to {email}; alerts arrive only after you follow its link."


# --- input -----------------------------------------------------------------------------------
def check_phone(phone: str) -> str:
    value = phone.strip()
    if not E164.match(value):
        raise UsageError(f"--phone {phone!r} is not an E.164 number: write it as + country code and number, e.g. +15125550100")
    return value


def check_email(email: str) -> str:
    value = email.strip()
    if not EMAIL.match(value):
        raise UsageError(f"--email {email!r} is not an e-mail address")
    return value


def subscription_caveats(*, email: str | None, phone: str | None) -> list[str]:
    """What a user must know about the subscriptions they asked for, shown at deploy."""
    notes = []
    if email:
        notes.append(EMAIL_CAVEAT.format(email=email))
    if phone:
        notes.append(SMS_SANDBOX_CAVEAT.format(phone=phone))
        if phone.startswith("+1"):
            notes.append(SMS_US_CAVEAT)
    return notes


@dataclass(frozen=True)
class AnomalyNames:
    """Every name the app uses, derived from the stack so two stacks never collide."""

    stack: str

    @property
    def data_stream(self) -> str:
        return f"{self.stack}-live-records"

    @property
    def delivery_stream(self) -> str:
        return f"{self.stack}-live-to-s3"

    @property
    def function(self) -> str:
        return f"{self.stack}-anomaly"

    @property
    def function_role(self) -> str:
        return f"{self.stack}-anomaly-function"

    @property
    def firehose_role(self) -> str:
        return f"{self.stack}-live-to-s3-firehose"

    @property
    def topic(self) -> str:
        return f"{self.stack}-anomaly-alerts"


@dataclass(frozen=True)
class AnomalyTarget:
    """What Section 1 (`toll setup`) already made and the app builds on."""

    bucket: str
    database: str
    region: str
    account: str
    stack: str
    partition: str = "aws"

    @property
    def names(self) -> AnomalyNames:
        return AnomalyNames(self.stack)

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}


@dataclass
class AnomalyDeployment:
    """What `AnomalyDeployer.deploy` made or kept and the names it used; `deploy_on_backend` turns it
    into the backend interface's `DeployReport`."""

    created: list[Resource] = field(default_factory=list)
    existing: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    function: str = ""
    data_stream: str = ""
    topic_arn: str = ""
    threshold: float = DEFAULT_THRESHOLD

    @property
    def changed(self) -> bool:
        return bool(self.created)


def policy_document(name: str, **values: str) -> str:
    """A shipped IAM policy (templates/aws/anomaly/<name>.json) with its placeholders filled."""
    text = Template(read_template("aws", "anomaly", f"{name}.json")).substitute(values)
    return json.dumps(json.loads(text))


class AnomalyDeployer:
    """Creates, records and removes the app's resources; `clients(name)` gives a boto3 client."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        target: AnomalyTarget,
        ledger: Ledger,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_event: EventCallback = lambda _m: None,
        wait_seconds: float = 300.0,
    ) -> None:
        self.client = clients
        self.target = target
        self.names = target.names
        self.ledger = ledger
        self.sleep = sleep
        self.on_event = on_event
        self.wait_seconds = wait_seconds

    # helpers --------------------------------------------------------------------------------
    def _record(self, report: AnomalyDeployment, kind: str, name: str, created: bool, **settings: Any) -> Resource:
        resource = self.ledger.record(Resource(kind=kind, name=name, settings=settings))
        (report.created if created else report.existing).append(resource)
        self.on_event(f"{'created' if created else 'exists '} {kind} {name}")
        return resource

    def _wait(self, what: str, ready: Callable[[], bool], interval: float = 2.0) -> None:
        """The client's `wait_until`, bounded by `wait_seconds`, announcing what it waits for once."""

        def announce(waited: float) -> None:
            if waited == 0:
                self.on_event(f"waiting for {what} (at most {self.wait_seconds:.0f} s)")

        wait_until(what, ready, sleep=self.sleep, timeout=self.wait_seconds, interval=interval, on_wait=announce)

    def _retry_while_role_propagates(self, what: str, call: Callable[[], Result]) -> Result:
        """New IAM roles take seconds to be usable by Lambda and Firehose: the client's retry."""
        try:
            return retry_while_role_propagates(
                call, sleep=self.sleep, on_retry=lambda _n: self.on_event(f"waiting for the new role to reach {what}")
            )
        except Exception as exc:
            raise translate_error(exc, f"create {what}") from None

    # deploy ---------------------------------------------------------------------------------
    def deploy(self, package: LambdaPackage, config: AnomalyConfig) -> AnomalyDeployment:
        """Create what is missing, update the function's code and settings; idempotent."""
        threshold, email, phone = config.threshold, config.email, config.phone
        report = AnomalyDeployment(threshold=threshold)
        stream_arn = self.ensure_data_stream(report)
        firehose_role_arn = self.ensure_role(
            report, KIND_FIREHOSE_ROLE, self.names.firehose_role, "firehose-trust", "firehose-policy", stream_arn=stream_arn
        )
        self.ensure_delivery_stream(report, stream_arn, firehose_role_arn)
        topic_arn = self.ensure_topic(report)
        if email:
            self.ensure_subscription(report, topic_arn, "email", email)
        if phone:
            self.ensure_subscription(report, topic_arn, "sms", phone)
        function_role_arn = self.ensure_role(
            report, KIND_FUNCTION_ROLE, self.names.function_role, "lambda-trust", "lambda-policy",
            stream_arn=stream_arn, topic_arn=topic_arn, function=self.names.function,
        )  # fmt: skip
        function_config = {k: v for k, v in config.to_json().items() if k not in {"email", "phone"}}  # no PII in env
        environment = {
            "TOLL_BUCKET": self.target.bucket,
            "TOLL_TOPIC_ARN": topic_arn,
            "TOLL_STACK": self.target.stack,
            CONFIG_VARIABLE: json.dumps(function_config, separators=(",", ":")),
        }
        self.ensure_log_group(report)
        self.ensure_function(report, package, function_role_arn, environment)
        self.ensure_mapping(report, stream_arn, config.window_seconds)
        self.ensure_scores_table(report)
        report.function = self.names.function
        report.data_stream = self.names.data_stream
        report.topic_arn = topic_arn
        report.notes.extend(subscription_caveats(email=email, phone=phone))
        if phone:
            report.notes.extend(self.sms_sandbox_notes(phone))
        self.ledger.meta["anomaly_app"] = {
            "config": function_config,
            "data_stream": self.names.data_stream,
            "function": self.names.function,
            "topic_arn": topic_arn,
            "bucket": self.target.bucket,
        }
        self.ledger.save()
        return report

    def ensure_data_stream(self, report: AnomalyDeployment) -> str:
        kinesis = self.client("kinesis")
        name = self.names.data_stream
        try:
            summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            created = False
        except Exception as exc:
            if not is_missing(exc):
                raise translate_error(exc, f"look up the Kinesis stream {name}") from None
            # One shard: Lambda's tumbling windows are per shard, and one model must see every window.
            kinesis.create_stream(StreamName=name, ShardCount=1, StreamModeDetails={"StreamMode": "PROVISIONED"})
            created = True
        self._wait(
            f"the Kinesis stream {name} to be ACTIVE",
            lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE",
        )
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        kinesis.add_tags_to_stream(StreamName=name, Tags=self.target.tags)
        self._record(report, KIND_DATA_STREAM, name, created, arn=summary["StreamARN"], shards=1)
        return str(summary["StreamARN"])

    def ensure_role(self, report: AnomalyDeployment, kind: str, name: str, trust: str, policy: str, **values: str) -> str:
        iam = self.client("iam")
        fill = {
            "account": self.target.account,
            "region": self.target.region,
            "partition": self.target.partition,
            "bucket": self.target.bucket,
            **values,
        }
        try:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            created = False
        except Exception as exc:
            if not is_missing(exc):
                raise translate_error(exc, f"look up the IAM role {name}") from None
            arn = iam.create_role(
                RoleName=name,
                Path=ROLE_PATH,
                AssumeRolePolicyDocument=policy_document(trust, **fill),
                Description=f"toll anomaly app ({self.target.stack}): reaches only this app's resources",
                Tags=[{"Key": k, "Value": v} for k, v in self.target.tags.items()],
            )["Role"]["Arn"]
            created = True
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=policy_document(policy, **fill))
        self._record(report, kind, name, created, arn=arn, policy=policy)
        return str(arn)

    def ensure_delivery_stream(self, report: AnomalyDeployment, stream_arn: str, role_arn: str) -> None:
        firehose = self.client("firehose")
        name = self.names.delivery_stream
        try:
            firehose.describe_delivery_stream(DeliveryStreamName=name)
            created = False
        except Exception as exc:
            if not is_missing(exc):
                raise translate_error(exc, f"look up the delivery stream {name}") from None
            self._retry_while_role_propagates(
                f"the delivery stream {name}",
                lambda: firehose.create_delivery_stream(
                    DeliveryStreamName=name,
                    DeliveryStreamType="KinesisStreamAsSource",
                    KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role_arn},
                    ExtendedS3DestinationConfiguration={
                        "RoleARN": role_arn,
                        "BucketARN": f"arn:{self.target.partition}:s3:::{self.target.bucket}",
                        # No prefix: the same YYYY/MM/DD/HH/ keys as Section 1, so its table sees these records.
                        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
                        "CompressionFormat": "UNCOMPRESSED",
                    },
                    Tags=[{"Key": k, "Value": v} for k, v in self.target.tags.items()],
                ),
            )
            created = True
        self._wait(
            f"the delivery stream {name} to be ACTIVE",
            lambda: (
                firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"]
                == "ACTIVE"
            ),
        )
        self._record(report, KIND_DELIVERY_STREAM, name, created, source=self.names.data_stream, bucket=self.target.bucket)

    def ensure_topic(self, report: AnomalyDeployment) -> str:
        sns = self.client("sns")
        name = self.names.topic
        existing = self.ledger.find(KIND_TOPIC, name) is not None
        arn = sns.create_topic(Name=name, Tags=[{"Key": k, "Value": v} for k, v in self.target.tags.items()])["TopicArn"]
        self._record(report, KIND_TOPIC, name, not existing, arn=arn)
        return str(arn)

    def ensure_subscription(self, report: AnomalyDeployment, topic_arn: str, protocol: str, endpoint: str) -> None:
        sns = self.client("sns")
        label = f"{protocol}:{endpoint}"
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") == protocol and sub.get("Endpoint") == endpoint:
                    self._record(report, KIND_SUBSCRIPTION, label, False, arn=sub["SubscriptionArn"], topic_arn=topic_arn)
                    return
        arn = sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]
        self._record(report, KIND_SUBSCRIPTION, label, True, arn=arn, topic_arn=topic_arn)

    def sms_sandbox_notes(self, phone: str) -> list[str]:
        """Whether this account is still in the SMS sandbox with this number unverified, when AWS says."""
        sns = self.client("sns")
        try:
            if not sns.get_sms_sandbox_account_status()["IsInSandbox"]:
                return ["SMS: this account is out of the SNS SMS sandbox."]
            numbers = sns.list_sms_sandbox_phone_numbers().get("PhoneNumbers", [])
        except Exception:
            return []
        verified = {n.get("PhoneNumber"): n.get("Status") for n in numbers}
        if verified.get(phone) != "Verified":
            return [f"SMS: this account is in the SNS sandbox and {phone} is not verified there: it will not receive alerts yet."]
        return []

    def ensure_log_group(self, report: AnomalyDeployment) -> None:
        """Made here (not by Lambda on first run) so it is tagged, kept 7 days, and removed at teardown."""
        logs = self.client("logs")
        name = f"/aws/lambda/{self.names.function}"
        found = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        created = not any(group["logGroupName"] == name for group in found)
        if created:
            logs.create_log_group(logGroupName=name, tags=self.target.tags)
        logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
        self._record(report, KIND_LOG_GROUP, name, created, retention_days=LOG_RETENTION_DAYS)

    def package_code(self, package: LambdaPackage) -> dict[str, Any]:
        """The zip inline when Lambda takes it so (up to 50 MB), else through the bucket."""
        if package.size <= DIRECT_UPLOAD_MAX_BYTES:
            return {"ZipFile": package.read()}
        key = f"{PACKAGE_PREFIX}{package.path.name}"  # removed when teardown empties the bucket
        self.client("s3").put_object(Bucket=self.target.bucket, Key=key, Body=package.read())
        return {"S3Bucket": self.target.bucket, "S3Key": key}

    def ensure_function(
        self, report: AnomalyDeployment, package: LambdaPackage, role_arn: str, environment: dict[str, str]
    ) -> None:
        lam = self.client("lambda")
        name = self.names.function
        config = {
            "Role": role_arn,
            "Handler": HANDLER,
            "Runtime": LAMBDA_RUNTIME,
            "Timeout": 60,
            "MemorySize": 512,
            "Environment": {"Variables": environment},
            "Description": f"toll anomaly app ({self.target.stack}): scores 10 s windows of toll records",
        }
        try:
            current = lam.get_function(FunctionName=name)["Configuration"]
        except Exception as exc:
            if not is_missing(exc):
                raise translate_error(exc, f"look up the function {name}") from None
            current = None
        if current is None:
            arn = self._retry_while_role_propagates(
                f"the function {name}",
                lambda: lam.create_function(
                    FunctionName=name,
                    Code=self.package_code(package),
                    Architectures=[package.architecture],
                    Tags=self.target.tags,
                    **config,
                ),
            )["FunctionArn"]
            created = True
        else:
            arn = current["FunctionArn"]
            created = False
            if current.get("CodeSha256") != package.sha256:
                lam.update_function_code(FunctionName=name, **self.package_code(package))
                self._wait_function(name)
            lam.update_function_configuration(FunctionName=name, **config)
        self._wait_function(name)
        self._record(report, KIND_FUNCTION, name, created, arn=arn, runtime=LAMBDA_RUNTIME, package=package.path.name)

    def _wait_function(self, name: str) -> None:
        lam = self.client("lambda")

        def ready() -> bool:
            config = lam.get_function_configuration(FunctionName=name)
            if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
                raise TollError(
                    f"the function {name} failed to deploy: {config.get('StateReason') or config.get('LastUpdateStatusReason')}"
                )
            return config.get("State", "Active") == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful"

        self._wait(f"the function {name} to be Active with its update done", ready)

    def ensure_mapping(self, report: AnomalyDeployment, stream_arn: str, window_seconds: int = TUMBLING_WINDOW_SECONDS) -> None:
        lam = self.client("lambda")
        name = self.names.function
        mappings = lam.list_event_source_mappings(FunctionName=name, EventSourceArn=stream_arn).get("EventSourceMappings", [])
        if mappings:
            mapping, created = mappings[0], False
            if mapping.get("TumblingWindowInSeconds") != window_seconds:
                lam.update_event_source_mapping(UUID=mapping["UUID"], TumblingWindowInSeconds=window_seconds)
                created = True
        else:
            # The function's new role may not reach the stream yet: Lambda then refuses with
            # InvalidParameterValueException "Cannot access stream ... ensure the role can perform ...".
            mapping = self._retry_while_role_propagates(
                "the event source mapping",
                lambda: lam.create_event_source_mapping(
                    EventSourceArn=stream_arn,
                    FunctionName=name,
                    StartingPosition="TRIM_HORIZON",  # the stream is new: everything in it is for us
                    BatchSize=500,
                    ParallelizationFactor=1,  # one model, windows in order
                    TumblingWindowInSeconds=window_seconds,
                    FunctionResponseTypes=["ReportBatchItemFailures"],
                    MaximumRetryAttempts=5,
                    Tags=self.target.tags,  # needs botocore >= 1.35.23 (see client.MIN_BOTOCORE)
                ),
            )
            created = True
        uuid = mapping["UUID"]

        def enabled() -> bool:
            state = lam.get_event_source_mapping(UUID=uuid)["State"]
            return state in {"Enabled", "Disabled"}

        self._wait(f"the event source mapping {uuid} to be Enabled", enabled)
        self._record(
            report, KIND_MAPPING, uuid, created,
            arn=mapping.get("EventSourceMappingArn", ""), function=name, tumbling_window_seconds=window_seconds,
        )  # fmt: skip

    def ensure_scores_table(self, report: AnomalyDeployment) -> None:
        glue = self.client("glue")
        table: dict[str, Any] = {  # Glue's TableInput
            "Name": SCORES_TABLE,
            "Description": "Every scored 10 s window of the anomaly app (JSON lines written by the Lambda function)",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "json", "EXTERNAL": "TRUE", TAG_KEY: self.target.stack},
            "StorageDescriptor": {
                "Columns": [{"Name": name, "Type": HIVE_TYPES[kind]} for name, kind in SCORE_COLUMNS.items()],
                "Location": f"s3://{self.target.bucket}/{SCORES_PREFIX}",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                    "Parameters": {"ignore.malformed.json": "true"},
                },
            },
        }
        try:
            glue.get_table(DatabaseName=self.target.database, Name=SCORES_TABLE)
            glue.update_table(DatabaseName=self.target.database, TableInput=table)
            created = False
        except Exception as exc:
            if not is_missing(exc):
                raise translate_error(exc, f"look up the table {SCORES_TABLE}") from None
            glue.create_table(DatabaseName=self.target.database, TableInput=table)
            created = True
        self._record(
            report,
            KIND_SCORES_TABLE,
            SCORES_TABLE,
            created,
            database=self.target.database,
            location=table["StorageDescriptor"]["Location"],
        )

    # teardown -------------------------------------------------------------------------------
    def teardown(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Remove the app's ledger resources in dependency order: (removed, failed)."""
        removed: list[str] = []
        failed: list[tuple[str, str]] = []
        for kind in TEARDOWN_ORDER:
            for resource in [r for r in self.ledger.resources if r.kind == kind]:
                label = f"{kind} {resource.name}"
                try:
                    self.remove(resource)
                except Exception as exc:
                    if not is_missing(exc):
                        reason = exc.message if isinstance(exc, TollError) else translate_error(exc, f"remove {label}").message
                        failed.append((label, reason))
                        continue
                self.ledger.forget(resource.kind, resource.name)
                removed.append(label)
                self.on_event(f"removed {label}")
        if not failed:
            self.ledger.meta.pop("anomaly_app", None)
            self.ledger.save()
        return removed, failed

    def remove(self, resource: Resource) -> None:
        kind, name, settings = resource.kind, resource.name, resource.settings
        if kind == KIND_MAPPING:
            lam = self.client("lambda")
            lam.delete_event_source_mapping(UUID=name)
            self._wait_gone(f"the event source mapping {name}", lambda: lam.get_event_source_mapping(UUID=name))
        elif kind == KIND_LOG_GROUP:
            self.client("logs").delete_log_group(logGroupName=name)
        elif kind == KIND_FUNCTION:
            self.client("lambda").delete_function(FunctionName=name)
        elif kind == KIND_DELIVERY_STREAM:
            firehose = self.client("firehose")
            # Firehose refuses to delete a stream still CREATING (a deploy stopped while waiting).
            self._wait(
                f"the delivery stream {name} to finish CREATING, so it can be deleted",
                lambda: (
                    firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
                        "DeliveryStreamStatus"
                    ]
                    != "CREATING"
                ),
            )
            firehose.delete_delivery_stream(DeliveryStreamName=name)
            self._wait_gone(f"the delivery stream {name}", lambda: firehose.describe_delivery_stream(DeliveryStreamName=name))
        elif kind == KIND_DATA_STREAM:
            kinesis = self.client("kinesis")
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            self._wait_gone(f"the Kinesis stream {name}", lambda: kinesis.describe_stream_summary(StreamName=name))
        elif kind == KIND_SUBSCRIPTION:
            arn = str(settings.get("arn", ""))
            if arn.startswith("arn:"):  # "PendingConfirmation" subscriptions go with their topic
                self.client("sns").unsubscribe(SubscriptionArn=arn)
        elif kind == KIND_TOPIC:
            self.client("sns").delete_topic(TopicArn=settings["arn"])
        elif kind == KIND_SCORES_TABLE:
            self.client("glue").delete_table(DatabaseName=settings.get("database", self.target.database), Name=name)
        elif kind in {KIND_FUNCTION_ROLE, KIND_FIREHOSE_ROLE}:
            iam = self.client("iam")
            for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)
        elif kind == KIND_PACKAGE:  # the build folder under the home (wheels and zips)
            shutil.rmtree(name, ignore_errors=True)

    def _wait_gone(self, what: str, describe: Callable[[], object]) -> None:
        def gone() -> bool:
            try:
                describe()
            except Exception as exc:
                if is_missing(exc):
                    return True
                raise
            return False

        self._wait(f"{what} to be deleted", gone)


# --- deploy, as the AWS backend calls it ---------------------------------------------------------
def deploy_anomaly_app(
    clients: Callable[[str], Any],
    target: AnomalyTarget,
    ledger: Ledger,
    *,
    home: Path,
    config: AnomalyConfig,
    cache: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_event: EventCallback = lambda _m: None,
) -> AnomalyDeployment:
    """Check the input, build the function's package, then create or update the app."""
    config = replace(
        config.check(),
        threshold=check_threshold(config.threshold),
        email=check_email(config.email) if config.email else None,
        phone=check_phone(config.phone) if config.phone else None,
    )
    build_dir = cache or home / "cache" / "lambda"
    on_event("building the function's package (our code, krcf and numpy wheels for Lambda python3.12)")
    package = build_lambda_package(build_dir)
    if cache is None:  # the build folder under the home is ours to remove at teardown
        ledger.record(Resource(kind=KIND_PACKAGE, name=str(build_dir), settings={"size": package.size}))
    deployer = AnomalyDeployer(clients, target, ledger, sleep=sleep, on_event=on_event)
    return deployer.deploy(package, config)


# --- the live record stream as a sink for `toll generate` ---------------------------------------
# --- reading what the function wrote, for `toll alerts` ---------------------------------------------
def read_windows(s3: Any, bucket: str, prefix: str, *, since_key: str | None = None) -> list[dict[str, Any]]:
    """Every JSON line under `prefix`, oldest window first (keys sort by window start)."""
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if since_key:
        kwargs["StartAfter"] = since_key
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
            for line in body.splitlines():
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        continue
    rows.sort(key=lambda r: (str(r.get("window_start", "")), str(r.get("station", ""))))
    return rows


def read_alerts(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The alerts the function raised (one JSON object per object), oldest first."""
    return read_windows(s3, bucket, ALERTS_PREFIX)


def read_scores(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every scored window row, oldest first."""
    return read_windows(s3, bucket, SCORES_PREFIX)


# --- what AwsBackend delegates here (deploy, alerts, the live sink) --------------------------------
def _backend_target(ctx: AwsContext) -> AnomalyTarget:
    """Section 1's bucket and database, as `toll --backend aws setup` recorded them."""
    if ctx.bucket is None or not ctx.has_database:
        raise UsageError("Section 1 is not set up here: run `toll --backend aws setup` before `toll deploy`")
    return AnomalyTarget(
        bucket=ctx.bucket,
        database=DATABASE_NAME,
        region=ctx.aws.region,
        account=ctx.aws.account_id(),
        stack=ctx.stack,
        partition=ctx.aws.partition,
    )


def check_deploy_request(config: AnomalyConfig, *, replay: bool) -> None:
    """What `toll deploy` on AWS refuses before anything is looked up."""
    if replay:
        raise UsageError(
            "--replay is not available on the aws backend: the function scores records as they arrive; "
            "run `toll generate` after `toll deploy`"
        )
    if not 1 <= config.window_seconds <= 900:
        raise UsageError(f"--window on AWS is Lambda's tumbling window: 1-900 seconds, not {config.window_seconds}")


def deploy_on_backend(ctx: AwsContext, *, config: AnomalyConfig, on_event: EventCallback) -> DeployReport:
    """`AwsBackend.deploy` (after `check_deploy_request`): the app on Kinesis, Lambda, S3 and SNS."""
    target = _backend_target(ctx)
    shared_cache = os.environ.get("TOLL_LAMBDA_CACHE")  # a build folder shared by several homes (not removed)
    with ctx.aws.translate("deploy the anomaly app"):
        report = deploy_anomaly_app(ctx.aws.client, target, ctx.ledger, home=ctx.home, config=config,
                                    cache=Path(shared_cache) if shared_cache else None,
                                    sleep=ctx.sleep, on_event=on_event)  # fmt: skip
    notes = list(report.notes)
    notes.append(
        f"On AWS the windows are Lambda's {config.window_seconds} s tumbling windows by arrival time "
        "(as the workshop's ROWTIME); --lateness applies to the local backend only."
    )
    notes.append(f"toll generate now writes to the Kinesis stream {report.data_stream}; alerts go to {report.topic_arn}.")
    return DeployReport(created=report.created, existing=report.existing, notes=notes,
                               config={k: v for k, v in config.to_json().items()})  # fmt: skip


def _since(rows: list[dict[str, Any]], since: str | None) -> list[dict[str, Any]]:
    return rows if since is None else [r for r in rows if str(r.get("window_start", "")) > since]


def _deployed_app(ctx: AwsContext) -> dict[str, Any]:
    app = ctx.ledger.meta.get("anomaly_app")
    if not app:
        raise UsageError("no anomaly app is deployed here: run `toll --backend aws deploy` first")
    return dict(app)


def read_alerts_on_backend(ctx: AwsContext, *, since: str | None = None) -> list[dict[str, Any]]:
    app = _deployed_app(ctx)
    with ctx.aws.translate("read the alerts from the bucket"):
        return _since(read_alerts(ctx.aws.client("s3"), app["bucket"]), since)


def read_scores_on_backend(ctx: AwsContext, *, since: str | None = None) -> list[dict[str, Any]]:
    app = _deployed_app(ctx)
    with ctx.aws.translate("read the scored windows from the bucket"):
        return _since(read_scores(ctx.aws.client("s3"), app["bucket"]), since)


def open_live_sink(ctx: AwsContext, *, realtime: bool = True) -> KinesisSink | None:
    """After `toll deploy`, generated records go to the live Kinesis stream (which also copies
    them into the bucket through its own delivery stream); None before it."""
    app = ctx.ledger.meta.get("anomaly_app")
    if not app or ctx.ledger.find(KIND_DATA_STREAM, app.get("data_stream")) is None:
        return None
    stream = str(app["data_stream"])
    kinesis = ctx.aws.client("kinesis")
    with ctx.aws.translate(f"look up the Kinesis stream {stream}"):
        try:
            status = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        except Exception as exc:
            if is_missing(exc):
                raise UsageError(f"the Kinesis stream {stream} is missing: run `toll --backend aws deploy` again") from None
            raise
    if status not in {"ACTIVE", "UPDATING"}:
        raise UsageError(f"the Kinesis stream {stream} is {status}: wait a minute or run `toll --backend aws deploy` again")
    return KinesisSink(kinesis, stream, realtime=realtime, sleep=ctx.sleep)


# --- `toll status` on AWS: the app's resources, live -------------------------------------------------
KINESIS_SHARD_USD_PER_HOUR = 0.015  # provisioned shard-hour, us-east-1, November 2026
HOURS_PER_MONTH = 730


def monthly_cost_usd(ledger: Ledger) -> float:
    """What the app costs to keep while idle: its stream's shard-hours (Lambda, SNS and the second
    delivery stream cost only while records flow)."""
    shards = sum(int(r.settings.get("shards", 1)) for r in ledger.resources if r.kind == KIND_DATA_STREAM)
    return round(shards * KINESIS_SHARD_USD_PER_HOUR * HOURS_PER_MONTH, 2)


def live_state(aws: Any, resource: Resource, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(state, details) of one of the app's ledger resources, asked of AWS."""
    kind, name, settings = resource.kind, resource.name, resource.settings

    def ask(service: str, operation: str, **params: Any) -> dict[str, Any] | None:
        return aws.describe(service, operation, f"look up the {kind.replace('-', ' ')} {name}", **params)

    if kind == KIND_DATA_STREAM:
        found = ask("kinesis", "describe_stream_summary", StreamName=name)
        cost = f"${int(settings.get('shards', 1)) * KINESIS_SHARD_USD_PER_HOUR * HOURS_PER_MONTH:.2f}/month"
        return (found["StreamDescriptionSummary"]["StreamStatus"] if found else "missing"), {**details, "cost": cost}
    if kind == KIND_DELIVERY_STREAM:
        found = ask("firehose", "describe_delivery_stream", DeliveryStreamName=name)
        return (found["DeliveryStreamDescription"]["DeliveryStreamStatus"] if found else "missing"), details
    if kind == KIND_LOG_GROUP:
        found = ask("logs", "describe_log_groups", logGroupNamePrefix=name)
        present = any(group["logGroupName"] == name for group in (found or {}).get("logGroups", []))
        return ("present" if present else "missing"), details
    if kind == KIND_FUNCTION:
        found = ask("lambda", "get_function_configuration", FunctionName=name)
        return (str(found.get("State", "Active")) if found else "missing"), details
    if kind == KIND_MAPPING:
        found = ask("lambda", "get_event_source_mapping", UUID=name)
        return (str(found["State"]) if found else "missing"), details
    if kind == KIND_TOPIC:
        found = ask("sns", "get_topic_attributes", TopicArn=settings.get("arn", ""))
        if not found:
            return "missing", details
        attributes = found.get("Attributes", {})
        return "present", {
            **details,
            "confirmed": attributes.get("SubscriptionsConfirmed"),
            "pending": attributes.get("SubscriptionsPending"),
        }
    if kind == KIND_SUBSCRIPTION:
        arn = str(settings.get("arn", ""))
        if not arn.startswith("arn:"):
            return "pending confirmation", details
        found = ask("sns", "get_subscription_attributes", SubscriptionArn=arn)
        if not found:
            return "missing", details
        pending = found.get("Attributes", {}).get("PendingConfirmation") == "true"
        return ("pending confirmation" if pending else "confirmed"), details
    if kind == KIND_SCORES_TABLE:
        found = ask("glue", "get_table", DatabaseName=settings.get("database", "toll"), Name=name)
        return ("present" if found else "missing"), details
    if kind in {KIND_FUNCTION_ROLE, KIND_FIREHOSE_ROLE}:
        return ("present" if ask("iam", "get_role", RoleName=name) else "missing"), details
    if kind == KIND_PACKAGE:
        return ("present" if Path(name).exists() else "missing"), details
    return "recorded", details
