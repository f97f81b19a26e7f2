"""The AWS backend: the workshop's Section 1 pipeline in one account and region.

    toll generate --PutRecordBatch--> Firehose toll-data-stream (Direct PUT, 1 MB / 60 s)
        --role <stack>-firehose-delivery--> s3://<bucket>/YYYY/MM/DD/HH/   (encrypted, private, TLS only)
    toll query --PyAthena--> workgroup <stack>-workgroup --> Glue toll.lab_toll_data_stream
        (partition projection over the YYYY/MM/DD/HH keys; results in s3://<bucket>/athena-results/)

Setup is plan, act, record: it first only describes (credentials, region, name clashes with
resources that are not ours), then creates what is missing, and writes each resource to the
ledger (<home>/ledger.json) *before* creating it, marked "creating", and again when it is done,
so `toll teardown` can undo a setup that stopped anywhere. Every resource carries the tag
`toll:stack=<stack>`; teardown deletes only ledger resources that still carry it.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from string import Template
from typing import Any

from tollcli.anomaly.app import AnomalyConfig
from tollcli.backends.aws.anomaly import (
    ANOMALY_KINDS,
    KIND_SCORES_TABLE,
    SCORES_TABLE,
    AnomalyDeployer,
    AnomalyTarget,
    check_deploy_request,
    deploy_on_backend,
    live_state,
    open_live_sink,
    read_alerts_on_backend,
    read_scores_on_backend,
)
from tollcli.backends.aws.anomaly import monthly_cost_usd as anomaly_cost
from tollcli.backends.aws.client import AwsClient
from tollcli.backends.aws.context import AwsContext
from tollcli.backends.aws.names import (
    ERRORS_PREFIX,
    KIND_BUCKET,
    KIND_DATABASE,
    KIND_ROLE,
    KIND_STREAM,
    KIND_TABLE,
    KIND_WORKGROUP,
    RESULTS_PREFIX,
    ROLE_PATH,
    ROLE_POLICY_NAME,
    TAG_KEY,
    TEARDOWN_ORDER,
)
from tollcli.backends.aws.packing import billed_bytes
from tollcli.backends.aws.quicksight import check_user_arn, live_state_on_backend, publish_on_backend, teardown_on_backend
from tollcli.backends.aws.sinks import FirehoseSink
from tollcli.backends.base import Backend, Capabilities, RecordSink
from tollcli.backends.reports import (
    DeployReport,
    EventCallback,
    QueryResult,
    QuickSightReport,
    ResourceStatus,
    SetupReport,
    StatusReport,
    TeardownReport,
    ignore_event,
)
from tollcli.config import (
    DATABASE_NAME,
    DEFAULT_BUFFER_SECONDS,
    DEFAULT_THRESHOLD,
    STREAM_NAME,
    TABLE_NAME,
    Settings,
    check_buffering,
)
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.render import human_bytes
from tollcli.state import Ledger, Resource

BYTES_SCANNED_CUTOFF = 1024**3  # 1 GiB per query: at most half a cent
STACK_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")

# Prices (us-east-1, November 2026) for the estimate `toll status` shows.
ATHENA_USD_PER_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1024**2
S3_USD_PER_GB_MONTH = 0.023
FIREHOSE_USD_PER_GB = 0.029


WORKSHOP_LINES_PER_SECOND = 100  # the workshop's rate (generator.DEFAULT_RATE)
WORKSHOP_LINE_BYTES = 40  # a toll line, `2026-11-28T10:00:00.123Z,35South,ABC123\n`, is about this long


def firehose_hourly_cost_usd(lines_per_second: float, *, line_bytes: int = WORKSHOP_LINE_BYTES, packed: bool = True) -> float:
    """Firehose ingestion for an hour of traffic: each record is billed rounded up to 5 KB. Packed,
    a second's lines are one record (`packing`: at least one send a second); unpacked, each line is."""
    per_second = billed_bytes(math.ceil(lines_per_second * line_bytes)) if packed else lines_per_second * billed_bytes(line_bytes)
    return per_second * 3600 / 1024**3 * FIREHOSE_USD_PER_GB


def athena_cost_usd(bytes_scanned: int) -> float:
    """What Athena charges for a query that scanned this much: $5 per TB, 10 MB minimum."""
    return max(bytes_scanned, ATHENA_MIN_BYTES) / 1024**4 * ATHENA_USD_PER_TB


def fill_template(*parts: str, **values: str) -> str:
    """A shipped JSON document (templates/aws/...) with its ${placeholders} filled, compacted."""
    return json.dumps(json.loads(Template(read_template(*parts)).substitute(values)))


def check_stack(stack: str) -> str:
    if not STACK_PATTERN.match(stack):
        raise UsageError(f"stack name {stack!r} (TOLL_STACK) must be 1-20 lowercase letters, digits or '-'")
    return stack


@dataclass(frozen=True)
class StackNames:
    """Every name the stack uses; the bucket's is random and lives in the ledger."""

    stack: str

    @property
    def role(self) -> str:
        return f"{self.stack}-firehose-delivery"

    @property
    def workgroup(self) -> str:
        return f"{self.stack}-workgroup"

    def new_bucket(self, account: str, region: str) -> str:
        """Globally unique: account, region and a random suffix (S3 allows 63 characters)."""
        suffix = secrets.token_hex(3)
        return f"{self.stack}-data-{account}-{region}"[: 63 - len(suffix) - 1] + f"-{suffix}"


class AwsBackend(Backend):
    name = "aws"
    capabilities = Capabilities(replay=False, compact=False, quicksight=True, event_time_backfill=False)

    def __init__(self, settings: Settings, *, aws: AwsClient | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(settings)
        self._aws = aws
        self.sleep = sleep
        self.names = StackNames(settings.stack)

    # the session ----------------------------------------------------------------------------
    def client_for(self, ledger: Ledger | None) -> AwsClient:
        """The AWS client, in the region the ledger's stack lives in unless --region says otherwise."""
        if self._aws is None:
            recorded = (ledger.meta.get("region") if ledger else None) or None
            if recorded and self.settings.region and self.settings.region != recorded:
                raise UsageError(
                    f"{self.settings.home} holds a stack in {recorded}, not {self.settings.region}: "
                    f"drop --region or use another --home"
                )
            self._aws = AwsClient(region=self.settings.region or recorded, profile=self.settings.profile, sleep=self.sleep)
        return self._aws

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.settings.stack}

    def context(self, ledger: Ledger, *, check_account: bool = True) -> AwsContext:
        """What a component (the anomaly app, QuickSight) needs, with the account checked against
        the ledger's (a change of credentials never reaches another account's stack)."""
        aws = self.client_for(ledger)
        if check_account:
            self._check_account(aws, ledger)
        return AwsContext(aws=aws, ledger=ledger, stack=self.settings.stack, home=self.settings.home, sleep=self.sleep)

    def _check_account(self, aws: AwsClient, ledger: Ledger | None) -> str:
        account = aws.account_id()
        recorded = ledger.meta.get("account") if ledger else None
        if recorded and recorded != account:
            raise UsageError(
                f"{self.settings.home} holds a stack in AWS account {recorded}, but your credentials are for "
                f"{account}: use the right --profile"
            )
        return account

    def _open_ledger(self, ledger: Ledger | None, aws: AwsClient, account: str) -> Ledger:
        if ledger is not None:
            return ledger
        home_existed = self.settings.home.exists()
        try:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--home {self.settings.home} is not writable: {exc.strerror}") from None
        ledger = Ledger(path=self.settings.ledger_path, backend=self.name, stack=self.settings.stack)
        ledger.meta.update(home_created=not home_existed, region=aws.region, account=account)
        ledger.save()
        return ledger

    # setup: plan ----------------------------------------------------------------------------
    def _claim(self, kind: str, name: str, ledger: Ledger | None, tags: dict[str, str] | None) -> None:
        """A resource with our name that exists: ours (in the ledger or tagged for this stack) or a clash."""
        if tags is None or (ledger is not None and ledger.find(kind, name) is not None):
            return
        if tags.get(TAG_KEY) != self.settings.stack:
            raise UsageError(
                f"a {kind.replace('_', ' ')} named {name} already exists in this account and region and is not "
                f"this stack's (no tag {TAG_KEY}={self.settings.stack}): delete it, or set TOLL_STACK / --region"
            )

    def plan(self, aws: AwsClient, ledger: Ledger | None) -> None:
        """Describe only: refuse before creating anything when a name we need is someone else's."""
        self._claim(KIND_STREAM, STREAM_NAME, ledger, aws.delivery_stream_tags(STREAM_NAME))
        self._claim(KIND_ROLE, self.names.role, ledger, aws.role_tags(self.names.role))
        self._claim(KIND_DATABASE, DATABASE_NAME, ledger, aws.database_tags(DATABASE_NAME))
        self._claim(KIND_WORKGROUP, self.names.workgroup, ledger, aws.workgroup_tags(self.names.workgroup))

    # setup: act and record ------------------------------------------------------------------
    def setup(self, *, buffer_mb: int, buffer_seconds: int, on_event: EventCallback = ignore_event) -> SetupReport:
        check_buffering(buffer_mb, buffer_seconds)
        check_stack(self.settings.stack)
        ledger = self.load_ledger()
        if ledger is not None and ledger.backend != self.name:
            raise UsageError(f"{self.settings.home} holds a {ledger.backend} stack: tear it down or use another --home")
        aws = self.client_for(ledger)
        account = self._check_account(aws, ledger)
        self.plan(aws, ledger)
        ledger = self._open_ledger(ledger, aws, account)
        run = _SetupRun(self, aws, ledger, on_event)
        bucket = run.bucket()
        role_arn = run.role(bucket)
        run.stream(bucket, role_arn, buffer_mb, buffer_seconds)
        run.database()
        run.table(bucket)
        run.workgroup(bucket)
        return run.report

    # status ---------------------------------------------------------------------------------
    def status(self) -> StatusReport:
        ledger = self.load_ledger()
        report = StatusReport(backend=self.name, home=str(self.settings.home), set_up=ledger is not None)
        if ledger is None:
            report.notes.append("nothing is set up here: run `toll --backend aws setup`")
            return report
        aws = self.client_for(ledger)
        self._check_account(aws, ledger)
        stored_bytes = 0
        for resource in ledger.resources:
            state, details = self._live_state(aws, ledger, resource)
            stored_bytes += int(details.get("bytes", 0)) if resource.kind == KIND_BUCKET else 0
            report.resources.append(ResourceStatus(kind=resource.kind, name=resource.name, state=state, details=details))
        report.unknown = self._unknown_tagged(aws, ledger, report.notes)
        report.monthly_cost_usd = round(stored_bytes / 1024**3 * S3_USD_PER_GB_MONTH, 4)
        if ledger.meta.get("anomaly_app"):  # the live stream's shard-hours (backends/aws/anomaly.py)
            report.monthly_cost_usd = round(report.monthly_cost_usd + anomaly_cost(ledger), 4)
            report.notes.append("the anomaly app's Kinesis stream costs its shard-hours while it exists ($0.015/hour)")
        report.notes.append(
            f"Firehose bills each record rounded up to 5 KB: `toll generate` packs a second's lines into one record, so "
            f"the workshop's {WORKSHOP_LINES_PER_SECOND} records/s cost "
            f"${firehose_hourly_cost_usd(WORKSHOP_LINES_PER_SECOND):.4f}/hour to ingest "
            f"(${firehose_hourly_cost_usd(WORKSHOP_LINES_PER_SECOND, packed=False):.4f}/hour sent a line per record)"
        )
        report.notes.append(
            f"region {aws.region}, account {aws.account_id()}; the cost shown is S3 storage "
            f"(${S3_USD_PER_GB_MONTH}/GB-month). Firehose (${FIREHOSE_USD_PER_GB}/GB sent) and Athena "
            f"(${ATHENA_USD_PER_TB:.0f}/TB scanned, 10 MB minimum) cost only while used; Glue and IAM cost nothing here."
        )
        return report

    def _live_state(self, aws: AwsClient, ledger: Ledger, resource: Resource) -> tuple[str, dict[str, Any]]:
        details = {k: v for k, v in resource.settings.items() if k not in {"arn", "region"}}
        kind, name = resource.kind, resource.name
        if kind == KIND_BUCKET:
            if not aws.bucket_exists(name):
                return "missing", details
            objects, size = aws.bucket_usage(name)
            return "present", {**details, "objects": objects, "bytes": size}
        if kind == KIND_ROLE:
            return ("present" if aws.get_role(name) else "missing"), details
        if kind == KIND_STREAM:
            stream = aws.describe_delivery_stream(name)
            return (stream["DeliveryStreamStatus"] if stream else "missing"), details
        if kind == KIND_DATABASE:
            return ("present" if aws.get_database(name) else "missing"), details
        if kind == KIND_TABLE:
            database, _, table = name.partition(".")
            return ("present" if aws.get_table(database, table) else "missing"), details
        if kind == KIND_WORKGROUP:
            workgroup = aws.get_workgroup(name)
            return (workgroup["State"] if workgroup else "missing"), details
        if kind.startswith("quicksight-"):  # `toll dashboard --quicksight` (backends/aws/quicksight.py)
            return live_state_on_backend(self.context(ledger, check_account=False), resource)
        if kind.startswith("anomaly-"):  # `toll deploy` (backends/aws/anomaly.py)
            return live_state(aws, resource, details)
        return "recorded", details  # kinds other commands add report themselves

    def _unknown_tagged(self, aws: AwsClient, ledger: Ledger, notes: list[str]) -> list[ResourceStatus]:
        """Resources tagged for this stack that the ledger does not list (left over from another run)."""
        known = {r.settings.get("arn") for r in ledger.resources} | {r.name for r in ledger.resources}
        unknown: list[ResourceStatus] = []
        try:
            arns = aws.tagged_arns(TAG_KEY, self.settings.stack)
        except TollError as exc:
            notes.append(f"could not look for leftovers tagged {TAG_KEY}={self.settings.stack}: {exc.message}")
            arns = []
        for arn in arns:
            resource_type, name = _arn_kind_and_name(arn)
            if arn not in known and name not in known:
                unknown.append(ResourceStatus(kind=resource_type, name=name, state="not in the ledger", details={"arn": arn}))
        # IAM is not in the tagging API: list the roles under our path instead.
        for role in aws.roles_under(ROLE_PATH):
            if role not in known and (aws.role_tags(role) or {}).get(TAG_KEY) == self.settings.stack:
                unknown.append(ResourceStatus(kind=KIND_ROLE, name=role, state="not in the ledger"))
        return unknown

    # teardown -------------------------------------------------------------------------------
    def teardown(self, *, on_event: EventCallback = ignore_event) -> TeardownReport:
        ledger = self.load_ledger()
        report = TeardownReport()
        if ledger is None:
            report.nothing_to_do = True
            return report
        if ledger.backend != self.name:
            raise UsageError(f"{self.settings.home} holds a {ledger.backend} stack: use --backend {ledger.backend}")
        aws = self.client_for(ledger)
        self._check_account(aws, ledger)
        self._teardown_quicksight(aws, ledger, report, on_event)
        self._teardown_anomaly_app(aws, ledger, report, on_event)
        for kind in TEARDOWN_ORDER:
            for resource in [r for r in ledger.resources if r.kind == kind]:
                label = f"{kind} {resource.name}"
                try:
                    verdict = self._ownership(aws, resource)
                    if verdict == "ours":
                        verdict = self._remove_or_find_gone(aws, resource, on_event)
                    if verdict not in ("ours", "gone"):
                        report.failed.append((label, verdict))
                        continue
                except TollError as exc:
                    report.failed.append((label, exc.message))
                    continue
                ledger.forget(resource.kind, resource.name)
                report.removed.append(label if verdict == "ours" else f"{label} (already gone)")
                on_event(f"removed {label}" if verdict == "ours" else f"{label} was already gone")
        self._teardown_home_files(ledger, report, on_event)
        if not report.failed and not ledger.resources:
            self.settings.ledger_path.unlink(missing_ok=True)
            if ledger.meta.get("home_created"):
                try:
                    self.settings.home.rmdir()
                except OSError:
                    pass
        return report

    def _teardown_home_files(self, ledger: Ledger, report: TeardownReport, on_event: EventCallback) -> None:
        """Files under the home that the ledger records (`toll skew`'s skew.json, the generator's
        event-time.json): not AWS's, removed as the shared layer says (`Backend.remove_shared_home_file`).
        One that cannot be removed (skew.json made a folder) is reported as failed, as the local backend
        reports it, and stays in the ledger."""

        for resource in list(ledger.resources):
            label = f"{resource.kind} {resource.name}"
            try:
                if not self.remove_shared_home_file(resource):
                    continue
            except OSError as exc:
                report.failed.append((label, exc.strerror or str(exc)))
                continue
            ledger.forget(resource.kind, resource.name)
            report.removed.append(label)
            on_event(f"removed {label}")

    def _teardown_quicksight(self, aws: AwsClient, ledger: Ledger, report: TeardownReport, on_event: EventCallback) -> None:
        """The QuickSight analysis, dataset, data source and grant read this stack: they go first."""
        teardown_on_backend(self.context(ledger, check_account=False), report, on_event)

    def _teardown_anomaly_app(self, aws: AwsClient, ledger: Ledger, report: TeardownReport, on_event: EventCallback) -> None:
        """The Section 2 app (`toll deploy`) sits on this stack: it goes first."""
        if not any(r.kind in ANOMALY_KINDS for r in ledger.resources):
            return
        bucket = ledger.find(KIND_BUCKET)
        target = AnomalyTarget(
            bucket=bucket.name if bucket else "",
            database=DATABASE_NAME,
            region=aws.region,
            account=aws.account_id(),
            stack=self.settings.stack,
            partition=aws.partition,
        )
        removed, failed = AnomalyDeployer(aws.client, target, ledger, sleep=self.sleep, on_event=on_event).teardown()
        report.removed.extend(removed)
        report.failed.extend(failed)

    def _ownership(self, aws: AwsClient, resource: Resource) -> str:
        """ "ours", "gone", or why we leave it alone: only what carries our tag is deleted."""
        kind, name = resource.kind, resource.name
        if kind == KIND_BUCKET:
            tags = aws.bucket_tags(name)
            if tags is not None and not tags and resource.settings.get("state") == "creating":
                return "ours"  # created, then stopped before it was tagged: deleted only if empty
        elif kind == KIND_ROLE:
            tags = aws.role_tags(name)
        elif kind == KIND_STREAM:
            tags = aws.delivery_stream_tags(name)
        elif kind == KIND_DATABASE:
            tags = aws.database_tags(name)
        elif kind == KIND_TABLE:
            database, _, table_name = name.partition(".")
            table = aws.get_table(database, table_name)
            tags = None if table is None else {k: v for k, v in table.get("Parameters", {}).items() if k == TAG_KEY}
        elif kind == KIND_WORKGROUP:
            tags = aws.workgroup_tags(name)
        else:
            return f"toll does not know how to remove a {kind}"
        if tags is None:
            return "gone"
        if tags.get(TAG_KEY) != self.settings.stack:
            return f"it does not carry the tag {TAG_KEY}={self.settings.stack}, so toll left it alone"
        return "ours"

    def _remove_or_find_gone(self, aws: AwsClient, resource: Resource, on_event: EventCallback) -> str:
        """Remove one of ours; "ours" once removed, "gone" if someone else deleted it (or part of it)
        between our look and our delete, which fails the delete with NoSuchBucket, NoSuchEntity..."""
        try:
            self._remove(aws, resource, on_event)
            return "ours"
        except TollError:
            verdict = self._ownership(aws, resource)
            if verdict == "gone":
                return "gone"
            if verdict != "ours":
                raise
        self._remove(aws, resource, on_event)  # still there and ours: once more, from a fresh look
        return "ours"

    def _remove(self, aws: AwsClient, resource: Resource, on_event: EventCallback) -> None:
        kind, name = resource.kind, resource.name
        if kind == KIND_BUCKET:
            if resource.settings.get("state") != "creating":
                # The bucket is about to go: drop its policy first, as emulators that ignore the
                # TLS condition (moto) would otherwise deny the deletes.
                aws.delete_bucket_policy(name)
                deleted = aws.empty_bucket(name)
                on_event(f"emptied bucket {name} ({deleted} object versions)")
            aws.delete_bucket(name)
        elif kind == KIND_ROLE:
            aws.delete_role(name)
        elif kind == KIND_STREAM:
            # Firehose refuses to delete a stream still CREATING (a setup stopped while waiting).
            aws.wait_until(
                f"the delivery stream {name} to finish creating",
                lambda: (aws.describe_delivery_stream(name) or {}).get("DeliveryStreamStatus") != "CREATING",
                interval=5.0,
                on_wait=lambda waited: on_event(f"waiting for delivery stream {name} to finish creating ({waited:.0f} s)"),
            )
            aws.delete_delivery_stream(name)
            on_event(f"waiting for delivery stream {name} to be deleted")
            aws.wait_until(f"the deletion of {name}", lambda: aws.describe_delivery_stream(name) is None, interval=5.0)
        elif kind == KIND_DATABASE:
            # Deleting a database deletes its tables: never take along tables toll did not make.
            others = aws.table_names(name)
            if others:
                raise TollError(f"it still holds tables toll did not make ({', '.join(others[:5])}), so toll left it alone")
            aws.delete_database(name)
        elif kind == KIND_TABLE:
            database, _, table = name.partition(".")
            aws.delete_table(database, table)
        elif kind == KIND_WORKGROUP:
            aws.delete_workgroup(name)

    # delivery and SQL -----------------------------------------------------------------------
    def buffering_seconds(self) -> float:
        """The interval hint setup gave the delivery stream (the ledger's record of it; 60 s by default)."""
        stream = self.require_ledger().find(KIND_STREAM, STREAM_NAME)
        return float((stream.settings if stream else {}).get("buffering_seconds", DEFAULT_BUFFER_SECONDS))

    def deliveries_in_progress(self) -> list[int]:
        return []  # the stream is Firehose's: a run on another machine delivers to it as well, unseen from here

    def open_sink(self, *, realtime: bool) -> RecordSink:
        ledger = self.require_ledger()
        aws = self.client_for(ledger)
        live = open_live_sink(self.context(ledger, check_account=False), realtime=realtime)  # after `toll deploy`
        if live is not None:
            return live
        stream = aws.describe_delivery_stream(STREAM_NAME) if ledger.find(KIND_STREAM, STREAM_NAME) else None
        if stream is None or stream["DeliveryStreamStatus"] != "ACTIVE":
            state = stream["DeliveryStreamStatus"] if stream else "missing"
            raise UsageError(f"the delivery stream {STREAM_NAME} is {state}: run `toll --backend aws setup`")
        return FirehoseSink(aws, STREAM_NAME, realtime=realtime, sleep=self.sleep)

    # the anomaly app (Section 2 on AWS, in backends/aws/anomaly.py) -------------------------------
    def deploy(self, *, config: AnomalyConfig, replay: bool = False, on_event: EventCallback = ignore_event) -> DeployReport:
        check_deploy_request(config, replay=replay)
        return deploy_on_backend(self.context(self.require_ledger()), config=config, on_event=on_event)

    def deployed_anomaly_threshold(self) -> float | None:
        """The threshold in the function's settings as `deploy` recorded them (`ledger.meta["anomaly_app"]`),
        once the app's scores table is in the ledger."""
        ledger = self.load_ledger()
        if ledger is None or ledger.find(KIND_SCORES_TABLE, SCORES_TABLE) is None:
            return None
        app = ledger.meta.get("anomaly_app")
        config = app.get("config") if isinstance(app, dict) else None
        threshold = config.get("threshold") if isinstance(config, dict) else None
        return float(threshold) if isinstance(threshold, (int, float)) else DEFAULT_THRESHOLD

    def read_alerts(self, *, since: str | None = None) -> list[dict[str, Any]]:
        return read_alerts_on_backend(self.context(self.require_ledger(), check_account=False), since=since)

    def read_scores(self, *, since: str | None = None) -> list[dict[str, Any]]:
        return read_scores_on_backend(self.context(self.require_ledger(), check_account=False), since=since)

    # QuickSight (`toll dashboard --quicksight`, in backends/aws/quicksight.py) -------------------------
    def publish_quicksight(self, *, user_arn: str | None = None, on_event: EventCallback = ignore_event) -> QuickSightReport:
        if user_arn is not None:
            user_arn = check_user_arn(user_arn)
        return publish_on_backend(self.context(self.require_ledger()), user_arn=user_arn, on_event=on_event)

    def query(self, sql: str, *, strict: bool = False) -> QueryResult:
        """Run the Athena SQL unchanged through PyAthena in the stack's workgroup."""
        ledger = self.require_ledger()
        bucket, workgroup = ledger.find(KIND_BUCKET), ledger.find(KIND_WORKGROUP)
        if bucket is None or workgroup is None:
            raise UsageError("the Athena workgroup or the bucket is missing: run `toll --backend aws setup`")
        aws = self.client_for(ledger)
        columns, rows, scanned = aws.athena_query(
            sql,
            staging_dir=f"s3://{bucket.name}/{RESULTS_PREFIX}",
            workgroup=workgroup.name,
            database=DATABASE_NAME,
            timeout=self.query_timeout,
        )
        cost = athena_cost_usd(scanned)
        note = f"Athena scanned {human_bytes(scanned)}: ${cost:.6f} at ${ATHENA_USD_PER_TB:.0f} per TB (10 MB minimum)"
        return QueryResult(columns=columns, rows=rows, bytes_scanned=scanned, cost_usd=cost, notes=[note])


class _SetupRun:
    """One `toll setup` on AWS: each step ensures one resource and records it in the ledger."""

    def __init__(self, backend: AwsBackend, aws: AwsClient, ledger: Ledger, on_event: EventCallback) -> None:
        self.backend = backend
        self.aws = aws
        self.ledger = ledger
        self.on_event = on_event
        self.tags = backend.tags
        self.stack = backend.settings.stack
        self.report = SetupReport()

    def _intent(self, kind: str, name: str) -> None:
        """Record a resource before creating it, so teardown finds it even if we stop mid-call."""
        if self.ledger.find(kind, name) is None:
            self.ledger.record(Resource(kind=kind, name=name, settings={"state": "creating"}))

    def _unfinished(self, kind: str, name: str) -> bool:
        """Recorded as "creating" by a setup that stopped: this run finishes creating it."""
        recorded = self.ledger.find(kind, name)
        return recorded is not None and recorded.settings.get("state") == "creating"

    def _done(self, kind: str, name: str, created: bool, **settings: Any) -> Resource:
        previous = self.ledger.find(kind, name)
        resource = Resource(kind=kind, name=name, settings=settings)
        if previous is not None:
            resource.created_at = previous.created_at
        self.ledger.record(resource)
        (self.report.created if created else self.report.existing).append(resource)
        self.on_event(f"{'created' if created else 'exists '} {kind.replace('_', ' ')} {name}")
        return resource

    def bucket(self) -> str:
        aws = self.aws
        recorded = self.ledger.find(KIND_BUCKET)
        name = recorded.name if recorded else self.backend.names.new_bucket(aws.account_id(), aws.region)
        created = recorded is None or self._unfinished(KIND_BUCKET, name)
        if recorded is None or not aws.bucket_exists(name):
            self._intent(KIND_BUCKET, name)
            aws.create_bucket(name)
            created = True
        policy = fill_template("aws", "bucket-policy.json", bucket=name, partition=aws.partition)
        aws.secure_bucket(name, policy=policy, tags=self.tags)
        self._done(
            KIND_BUCKET, name, created,
            arn=f"arn:{aws.partition}:s3:::{name}", region=aws.region, encryption="SSE-S3 (AES256)",
            public_access="blocked", tls_only=True,
        )  # fmt: skip
        return name

    def role(self, bucket: str) -> str:
        aws, name = self.aws, self.backend.names.role
        values = {"account": aws.account_id(), "bucket": bucket, "partition": aws.partition}
        role = aws.get_role(name)
        created = role is None or self._unfinished(KIND_ROLE, name)
        trust = fill_template("aws", "firehose-trust.json", **values)
        if role is None:
            self._intent(KIND_ROLE, name)
            arn = aws.create_role(
                name,
                trust_policy=trust,
                path=ROLE_PATH,
                description=f"toll ({self.stack}): lets Firehose write to {bucket} only",
                tags=self.tags,
            )
        else:
            arn = str(role["Arn"])
            aws.update_trust_policy(name, trust)  # put back what a hand edit may have widened
        aws.put_role_policy(name, ROLE_POLICY_NAME, fill_template("aws", "firehose-policy.json", **values))
        self._done(KIND_ROLE, name, created, arn=arn, assumed_by="firehose.amazonaws.com", policy=ROLE_POLICY_NAME)
        return arn

    def stream(self, bucket: str, role_arn: str, buffer_mb: int, buffer_seconds: int) -> None:
        aws, name = self.aws, STREAM_NAME
        hints = {"SizeInMBs": buffer_mb, "IntervalInSeconds": buffer_seconds}
        stream = aws.describe_delivery_stream(name)
        created = stream is None or self._unfinished(KIND_STREAM, name)
        if stream is None:
            self._intent(KIND_STREAM, name)
            aws.create_delivery_stream(
                name,
                s3_destination={
                    "RoleARN": role_arn,
                    "BucketARN": f"arn:{aws.partition}:s3:::{bucket}",
                    # No prefix: Firehose's own YYYY/MM/DD/HH/ keys, which the table's projection reads.
                    "ErrorOutputPrefix": ERRORS_PREFIX + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
                    "BufferingHints": hints,
                    "CompressionFormat": "UNCOMPRESSED",
                },
                tags=self.tags,
                on_retry=lambda n: self.on_event(f"waiting for the new role to reach Firehose (try {n + 1})"),
            )
        else:
            current = stream["Destinations"][0].get("ExtendedS3DestinationDescription", {}).get("BufferingHints", {})
            if stream["DeliveryStreamStatus"] == "ACTIVE" and current and current != hints:
                aws.update_s3_destination(name, stream, {"BufferingHints": hints})
                self.on_event(f"updated delivery stream {name} buffering to {buffer_mb} MB / {buffer_seconds} s")
                created = True
        self._wait_active(name)
        arn = (aws.describe_delivery_stream(name) or {}).get("DeliveryStreamARN", "")
        self._done(
            KIND_STREAM, name, created, arn=arn, source="Direct PUT", bucket=bucket,
            buffering_mb=buffer_mb, buffering_seconds=buffer_seconds,
        )  # fmt: skip

    def _wait_active(self, name: str) -> None:
        def ready() -> bool:
            stream = self.aws.describe_delivery_stream(name)
            if stream is None:
                raise TollError(f"the delivery stream {name} disappeared while it was being created")
            if stream["DeliveryStreamStatus"].endswith("FAILED"):
                reason = stream.get("FailureDescription", {}).get("Details", "no reason given")
                raise TollError(f"the delivery stream {name} failed to create: {reason}")
            return stream["DeliveryStreamStatus"] == "ACTIVE"

        self.aws.wait_until(
            f"the delivery stream {name}",
            ready,
            interval=5.0,
            on_wait=lambda waited: self.on_event(f"waiting for delivery stream {name} to become ACTIVE ({waited:.0f} s)"),
        )

    def database(self) -> None:
        aws, name = self.aws, DATABASE_NAME
        created = aws.get_database(name) is None
        if created:
            self._intent(KIND_DATABASE, name)
            aws.create_database(name, description="toll: the Analyticon workshop's data", tags=self.tags)
        created = created or self._unfinished(KIND_DATABASE, name)
        self._done(KIND_DATABASE, name, created, arn=aws.glue_database_arn(name))

    def table(self, bucket: str) -> None:
        aws, name = self.aws, f"{DATABASE_NAME}.{TABLE_NAME}"
        recorded = self.ledger.find(KIND_TABLE, name)
        # Projection starts an hour before setup: Firehose names objects by arrival time, never earlier.
        start = (recorded.settings.get("projection_start") if recorded else None) or (
            datetime.now(timezone.utc) - timedelta(hours=1)
        ).strftime("%Y/%m/%d/%H")
        table_input = json.loads(
            Template(read_template("aws", "glue-table.json")).substitute(
                table=TABLE_NAME, bucket=bucket, range_start=start, stack=self.stack
            )
        )
        current = aws.get_table(DATABASE_NAME, TABLE_NAME)
        created = current is None or self._unfinished(KIND_TABLE, name)
        if current is None:
            self._intent(KIND_TABLE, name)
        if current is None or _table_differs(current, table_input):
            aws.put_table(DATABASE_NAME, table_input, exists=current is not None)
            created = True
        columns = {c["Name"]: c["Type"] for c in table_input["StorageDescriptor"]["Columns"]}
        self._done(
            KIND_TABLE, name, created, columns=columns, location=f"s3://{bucket}/", format="csv",
            partitions="projection over yyyy/MM/dd/HH", projection_start=start,
        )  # fmt: skip

    def workgroup(self, bucket: str) -> None:
        aws, name = self.aws, self.backend.names.workgroup
        configuration: dict[str, Any] = {  # Athena's WorkGroupConfiguration
            "ResultConfiguration": {
                "OutputLocation": f"s3://{bucket}/{RESULTS_PREFIX}",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": True,
            "BytesScannedCutoffPerQuery": BYTES_SCANNED_CUTOFF,
        }
        current = aws.get_workgroup(name)
        created = current is None or self._unfinished(KIND_WORKGROUP, name)
        if current is None:
            self._intent(KIND_WORKGROUP, name)
            aws.create_workgroup(
                name, configuration=configuration, description=f"toll ({self.stack}): workshop queries", tags=self.tags
            )
        else:
            config = current.get("Configuration", {})
            if (
                config.get("BytesScannedCutoffPerQuery") != BYTES_SCANNED_CUTOFF
                or config.get("ResultConfiguration", {}).get("OutputLocation")
                != configuration["ResultConfiguration"]["OutputLocation"]
            ):
                aws.update_workgroup(name, configuration=configuration)
                created = True
        self._done(
            KIND_WORKGROUP, name, created, arn=aws.workgroup_arn(name), results=f"s3://{bucket}/{RESULTS_PREFIX}",
            bytes_scanned_cutoff=BYTES_SCANNED_CUTOFF,
        )  # fmt: skip


def _table_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    have = current.get("StorageDescriptor", {})
    want = wanted["StorageDescriptor"]
    return (
        [(c["Name"], c["Type"]) for c in have.get("Columns", [])] != [(c["Name"], c["Type"]) for c in want["Columns"]]
        or have.get("Location") != want["Location"]
        or [k["Name"] for k in current.get("PartitionKeys", [])] != [k["Name"] for k in wanted["PartitionKeys"]]
        or any(current.get("Parameters", {}).get(k) != v for k, v in wanted["Parameters"].items())
    )


def _arn_kind_and_name(arn: str) -> tuple[str, str]:
    """("bucket", "name") style labels for an ARN from the tagging API."""
    parts = arn.split(":", 5)
    service, rest = (parts[2], parts[5]) if len(parts) == 6 else ("", arn)
    if service == "s3":
        return KIND_BUCKET, rest
    if service == "sns":  # arn:aws:sns:region:account:topic
        return "sns topic", rest
    # Resource types are written type/name (most services) or type:name (Lambda).
    separator = "/" if "/" in rest else ":"
    kind, _, name = rest.partition(separator)
    labels = {"deliverystream": KIND_STREAM, "database": KIND_DATABASE, "workgroup": KIND_WORKGROUP, "table": KIND_TABLE}
    return labels.get(kind, f"{service} {kind}".strip()), name or rest
