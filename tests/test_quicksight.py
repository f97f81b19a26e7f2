"""The QuickSight step: moto where it implements the call (IAM, STS, users, data sources, dataset
creation), botocore's Stubber where it does not (subscription, analyses, dataset describe/delete).

Stubber checks every request against the real QuickSight API model before answering, so a definition
with a wrong field fails here as it would on AWS. No test reaches AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tollcli.backends.aws import AwsBackend
from tollcli.backends.aws.client import TAG_KEY, AwsClient
from tollcli.backends.aws.quicksight import (
    KIND_ANALYSIS,
    KIND_DATA_SOURCE,
    KIND_DATASET,
    KIND_GRANT,
    SERVICE_ROLE,
    QuickSight,
    QuickSightTarget,
    check_user_arn,
    quicksight_user_name,
)
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.records import COLUMNS
from tollcli.state import Ledger

ACCOUNT = "123456789012"  # moto's account
REGION = "us-west-2"
USER_ARN = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:user/default/moto"
TARGET = QuickSightTarget(
    stack="toll", bucket="toll-abc123", workgroup="toll", database="toll", table="lab_toll_data_stream",
    results_prefix="athena-results/",
)  # fmt: skip
ANALYSIS_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:analysis/toll-workshop"
DATASET_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/toll-toll-records"
OUR_TAGS = [{"Key": TAG_KEY, "Value": "toll"}]


class RoutedClient:
    """One QuickSight client: the calls `stubbed(operation, params)` picks go to a Stubber, the rest
    to moto. Every call is logged as (operation, "stub"|"moto") so tests can check the order."""

    def __init__(self, moto: Any, stub: Any, stubbed: Callable[[str, dict[str, Any]], bool]) -> None:
        self.moto, self.stub, self.stubbed = moto, stub, stubbed
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            where = "stub" if self.stubbed(operation, params) else "moto"
            self.calls.append((operation, where))
            return getattr(self.stub if where == "stub" else self.moto, operation)(**params)

        return call


class TestAws(AwsClient):
    """The real AwsClient (error translation, waits) with our QuickSight client and no sleeping."""

    __test__ = False

    def __init__(self, quicksight: Any) -> None:
        super().__init__(region=REGION, sleep=lambda _s: None)
        self.quicksight = quicksight

    def client(self, service: str) -> Any:
        return self.quicksight if service == "quicksight" else super().client(service)


MOTO_HAS_NO = {
    "describe_account_subscription",
    "describe_data_set",
    "delete_data_set",
    "create_analysis",
    "describe_analysis",
    "delete_analysis",
    "update_data_source_permissions",
    "update_data_set_permissions",
    "update_analysis_permissions",
}


def stubbed_where_moto_cannot(operation: str, params: dict[str, Any]) -> bool:
    if operation == "list_tags_for_resource":  # moto knows the tags of sources and datasets only
        return ":analysis/" in params["ResourceArn"]
    return operation in MOTO_HAS_NO


@pytest.fixture
def moto_account() -> Iterator[None]:
    """An account as QuickSight's sign-up leaves it: the service role and the caller's QuickSight user."""
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName=SERVICE_ROLE, Path="/service-role/", AssumeRolePolicyDocument="{}")
        boto3.client("quicksight", region_name=REGION).register_user(
            AwsAccountId=ACCOUNT, Namespace="default", IdentityType="IAM", Email="moto@example.com",
            UserRole="AUTHOR", UserName="moto", IamArn=f"arn:aws:iam::{ACCOUNT}:user/moto",
        )  # fmt: skip
        yield


@pytest.fixture
def stub() -> Iterator[Stubber]:
    stubber = Stubber(boto3.client("quicksight", region_name=REGION))
    with stubber:
        yield stubber


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(path=tmp_path / "ledger.json", backend="aws", stack="toll")


def routed(stub: Stubber) -> RoutedClient:
    return RoutedClient(boto3.client("quicksight", region_name=REGION), stub.client, stubbed_where_moto_cannot)


def expect_subscription(stub: Stubber) -> None:
    stub.add_response(
        "describe_account_subscription",
        {"AccountInfo": {"AccountName": "workshop", "Edition": "ENTERPRISE", "AccountSubscriptionStatus": "ACCOUNT_CREATED"},
         "Status": 200},
        {"AwsAccountId": ACCOUNT},
    )  # fmt: skip


def expect_missing(stub: Stubber, operation: str, **params: str) -> None:
    stub.add_client_error(
        operation, "ResourceNotFoundException", "not found", 404, expected_params={"AwsAccountId": ACCOUNT, **params}
    )


def field_well_columns(visual: dict[str, Any]) -> dict[str, list[str]]:
    """{well name: [column names]} of one visual's aggregated field wells."""
    config = next(iter(visual.values()))["ChartConfiguration"]["FieldWells"]
    wells = next(iter(config.values()))
    return {well: [next(iter(field.values()))["Column"]["ColumnName"] for field in fields] for well, fields in wells.items()}


def visuals_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {next(iter(v.values()))["VisualId"]: v for v in definition["Sheets"][0]["Visuals"]}


# --- the definitions ---------------------------------------------------------------------------------
def test_definitions_name_our_columns_and_answer_the_three_questions() -> None:
    dataset = json.loads(read_template("quicksight", "dataset.json"))
    table = dataset["PhysicalTableMap"]["toll-records"]["RelationalTable"]
    assert dataset["ImportMode"] == "DIRECT_QUERY"
    assert [c["Name"] for c in table["InputColumns"]] == list(COLUMNS) == ["date", "toll", "user"]
    assert (table["Schema"], table["Name"]) == ("${database}", "${table}")

    definition = json.loads(read_template("quicksight", "analysis-definition.json"))
    visuals = visuals_of(definition)
    assert set(visuals) == {"station-totals", "top-plates", "stations-over-time"}
    assert "BarChartVisual" in visuals["station-totals"] and "BarChartVisual" in visuals["top-plates"]
    assert "LineChartVisual" in visuals["stations-over-time"]
    assert field_well_columns(visuals["station-totals"]) == {"Category": ["toll"], "Values": ["toll"]}
    assert field_well_columns(visuals["top-plates"]) == {"Category": ["user"], "Values": ["user"]}
    assert field_well_columns(visuals["stations-over-time"]) == {"Category": ["date"], "Values": ["toll"], "Colors": ["toll"]}
    line = visuals["stations-over-time"]["LineChartVisual"]["ChartConfiguration"]["FieldWells"]["LineChartAggregatedFieldWells"]
    assert line["Category"][0]["DateDimensionField"]["DateGranularity"] == "MINUTE"
    titles = " ".join(next(iter(v.values()))["Title"]["FormatText"]["PlainText"] for v in visuals.values())
    for question in ("busiest toll station", "most active user by license plate", "reporting less traffic"):
        assert question in titles
    # the date column becomes a timestamp in the dataset, so the line chart can bucket it by minute
    cast = dataset["LogicalTableMap"]["toll-records-typed"]["DataTransforms"][0]["CastColumnTypeOperation"]
    assert (cast["ColumnName"], cast["NewColumnType"]) == ("date", "DATETIME")
    layout = definition["Sheets"][0]["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    assert {e["ElementId"] for e in layout} == set(visuals)


def test_user_arn_is_checked_before_any_call() -> None:
    assert check_user_arn(f" {USER_ARN} ") == USER_ARN
    for bad in ("alice", f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:quicksight:us-east-1:{ACCOUNT}:user/alice"):
        with pytest.raises(UsageError, match="not a QuickSight user ARN"):
            check_user_arn(bad)
    assert quicksight_user_name(f"arn:aws:iam::{ACCOUNT}:user/team/alice") == "alice"
    assert quicksight_user_name(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice@example.com") == "Admin/alice@example.com"
    assert quicksight_user_name(f"arn:aws:iam::{ACCOUNT}:root") is None


# --- the whole sequence ------------------------------------------------------------------------------
def test_provision_then_teardown_in_order(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    client = routed(stub)
    events: list[str] = []
    quicksight = QuickSight(TestAws(client), TARGET, ledger, on_event=events.append)

    expect_subscription(stub)
    expect_missing(stub, "describe_data_set", DataSetId="toll-toll-records")
    expect_missing(stub, "describe_analysis", AnalysisId="toll-workshop")
    stub.add_response(
        "create_analysis",
        {"Arn": ANALYSIS_ARN, "AnalysisId": "toll-workshop", "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202},
        {
            "AwsAccountId": ACCOUNT, "AnalysisId": "toll-workshop", "Name": ANY,
            "Definition": ANY, "Permissions": ANY, "Tags": OUR_TAGS,
        },
    )  # fmt: skip
    for state in ("CREATION_IN_PROGRESS", "CREATION_SUCCESSFUL"):
        stub.add_response(
            "describe_analysis",
            {"Analysis": {"AnalysisId": "toll-workshop", "Arn": ANALYSIS_ARN, "Status": state}, "Status": 200},
            {"AwsAccountId": ACCOUNT, "AnalysisId": "toll-workshop"},
        )

    report = quicksight.provision()

    stub.assert_no_pending_responses()
    principal = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/moto"  # the caller's own QuickSight user
    assert report.principal == principal
    assert report.analysis_url == f"https://{REGION}.quicksight.aws.amazon.com/sn/analyses/toll-workshop"
    assert [(r.kind, r.name) for r in ledger.resources] == [
        (KIND_GRANT, f"arn:aws:iam::{ACCOUNT}:policy/toll/toll-quicksight-read"),
        (KIND_DATA_SOURCE, "toll-athena"),
        (KIND_DATASET, "toll-toll-records"),
        (KIND_ANALYSIS, "toll-workshop"),
    ]
    assert Ledger.load(ledger.path).meta["quicksight"]["analysis_url"] == report.analysis_url

    # what moto holds: the grant is tagged, attached, and reaches only our bucket, table and workgroup
    iam = boto3.client("iam", region_name=REGION)
    policy_arn = ledger.resources[0].name
    attached = iam.list_attached_role_policies(RoleName=SERVICE_ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy_arn]
    assert iam.get_policy(PolicyArn=policy_arn)["Policy"]["Tags"] == OUR_TAGS
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId="v1")["PolicyVersion"]["Document"]
    resources = [
        arn for s in document["Statement"] for arn in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert "*" not in resources
    ours = ("workgroup/toll", ":catalog", "database/toll", "table/toll/lab_toll_data_stream")
    assert all(TARGET.bucket in arn or arn.endswith(ours) for arn in resources)
    assert f"arn:aws:s3:::{TARGET.bucket}/athena-results/*" in resources
    qs = boto3.client("quicksight", region_name=REGION)
    source = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="toll-athena")["DataSource"]
    assert source["Type"] == "ATHENA"
    assert source["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "toll"}}
    assert qs.list_tags_for_resource(ResourceArn=source["Arn"])["Tags"] == OUR_TAGS
    dataset_arn = ledger.find(KIND_DATASET).settings["arn"]
    assert qs.list_tags_for_resource(ResourceArn=dataset_arn)["Tags"] == OUR_TAGS

    # status lists them with the URL
    stub.add_response("describe_data_set", {"DataSet": {"Arn": dataset_arn, "DataSetId": "toll-toll-records"}, "Status": 200})
    stub.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})
    statuses = {s.kind: s for s in quicksight.status()}
    assert statuses[KIND_ANALYSIS].details["url"] == report.analysis_url
    assert [statuses[k].state for k in (KIND_GRANT, KIND_DATA_SOURCE, KIND_DATASET, KIND_ANALYSIS)] == ["present"] * 4
    assert statuses[KIND_ANALYSIS].details["shared with"] == principal

    # teardown: analysis, dataset, data source, grant
    client.calls.clear()
    stub.add_response("list_tags_for_resource", {"Tags": OUR_TAGS, "Status": 200}, {"ResourceArn": ANALYSIS_ARN})
    stub.add_response(
        "delete_analysis",
        {"Arn": ANALYSIS_ARN, "AnalysisId": "toll-workshop", "Status": 200},
        {"AwsAccountId": ACCOUNT, "AnalysisId": "toll-workshop", "ForceDeleteWithoutRecovery": True},
    )
    stub.add_response(
        "delete_data_set",
        {"Arn": dataset_arn, "DataSetId": "toll-toll-records", "Status": 200},
        {"AwsAccountId": ACCOUNT, "DataSetId": "toll-toll-records"},
    )
    removed, failed = quicksight.teardown()

    stub.assert_no_pending_responses()
    assert failed == []
    assert [label.split()[0] for label in removed] == [KIND_ANALYSIS, KIND_DATASET, KIND_DATA_SOURCE, KIND_GRANT]
    assert [op for op, _ in client.calls if op.startswith("delete_")] == [
        "delete_analysis",
        "delete_data_set",
        "delete_data_source",
    ]
    assert ledger.resources == [] and "quicksight" not in ledger.meta
    assert iam.list_attached_role_policies(RoleName=SERVICE_ROLE)["AttachedPolicies"] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert qs.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"] == []
    assert iam.get_role(RoleName=SERVICE_ROLE)["Role"]["RoleName"] == SERVICE_ROLE  # QuickSight's role stays

    # a second teardown has nothing left to do
    assert quicksight.teardown() == ([], [])


def test_no_subscription_creates_nothing(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    stub.add_client_error(
        "describe_account_subscription",
        "ResourceNotFoundException",
        "Account not found",
        404,
        expected_params={"AwsAccountId": ACCOUNT},
    )
    quicksight = QuickSight(TestAws(routed(stub)), TARGET, ledger)
    with pytest.raises(UsageError) as raised:
        quicksight.provision(USER_ARN)
    message = raised.value.message
    assert "no QuickSight subscription" in message and "never subscribes" in message
    assert "Sign up" in message and "$20" in message and REGION in message
    stub.assert_no_pending_responses()  # and Stubber would have refused any further QuickSight call
    assert ledger.resources == []
    assert boto3.client("iam", region_name=REGION).list_policies(Scope="Local")["Policies"] == []


def test_an_unresolvable_caller_must_name_a_user(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    boto3.client("quicksight", region_name=REGION).delete_user(UserName="moto", AwsAccountId=ACCOUNT, Namespace="default")
    expect_subscription(stub)
    with pytest.raises(UsageError, match=r"no QuickSight user named moto: pass --user"):
        QuickSight(TestAws(routed(stub)), TARGET, ledger).provision()
    assert ledger.resources == []


def test_users_are_looked_up_in_the_identity_region(ledger: Ledger) -> None:
    """QuickSight answers user calls only in the account's identity region; we follow its hint once."""
    with mock_aws():
        here = Stubber(boto3.client("quicksight", region_name=REGION))
        identity = Stubber(boto3.client("quicksight", region_name="us-east-1"))
        here.add_client_error(
            "describe_user", "AccessDeniedException",
            f"Operation is being called from endpoint {REGION}, but your identity region is us-east-1. "
            "Please use the us-east-1 endpoint.",
            403,
        )  # fmt: skip
        identity.add_response(
            "describe_user",
            {"User": {"Arn": USER_ARN, "UserName": "moto"}, "Status": 200},
            {"UserName": "moto", "AwsAccountId": ACCOUNT, "Namespace": "default"},
        )
        other = TestAws(identity.client)
        with here, identity:
            quicksight = QuickSight(TestAws(here.client), TARGET, ledger, identity_client=lambda region: other)
            assert quicksight.resolve_principal(None) == USER_ARN
        identity.assert_no_pending_responses()


def test_a_failed_data_source_stops_with_its_reason_and_stays_recorded(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    source_arn = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:datasource/toll-athena"
    expect_subscription(stub)
    expect_missing(stub, "describe_data_source", DataSourceId="toll-athena")
    stub.add_response(
        "create_data_source",
        {"Arn": source_arn, "DataSourceId": "toll-athena", "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202},
        {
            "AwsAccountId": ACCOUNT, "DataSourceId": "toll-athena", "Name": ANY, "Type": "ATHENA",
            "DataSourceParameters": {"AthenaParameters": {"WorkGroup": "toll"}},
            "Permissions": [{"Principal": USER_ARN, "Actions": ANY}], "Tags": OUR_TAGS,
        },
    )  # fmt: skip
    stub.add_response(
        "describe_data_source",
        {"DataSource": {"Arn": source_arn, "Status": "CREATION_FAILED",
                        "ErrorInfo": {"Type": "ACCESS_DENIED", "Message": "Unable to verify/create output bucket"}},
         "Status": 200},
    )  # fmt: skip
    all_quicksight_stubbed = RoutedClient(None, stub.client, lambda _op, _p: True)
    quicksight = QuickSight(TestAws(all_quicksight_stubbed), TARGET, ledger)
    with pytest.raises(TollError, match=r"Unable to verify/create output bucket.*run this again"):
        quicksight.provision(USER_ARN)
    stub.assert_no_pending_responses()
    assert [r.kind for r in ledger.resources] == [KIND_GRANT, KIND_DATA_SOURCE]  # teardown will find them


def test_teardown_leaves_what_is_not_tagged_ours(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    from tollcli.state import Resource

    ledger.record(Resource(kind=KIND_ANALYSIS, name="toll-workshop", settings={"arn": ANALYSIS_ARN}))
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": TAG_KEY, "Value": "someone-else"}], "Status": 200})
    removed, failed = QuickSight(TestAws(routed(stub)), TARGET, ledger).teardown()
    stub.assert_no_pending_responses()  # no delete_analysis was sent
    assert removed == [] and failed[0][0] == f"{KIND_ANALYSIS} toll-workshop" and "not tagged" in failed[0][1]
    assert ledger.find(KIND_ANALYSIS) is not None


def test_a_second_run_creates_nothing_and_shares_with_a_new_user(moto_account: None, stub: Stubber, ledger: Ledger) -> None:
    client = routed(stub)
    quicksight = QuickSight(TestAws(client), TARGET, ledger)
    expect_subscription(stub)
    expect_new_analysis(stub)
    quicksight.provision(USER_ARN)
    dataset_arn = ledger.find(KIND_DATASET).settings["arn"]

    other = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:user/default/instructor"
    grant = {"AwsAccountId": ACCOUNT, "GrantPermissions": [{"Principal": other, "Actions": ANY}]}
    expect_subscription(stub)
    stub.add_response("update_data_source_permissions", {"Status": 200}, {**grant, "DataSourceId": "toll-athena"})
    stub.add_response("describe_data_set", {"DataSet": {"Arn": dataset_arn}, "Status": 200})
    stub.add_response("update_data_set_permissions", {"Status": 200}, {**grant, "DataSetId": "toll-toll-records"})
    stub.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})
    stub.add_response("list_tags_for_resource", {"Tags": OUR_TAGS, "Status": 200}, {"ResourceArn": ANALYSIS_ARN})
    stub.add_response("update_analysis_permissions", {"Status": 200}, {**grant, "AnalysisId": "toll-workshop"})
    stub.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})
    client.calls.clear()

    again = quicksight.provision(other)

    stub.assert_no_pending_responses()
    assert again.created == [] and len(again.existing) == 4
    assert not [op for op, _ in client.calls if op.startswith("create_")]
    assert all(r.settings["shared_with"] == [USER_ARN, other] for r in ledger.resources if r.kind != KIND_GRANT)
    versions = boto3.client("iam", region_name=REGION).list_policy_versions(PolicyArn=ledger.resources[0].name)["Versions"]
    assert len(versions) == 1  # the same document: no new policy version


# --- on the AWS backend: after `toll setup`, in `toll status` and `toll teardown` ---------------------
def expect_new_analysis(stub: Stubber) -> None:
    expect_missing(stub, "describe_data_set", DataSetId="toll-toll-records")
    expect_missing(stub, "describe_analysis", AnalysisId="toll-workshop")
    stub.add_response("create_analysis", {"Arn": ANALYSIS_ARN, "AnalysisId": "toll-workshop", "Status": 202})
    stub.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})


def test_on_the_backend_status_shows_the_url_and_teardown_goes_first(moto_account: None, stub: Stubber, home: Path) -> None:
    from tollcli.config import Settings

    settings = Settings(backend="aws", home=home, region=REGION, backend_explicit=True)
    backend = AwsBackend(settings, aws=TestAws(routed(stub)), sleep=lambda _s: None)
    backend.setup(buffer_mb=1, buffer_seconds=60)
    expect_subscription(stub)
    expect_new_analysis(stub)

    report = backend.publish_quicksight(user_arn=USER_ARN)

    assert report.principal == USER_ARN and report.analysis_url.endswith("/sn/analyses/toll-workshop")
    source = boto3.client("quicksight", region_name=REGION).describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="toll-athena")
    assert source["DataSource"]["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "toll-workgroup"  # setup's workgroup

    stub.add_response("describe_data_set", {"DataSet": {"Arn": DATASET_ARN}, "Status": 200})
    stub.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})
    status = {r.kind: r for r in backend.status().resources}
    assert status[KIND_ANALYSIS].state == "present"
    assert status[KIND_ANALYSIS].details["url"] == report.analysis_url
    assert status[KIND_DATA_SOURCE].state == "present" and status[KIND_GRANT].state == "present"

    stub.add_response("list_tags_for_resource", {"Tags": OUR_TAGS, "Status": 200})
    stub.add_response("delete_analysis", {"Arn": ANALYSIS_ARN, "Status": 200})
    stub.add_response("delete_data_set", {"Arn": DATASET_ARN, "Status": 200})
    teardown = backend.teardown()

    stub.assert_no_pending_responses()
    assert teardown.failed == []
    kinds = [label.split()[0] for label in teardown.removed]
    assert kinds[:4] == [KIND_ANALYSIS, KIND_DATASET, KIND_DATA_SOURCE, KIND_GRANT]
    assert {"bucket", "workgroup", "role"} <= set(kinds[4:])
    assert not settings.ledger_path.exists()


def test_publish_needs_a_set_up_stack_and_a_valid_user_first(moto_account: None, stub: Stubber, home: Path) -> None:
    from tollcli.backends.aws import AwsBackend
    from tollcli.config import Settings

    backend = AwsBackend(Settings(backend="aws", home=home, region=REGION), aws=TestAws(routed(stub)))
    with pytest.raises(UsageError, match="not a QuickSight user ARN"):
        backend.publish_quicksight(user_arn="alice")
    with pytest.raises(UsageError, match=r"run `toll (--home \S+ )?setup` first"):
        backend.publish_quicksight(user_arn=USER_ARN)
    assert not home.exists()


# --- the command line ----------------------------------------------------------------------------------
def one_error_line(result: Any, text: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_quicksight_on_the_local_backend_is_one_usage_line(toll: Callable[..., Any], home: Path) -> None:
    one_error_line(toll("dashboard", "--quicksight"), "--quicksight needs --backend aws")
    one_error_line(toll("dashboard", "--user", USER_ARN), "--user goes with --quicksight")
    assert not home.exists()


def test_dashboard_quicksight_asks_the_backends_capabilities_first(
    toll: Callable[..., Any], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command reads `capabilities.quicksight` before it does anything: an AWS backend that said
    no is refused with the backend's own line, not asked for a ledger or AWS."""
    monkeypatch.setattr(AwsBackend, "capabilities", replace(AwsBackend.capabilities, quicksight=False))
    for args in (["--quicksight"], ["--quicksight", "--format", "json", "--user", USER_ARN]):
        result = toll("--backend", "aws", "dashboard", *args)
        one_error_line(result, "toll: error: --quicksight needs --backend aws")
        assert result.stdout == ""
    assert not home.exists()


def test_cli_checks_the_user_and_the_stack_before_calling_aws(toll_process: Callable[..., Any], home: Path) -> None:
    """The real process, with nowhere to reach: both refusals come before any AWS call."""
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # a closed port: any call would fail differently
    bad_user = toll_process("--backend", "aws", "dashboard", "--quicksight", "--user", "alice", env=env)
    assert bad_user.returncode == 2 and bad_user.stderr.startswith("toll: error: --user 'alice' is not a QuickSight user ARN")
    no_stack = toll_process("--backend", "aws", "dashboard", "--quicksight", env=env)
    assert no_stack.returncode == 2 and "setup` first" in no_stack.stderr, no_stack.stderr
    assert not home.exists()


@pytest.fixture
def cli_aws(monkeypatch: pytest.MonkeyPatch, moto_account: None, stub: Stubber) -> Stubber:
    """`toll --backend aws ...` in process: moto, with QuickSight's missing calls answered by `stub`."""
    client = routed(stub)
    monkeypatch.setattr("tollcli.backends.aws.backend.AwsClient", lambda **_kw: TestAws(client))
    return stub


def test_cli_provisions_lists_and_tears_down(cli_aws: Stubber, toll: Callable[..., Any]) -> None:
    assert toll("--backend", "aws", "--region", REGION, "setup").exit_code == 0
    expect_subscription(cli_aws)
    expect_new_analysis(cli_aws)

    made = toll("dashboard", "--quicksight")

    assert made.exit_code == 0, made.output
    url = f"https://{REGION}.quicksight.aws.amazon.com/sn/analyses/toll-workshop"
    assert made.stdout.strip().splitlines()[-1] == url
    assert "shared with arn:aws:quicksight:" in made.stdout and "user/default/moto" in made.stdout
    assert "created quicksight-analysis toll-workshop" in made.stderr

    cli_aws.add_response("describe_data_set", {"DataSet": {"Arn": DATASET_ARN}, "Status": 200})
    cli_aws.add_response("describe_analysis", {"Analysis": {"Arn": ANALYSIS_ARN, "Status": "CREATION_SUCCESSFUL"}, "Status": 200})
    status = toll("status", "--format", "json")
    assert status.exit_code == 0, status.output
    listed = {r["kind"]: r for r in json.loads(status.stdout)["resources"]}
    assert listed[KIND_ANALYSIS]["details"]["url"] == url
    assert {listed[k]["state"] for k in (KIND_GRANT, KIND_DATA_SOURCE, KIND_DATASET, KIND_ANALYSIS)} == {"present"}

    cli_aws.add_response("list_tags_for_resource", {"Tags": OUR_TAGS, "Status": 200})
    cli_aws.add_response("delete_analysis", {"Arn": ANALYSIS_ARN, "Status": 200})
    cli_aws.add_response("delete_data_set", {"Arn": DATASET_ARN, "Status": 200})
    gone = toll("teardown", "--yes", "--format", "json")
    assert gone.exit_code == 0, gone.output
    removed = json.loads(gone.stdout)["removed"]
    assert [label.split()[0] for label in removed[:4]] == [KIND_ANALYSIS, KIND_DATASET, KIND_DATA_SOURCE, KIND_GRANT]
    cli_aws.assert_no_pending_responses()


def test_cli_without_a_subscription_exits_2_and_says_how_to_get_one(
    cli_aws: Stubber, toll: Callable[..., Any], home: Path
) -> None:
    assert toll("--backend", "aws", "--region", REGION, "setup").exit_code == 0
    cli_aws.add_client_error("describe_account_subscription", "ResourceNotFoundException", "Account not found", 404)
    result = toll("dashboard", "--quicksight", "--user", USER_ARN)
    one_error_line(result, "no QuickSight subscription")
    assert "never subscribes" in result.stderr and "$20" in result.stderr
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None and not any(r.kind.startswith("quicksight") for r in ledger.resources)


JODA_FIELDS = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}", "mm": r"\d{2}", "ss": r"\d{2}", "SSS": r"\d{3}"}
JODA_OFFSETS = {"ZZ": r"(?:Z|[+-]\d{2}:\d{2})", "Z": r"(?:Z|[+-]\d{4})"}


def joda_pattern(pattern: str) -> re.Pattern[str]:
    """QuickSight's date formats are Joda-Time patterns: the letters our dataset uses, as a strict
    full-match regex (a row whose value does not match is skipped by CastColumnTypeOperation)."""
    parts, rest = [], pattern
    while rest:
        if rest.startswith("'"):
            literal, _, rest = rest[1:].partition("'")
            parts.append(re.escape(literal))
            continue
        for token, regex in {**JODA_FIELDS, **JODA_OFFSETS}.items():
            if rest.startswith(token):
                parts.append(regex)
                rest = rest[len(token) :]
                break
        else:
            assert not rest[0].isalpha(), f"unsupported pattern letter {rest[0]!r} in {pattern!r}"
            parts.append(re.escape(rest[0]))
            rest = rest[1:]
    return re.compile("".join(parts))


def test_the_dataset_date_format_parses_the_records_we_generate(toll: Callable[..., Any]) -> None:
    """`toll generate` writes milliseconds (`...:15.009Z`); a format without them made QuickSight skip
    every row, leaving the time chart empty."""
    dataset = json.loads(read_template("quicksight", "dataset.json"))
    cast = dataset["LogicalTableMap"]["toll-records-typed"]["DataTransforms"][0]["CastColumnTypeOperation"]
    date_format = joda_pattern(cast["Format"])
    result = toll("generate", "--count", "200", "--seed", "3", "--output", "-", "--quiet")
    assert result.exit_code == 0, result.output
    dates = [line.split(",")[0] for line in result.stdout.splitlines() if line]
    assert len(dates) == 200
    assert [d for d in dates if not date_format.fullmatch(d)] == []
    assert not joda_pattern("yyyy-MM-dd'T'HH:mm:ssZZ").fullmatch(dates[0])  # the old format, which skipped them
