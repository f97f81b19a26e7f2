"""The workshop's QuickSight step on AWS: `toll --backend aws dashboard --quicksight [--user ARN]`.

What the workshop does by hand in the QuickSight console, done through the API:

    subscription?  describe_account_subscription; none -> UsageError (we never subscribe: it costs money)
    grant          a managed policy <stack>-quicksight-read (path /toll/, tagged toll:stack) attached to
                   QuickSight's service role aws-quicksight-service-role-v0: our workgroup, our table,
                   our bucket, and the workgroup's results prefix (Athena writes results as the caller)
    data source    ATHENA on our workgroup                     (id <stack>-athena)
    dataset        DIRECT_QUERY over <database>.<table>, `date` cast to a timestamp (id <stack>-toll-records)
    analysis       three visuals for the workshop's questions  (id <stack>-workshop)

Each is tagged `toll:stack=<stack>` and written to the ledger as soon as it exists, shared with one
QuickSight user (`--user`, else the caller's own QuickSight user). Teardown deletes analysis, dataset,
data source, then the grant, and only what carries our tag. The definitions live in
`templates/quicksight/`; every call goes through `AwsClient`, which translates AWS's errors and
takes `sleep` so that waits run instantly in tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from tollcli.backends.aws.client import AwsClient, error_code, error_message, tags_dict, tags_list
from tollcli.backends.aws.context import AwsContext
from tollcli.backends.aws.names import RESULTS_PREFIX, TAG_KEY
from tollcli.backends.reports import EventCallback, QuickSightReport, ResourceStatus, TeardownReport
from tollcli.config import DATABASE_NAME, TABLE_NAME
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.state import Ledger, Resource

SERVICE_ROLE = "aws-quicksight-service-role-v0"
POLICY_PATH = "/toll/"
NAMESPACE = "default"
KIND_GRANT = "quicksight-grant"
KIND_DATA_SOURCE = "quicksight-data-source"
KIND_DATASET = "quicksight-dataset"
KIND_ANALYSIS = "quicksight-analysis"
TEARDOWN_ORDER = (KIND_ANALYSIS, KIND_DATASET, KIND_DATA_SOURCE, KIND_GRANT)
QUICKSIGHT_KINDS = frozenset(TEARDOWN_ORDER)
PRICING_URL = "https://aws.amazon.com/quicksight/pricing/"
CONSOLE_URL = "https://quicksight.aws.amazon.com/"

USER_ARN = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:(\d{12}):(user|group)/[^/\s]+/\S+$")
IDENTITY_REGION = re.compile(r"identity region is ([a-z]{2}(?:-[a-z]+)+-\d+)")


def check_user_arn(user_arn: str) -> str:
    """A QuickSight user or group ARN, checked before anything is created."""
    value = user_arn.strip()
    if not USER_ARN.match(value):
        raise UsageError(
            f"--user {user_arn!r} is not a QuickSight user ARN: write it as "
            "arn:aws:quicksight:<identity region>:<account>:user/default/<name>"
        )
    return value


def no_subscription_message(region: str) -> str:
    return (
        f"this AWS account has no QuickSight subscription in {region}, and toll never subscribes for you: "
        f"sign up in the console ({CONSOLE_URL}, choose Sign up, pick region {region}); it is billed per user and month "
        f"(an author from about $20, see {PRICING_URL}) until you unsubscribe; then run this again, "
        "or use the free offline `toll dashboard`"
    )


def analysis_url(region: str, analysis_id: str) -> str:
    """Where the analysis opens in the console."""
    return f"https://{region}.quicksight.aws.amazon.com/sn/analyses/{analysis_id}"


def fill_template(name: str, **values: str) -> dict[str, Any]:
    """A shipped definition (templates/quicksight/<name>.json) with its placeholders filled."""
    return json.loads(Template(read_template("quicksight", f"{name}.json")).substitute(values))


def permissions(kind: str, principal: str) -> list[dict[str, Any]]:
    """The owner actions for `kind` (data_source, dataset, analysis), granted to `principal`."""
    return [{"Principal": principal, "Actions": fill_template("permissions")[kind]}]


@dataclass(frozen=True)
class QuickSightTarget:
    """What `toll setup` made on AWS and the QuickSight resources build on."""

    stack: str
    bucket: str
    workgroup: str
    database: str
    table: str
    results_prefix: str = "athena-results/"

    @property
    def data_source_id(self) -> str:
        return f"{self.stack}-athena"

    @property
    def dataset_id(self) -> str:
        return f"{self.stack}-toll-records"

    @property
    def analysis_id(self) -> str:
        return f"{self.stack}-workshop"

    @property
    def policy_name(self) -> str:
        return f"{self.stack}-quicksight-read"

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}


class QuickSight:
    """Provisions, reports on and removes the QuickSight step; `aws` makes every call."""

    def __init__(
        self,
        aws: AwsClient,
        target: QuickSightTarget,
        ledger: Ledger,
        *,
        on_event: EventCallback = lambda _m: None,
        wait_seconds: float = 300.0,
        identity_client: Callable[[str], AwsClient] | None = None,
    ) -> None:
        self.aws = aws
        self.target = target
        self.ledger = ledger
        self.on_event = on_event
        self.wait_seconds = wait_seconds
        # QuickSight users live in the account's identity region, which may not be ours.
        self.identity_client = identity_client or (lambda region: AwsClient(region=region, profile=aws.profile, sleep=aws.sleep))

    # helpers --------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        return self.aws.account_id()

    def _qs(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        return self.aws.call("quicksight", operation, what, AwsAccountId=self.account, **params)

    def _qs_describe(self, operation: str, what: str, **params: Any) -> dict[str, Any] | None:
        return self.aws.describe("quicksight", operation, what, AwsAccountId=self.account, **params)

    def _record(self, report: QuickSightReport, kind: str, name: str, created: bool, **settings: Any) -> Resource:
        resource = self.ledger.record(Resource(kind=kind, name=name, settings=settings))
        (report.created if created else report.existing).append(resource)
        self.on_event(f"{'created' if created else 'exists '} {kind} {name}")
        return resource

    def _check_ours(self, arn: str, what: str) -> None:
        """Refuse to adopt a resource with our id that another stack (or a person) made."""
        found = self.aws.describe("quicksight", "list_tags_for_resource", f"read the tags of {what}", ResourceArn=arn)
        if found is not None and tags_dict(found.get("Tags")).get(TAG_KEY) != self.target.stack:
            raise TollError(f"{what} exists but is not tagged {TAG_KEY}={self.target.stack}: remove or rename it by hand")

    def _wait_status(self, what: str, status: Callable[[], tuple[str, str]]) -> None:
        """Poll until QuickSight reports *_SUCCESSFUL; a *_FAILED status is a TollError with its reason."""
        outcome: dict[str, str] = {}

        def settled() -> bool:
            state, reason = status()
            outcome.update(state=state, reason=reason)
            return not state.endswith("_IN_PROGRESS")

        self.aws.wait_until(what, settled, timeout=self.wait_seconds, interval=2.0)
        if outcome["state"].endswith("_FAILED"):
            raise TollError(f"QuickSight could not create {what}: {outcome['reason'] or outcome['state']}")

    def _share(self, resource: Resource, operation: str, id_param: str, kind: str, principal: str) -> None:
        """Grant `principal` on a resource made by an earlier run for someone else."""
        shared = list(resource.settings.get("shared_with", []))
        if principal in shared:
            return
        self._qs(operation, f"share {resource.name} with {principal}", GrantPermissions=permissions(kind, principal),
                 **{id_param: resource.name})  # fmt: skip
        resource.settings["shared_with"] = [*shared, principal]
        self.ledger.record(resource)

    # plan: checks that create nothing ---------------------------------------------------------
    def check_subscription(self) -> dict[str, Any]:
        """The account's QuickSight subscription, or a UsageError saying how to get one."""
        found = self._qs_describe("describe_account_subscription", "check the account's QuickSight subscription")
        info = (found or {}).get("AccountInfo") or {}
        state = str(info.get("AccountSubscriptionStatus") or "")
        if found is None or "UNSUBSCRIBED" in state or state.endswith("FAILED"):
            raise UsageError(no_subscription_message(self.aws.region))
        if "PROGRESS" in state:
            raise UsageError(f"the account's QuickSight sign-up is still in progress ({state}): run this again in a few minutes")
        return info

    def resolve_principal(self, user_arn: str | None) -> str:
        """The given user (same account), else the caller's own QuickSight user, else a UsageError."""
        if user_arn:
            match = USER_ARN.match(user_arn)
            if match and match.group(1) != self.account:
                raise UsageError(f"--user {user_arn} belongs to account {match.group(1)}, not {self.account}")
            return user_arn
        identity = self.aws.call("sts", "get_caller_identity", "check your AWS identity (sts:GetCallerIdentity)")
        caller = str(identity.get("Arn", ""))
        user_name = quicksight_user_name(caller)
        need_user = (
            f"pass --user with the QuickSight user ARN to share the analysis with "
            f"(list them: aws quicksight list-users --aws-account-id {self.account} --namespace {NAMESPACE} "
            "--region <QuickSight identity region>)"
        )
        if user_name is None:
            raise UsageError(f"{caller} has no QuickSight user of its own: {need_user}")
        user = self._describe_user(self.aws, user_name)
        if user is None:
            raise UsageError(f"{caller} has no QuickSight user named {user_name}: {need_user}")
        return str(user["Arn"])

    def _describe_user(self, aws: AwsClient, user_name: str, *, redirected: bool = False) -> dict[str, Any] | None:
        identity_region = None
        with aws.translate(f"look up the QuickSight user {user_name}"):
            try:
                return aws.client("quicksight").describe_user(UserName=user_name, AwsAccountId=self.account, Namespace=NAMESPACE)[
                    "User"
                ]
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                hint = IDENTITY_REGION.search(error_message(exc))
                if hint is None or redirected:
                    raise
                identity_region = hint.group(1)
        # Users live in the account's identity region, which QuickSight names: ask there, once.
        return self._describe_user(self.identity_client(identity_region), user_name, redirected=True)

    # act: create what is missing, record it at once --------------------------------------------
    def provision(self, user_arn: str | None = None) -> QuickSightReport:
        """Check the subscription and the user, then grant, data source, dataset, analysis; idempotent."""
        if user_arn is not None:
            user_arn = check_user_arn(user_arn)
        self.check_subscription()
        principal = self.resolve_principal(user_arn)
        report = QuickSightReport(principal=principal)
        self.ensure_grant(report)
        data_source_arn = self.ensure_data_source(report, principal)
        dataset_arn = self.ensure_dataset(report, data_source_arn, principal)
        self.ensure_analysis(report, dataset_arn, principal)
        report.analysis_url = analysis_url(self.aws.region, self.target.analysis_id)
        self.ledger.meta["quicksight"] = {"analysis_url": report.analysis_url, "shared_with": principal}
        self.ledger.save()
        return report

    def policy_arn(self) -> str:
        return f"arn:{self.aws.partition}:iam::{self.account}:policy{POLICY_PATH}{self.target.policy_name}"

    def policy_document(self) -> str:
        text = read_template("quicksight", "service-role-policy.json")
        values = {
            "partition": self.aws.partition,
            "region": self.aws.region,
            "account": self.account,
            "bucket": self.target.bucket,
            "workgroup": self.target.workgroup,
            "database": self.target.database,
            "table": self.target.table,
            "results_prefix": self.target.results_prefix,
        }
        return json.dumps(json.loads(Template(text).substitute(values)))

    def ensure_grant(self, report: QuickSightReport) -> str:
        """Our read policy, attached to QuickSight's service role (which QuickSight made, not us)."""
        if self.aws.get_role(SERVICE_ROLE) is None:
            raise UsageError(
                f"QuickSight's service role {SERVICE_ROLE} is missing: in QuickSight open Manage QuickSight > "
                "Security & permissions and save the AWS resource access settings once, then run this again"
            )
        arn, name, document = self.policy_arn(), self.target.policy_name, self.policy_document()
        found = self.aws.describe("iam", "get_policy", f"look up the policy {name}", PolicyArn=arn)
        if found is None:
            self.aws.call(
                "iam", "create_policy", f"create the policy {name}",
                PolicyName=name, Path=POLICY_PATH, PolicyDocument=document, Tags=tags_list(self.target.tags),
                Description=f"toll stack {self.target.stack}: QuickSight reads its bucket, table and Athena workgroup",
            )  # fmt: skip
        elif tags_dict(found["Policy"].get("Tags")).get(TAG_KEY) != self.target.stack:
            raise TollError(f"the IAM policy {arn} exists but is not tagged {TAG_KEY}={self.target.stack}: remove it by hand")
        else:
            self._update_policy(arn, found["Policy"], document)
        self.aws.call("iam", "attach_role_policy", f"attach {name} to {SERVICE_ROLE}", RoleName=SERVICE_ROLE, PolicyArn=arn)
        self._record(report, KIND_GRANT, arn, found is None, role=SERVICE_ROLE, policy=name)
        return arn

    def _update_policy(self, arn: str, policy: dict[str, Any], document: str) -> None:
        """A new default version when the shipped document changed (IAM keeps at most five)."""
        version = self.aws.call("iam", "get_policy_version", f"read {arn}", PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
            "PolicyVersion"
        ]
        current = version["Document"]
        if isinstance(current, str):
            current = json.loads(unquote(current))
        if current == json.loads(document):
            return
        self._delete_old_policy_versions(arn)
        self.aws.call("iam", "create_policy_version", f"update {arn}", PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)

    def _delete_old_policy_versions(self, arn: str) -> None:
        versions = self.aws.call("iam", "list_policy_versions", f"list the versions of {arn}", PolicyArn=arn)["Versions"]
        for version in versions:
            if not version.get("IsDefaultVersion"):
                self.aws.call(
                    "iam", "delete_policy_version", f"delete a version of {arn}", PolicyArn=arn, VersionId=version["VersionId"]
                )

    def ensure_data_source(self, report: QuickSightReport, principal: str) -> str:
        """An Athena data source on our workgroup; a failed one (IAM not yet applied) is retried."""
        source_id = self.target.data_source_id
        what = f"the QuickSight data source {source_id}"
        parameters = {"AthenaParameters": {"WorkGroup": self.target.workgroup}}
        name = f"{self.target.stack}: Athena workgroup {self.target.workgroup}"
        found = self._qs_describe("describe_data_source", f"look up {what}", DataSourceId=source_id)
        if found is None:
            arn = str(
                self._qs(
                    "create_data_source", f"create {what}",
                    DataSourceId=source_id, Name=name, Type="ATHENA", DataSourceParameters=parameters,
                    Permissions=permissions("data_source", principal), Tags=tags_list(self.target.tags),
                )["Arn"]
            )  # fmt: skip
            self._record(report, KIND_DATA_SOURCE, source_id, True, arn=arn, shared_with=[principal])
        else:
            arn = str(found["DataSource"]["Arn"])
            self._check_ours(arn, what)
            resource = self._record(
                report, KIND_DATA_SOURCE, source_id, False, **self._known_settings(KIND_DATA_SOURCE, source_id, arn)
            )
            if str(found["DataSource"].get("Status", "")).endswith("_FAILED"):
                self.on_event(f"retrying {what}, which failed before")
                self._qs(
                    "update_data_source", f"retry {what}", DataSourceId=source_id, Name=name, DataSourceParameters=parameters
                )
            self._share(resource, "update_data_source_permissions", "DataSourceId", "data_source", principal)

        def status() -> tuple[str, str]:
            source = self._qs("describe_data_source", f"look up {what}", DataSourceId=source_id)["DataSource"]
            reason = (source.get("ErrorInfo") or {}).get("Message", "")
            if reason:
                reason += f" (QuickSight reaches Athena as {SERVICE_ROLE}; IAM changes can take a minute: run this again)"
            return str(source.get("Status", "CREATION_SUCCESSFUL")), reason

        self._wait_status(what, status)
        return arn

    def ensure_dataset(self, report: QuickSightReport, data_source_arn: str, principal: str) -> str:
        """The direct-query dataset over the workshop's table (QuickSight creates it synchronously)."""
        dataset_id = self.target.dataset_id
        what = f"the QuickSight dataset {dataset_id}"
        found = self._qs_describe("describe_data_set", f"look up {what}", DataSetId=dataset_id)
        if found is not None:
            arn = str(found["DataSet"]["Arn"])
            self._check_ours(arn, what)
            resource = self._record(
                report, KIND_DATASET, dataset_id, False, **self._known_settings(KIND_DATASET, dataset_id, arn)
            )
            self._share(resource, "update_data_set_permissions", "DataSetId", "dataset", principal)
            return arn
        definition = fill_template(
            "dataset", data_source_arn=data_source_arn, database=self.target.database, table=self.target.table
        )
        arn = str(
            self._qs(
                "create_data_set", f"create {what}",
                DataSetId=dataset_id, Name=f"{self.target.stack}: {self.target.database}.{self.target.table}",
                Permissions=permissions("dataset", principal), Tags=tags_list(self.target.tags), **definition,
            )["Arn"]
        )  # fmt: skip
        self._record(report, KIND_DATASET, dataset_id, True, arn=arn, shared_with=[principal])
        return arn

    def ensure_analysis(self, report: QuickSightReport, dataset_arn: str, principal: str) -> str:
        """The analysis with the workshop's three visuals, from templates/quicksight/."""
        analysis_id = self.target.analysis_id
        what = f"the QuickSight analysis {analysis_id}"
        found = self._qs_describe("describe_analysis", f"look up {what}", AnalysisId=analysis_id)
        if found is not None and found["Analysis"].get("Status") != "DELETED":
            arn = str(found["Analysis"]["Arn"])
            self._check_ours(arn, what)
            resource = self._record(
                report, KIND_ANALYSIS, analysis_id, False, **self._known_settings(KIND_ANALYSIS, analysis_id, arn)
            )
            self._share(resource, "update_analysis_permissions", "AnalysisId", "analysis", principal)
        else:
            arn = str(
                self._qs(
                    "create_analysis", f"create {what}",
                    AnalysisId=analysis_id, Name=f"{self.target.stack}: Analyticon toll-road workshop",
                    Definition=fill_template("analysis-definition", dataset_arn=dataset_arn),
                    Permissions=permissions("analysis", principal), Tags=tags_list(self.target.tags),
                )["Arn"]
            )  # fmt: skip
            self._record(report, KIND_ANALYSIS, analysis_id, True, arn=arn, shared_with=[principal],
                         url=analysis_url(self.aws.region, analysis_id))  # fmt: skip

        def status() -> tuple[str, str]:
            analysis = self._qs("describe_analysis", f"look up {what}", AnalysisId=analysis_id)["Analysis"]
            reason = "; ".join(f"{e.get('Type')}: {e.get('Message')}" for e in analysis.get("Errors") or [])
            return str(analysis.get("Status", "CREATION_SUCCESSFUL")), reason

        self._wait_status(what, status)
        return arn

    def _known_settings(self, kind: str, name: str, arn: str) -> dict[str, Any]:
        known = self.ledger.find(kind, name)
        settings = dict(known.settings) if known else {}
        settings["arn"] = arn
        if kind == KIND_ANALYSIS:
            settings["url"] = analysis_url(self.aws.region, name)
        return settings

    # status ---------------------------------------------------------------------------------
    def status(self) -> list[ResourceStatus]:
        """Each QuickSight resource in the ledger with its live state; the analysis with its URL."""
        return [ResourceStatus(r.kind, r.name, *self.live_state(r)) for r in self.ledger.resources if r.kind in QUICKSIGHT_KINDS]

    def live_state(self, resource: Resource) -> tuple[str, dict[str, Any]]:
        """(state, details) of one QuickSight resource: present (QuickSight's status when not settled) or missing."""
        kind, name = resource.kind, resource.name
        if kind == KIND_GRANT:
            found = self.aws.describe("iam", "get_policy", f"look up {name}", PolicyArn=name)
            return ("missing" if found is None else "present"), {"attached to": resource.settings.get("role", SERVICE_ROLE)}
        if kind == KIND_DATA_SOURCE:
            found = self._qs_describe("describe_data_source", f"look up the data source {name}", DataSourceId=name)
            return _settled(found and found["DataSource"]), {"workgroup": self.target.workgroup}
        if kind == KIND_DATASET:
            found = self._qs_describe("describe_data_set", f"look up the dataset {name}", DataSetId=name)
            return _settled(found and found["DataSet"]), {"table": f"{self.target.database}.{self.target.table}"}
        found = self._qs_describe("describe_analysis", f"look up the analysis {name}", AnalysisId=name)
        details = {
            "url": analysis_url(self.aws.region, name),
            "shared with": ", ".join(resource.settings.get("shared_with", [])),
            "cost": "QuickSight bills its users monthly; each view runs Athena queries ($5/TB scanned)",
        }
        return _settled(found and found["Analysis"]), details

    # teardown -------------------------------------------------------------------------------
    def teardown(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Analysis, dataset, data source, then the grant: (removed, failed)."""
        removed: list[str] = []
        failed: list[tuple[str, str]] = []
        for kind in TEARDOWN_ORDER:
            for resource in [r for r in self.ledger.resources if r.kind == kind]:
                label = f"{kind} {resource.name}"
                try:
                    self.remove(resource)
                except TollError as exc:
                    failed.append((label, exc.message))
                    continue
                self.ledger.forget(resource.kind, resource.name)
                removed.append(label)
                self.on_event(f"removed {label}")
        if not failed and "quicksight" in self.ledger.meta:
            self.ledger.meta.pop("quicksight")
            self.ledger.save()
        return removed, failed

    def remove(self, resource: Resource) -> None:
        """Delete one resource; one that is already gone counts as removed."""
        kind, name = resource.kind, resource.name
        if kind == KIND_GRANT:
            self._remove_grant(name, str(resource.settings.get("role", SERVICE_ROLE)))
            return
        what = f"the QuickSight {kind.removeprefix('quicksight-').replace('-', ' ')} {name}"
        arn = resource.settings.get("arn")
        if arn:
            self._check_ours(str(arn), what)
        if kind == KIND_ANALYSIS:  # without recovery, so that the id is free for the next run at once
            self._qs_describe("delete_analysis", f"delete {what}", AnalysisId=name, ForceDeleteWithoutRecovery=True)
        elif kind == KIND_DATASET:
            self._qs_describe("delete_data_set", f"delete {what}", DataSetId=name)
        elif kind == KIND_DATA_SOURCE:
            self._qs_describe("delete_data_source", f"delete {what}", DataSourceId=name)

    def _remove_grant(self, arn: str, role: str) -> None:
        found = self.aws.describe("iam", "get_policy", f"look up the policy {arn}", PolicyArn=arn)
        if found is None:
            return
        if tags_dict(found["Policy"].get("Tags")).get(TAG_KEY) != self.target.stack:
            raise TollError(f"the IAM policy {arn} is not tagged {TAG_KEY}={self.target.stack}; left alone")
        self.aws.describe("iam", "detach_role_policy", f"detach {arn} from {role}", RoleName=role, PolicyArn=arn)
        self._delete_old_policy_versions(arn)
        self.aws.describe("iam", "delete_policy", f"delete the policy {arn}", PolicyArn=arn)


def _settled(described: dict[str, Any] | None) -> str:
    """ "present" once QuickSight has finished with a resource, else its status ("missing" when gone)."""
    if not described or described.get("Status") == "DELETED":
        return "missing"
    status = str(described.get("Status") or "")
    return "present" if not status or status.endswith("_SUCCESSFUL") else status


def quicksight_user_name(caller_arn: str) -> str | None:
    """The QuickSight user name an IAM identity signs in as: the IAM user's name, or role/session."""
    parts = caller_arn.split(":", 5)
    if len(parts) < 6:
        return None
    resource = parts[5]
    if resource.startswith("user/"):
        return resource.rsplit("/", 1)[-1]
    if resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        if len(pieces) >= 3:
            return f"{pieces[1]}/{pieces[2]}"
    return None  # the root user, federated users: they must name a QuickSight user


def has_quicksight_resources(ledger: Ledger | None) -> bool:
    return ledger is not None and any(r.kind in QUICKSIGHT_KINDS for r in ledger.resources)


# --- as the AWS backend calls it ----------------------------------------------------------------------
def _backend_quicksight(ctx: AwsContext, on_event: EventCallback) -> QuickSight:
    """The QuickSight step over what `toll setup` recorded: the bucket, workgroup and table."""
    target = QuickSightTarget(
        stack=ctx.stack,
        bucket=ctx.bucket or "",
        workgroup=ctx.workgroup or "",
        database=DATABASE_NAME,
        table=TABLE_NAME,
        results_prefix=RESULTS_PREFIX,
    )
    return QuickSight(ctx.aws, target, ctx.ledger, on_event=on_event)


def publish_on_backend(ctx: AwsContext, *, user_arn: str | None, on_event: EventCallback) -> QuickSightReport:
    """`AwsBackend.publish_quicksight` (the user ARN already checked): the subscription, then create."""
    quicksight = _backend_quicksight(ctx, on_event)
    if not quicksight.target.bucket or not quicksight.target.workgroup:
        raise UsageError("the bucket or the Athena workgroup is missing: run `toll --backend aws setup` first")
    return quicksight.provision(user_arn)


def live_state_on_backend(ctx: AwsContext, resource: Resource) -> tuple[str, dict[str, Any]]:
    """`toll status` on AWS: one QuickSight resource's live state (the analysis with its URL)."""
    return _backend_quicksight(ctx, lambda _m: None).live_state(resource)


def teardown_on_backend(ctx: AwsContext, report: TeardownReport, on_event: EventCallback) -> None:
    """`toll teardown` on AWS: analysis, dataset, data source, grant; before the stack they read."""
    if not has_quicksight_resources(ctx.ledger):
        return
    removed, failed = _backend_quicksight(ctx, on_event).teardown()
    report.removed.extend(removed)
    report.failed.extend(failed)
