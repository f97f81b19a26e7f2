"""Security checks: every IAM policy we ship names only our resources, the bucket is private,
encrypted and TLS-only, and a moto setup leaves no credential in the home."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tollcli.backends.aws import AwsBackend
from tollcli.config import Settings
from tollcli.paths import template_path
from tollcli.state import Ledger

TEMPLATES = Path(template_path("aws", "bucket-policy.json")).parent.parent
POLICY_FILES = sorted([*TEMPLATES.glob("aws/**/*.json"), *TEMPLATES.glob("quicksight/*.json")])
REGION = "us-west-2"
# Distinctive fake credentials: if any appears in the home, a credential leaked.
ACCESS_KEY = "AKIAFAKETOLLLEAK0001"
SECRET_KEY = "s3cr3t-toll-leak-canary-do-not-print"
SESSION_TOKEN = "sessiontoken-toll-leak-canary"


def statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or "Statement" not in document:
        return []
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Resources that are not ours by name, each because the API requires it:
# Glue authorizes GetTable/GetPartitions on the account's catalog as well as on the database and
# table (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html); there is
# one catalog per account and region, and the same statement also names our database and table.
REQUIRED_BY_THE_API = {"arn:${partition}:glue:${region}:${account}:catalog"}


def own_name_before_any_wildcard(resource: str) -> bool:
    """A wildcard only after one of our names (a bucket's objects, our log group's streams)."""
    if resource in REQUIRED_BY_THE_API:
        return True
    head = resource.split("*")[0]
    placeholders = set(re.findall(r"\$\{(\w+)\}", head)) - {"partition", "region", "account"}
    return bool(placeholders)


def test_the_policy_files_are_found() -> None:
    names = {p.name for p in POLICY_FILES}
    assert {"bucket-policy.json", "firehose-policy.json", "lambda-policy.json", "service-role-policy.json"} <= names


@pytest.mark.parametrize("path", POLICY_FILES, ids=[str(p.relative_to(TEMPLATES)) for p in POLICY_FILES])
def test_every_allow_names_only_our_resources(path: Path) -> None:
    """No "*" Resource, and every Allow's resources are ARNs built from our stack's own names.

    No "*" exception is needed: the anomaly Lambda's log group is created by `toll deploy` (not
    the role), so its logs actions are scoped to that group's ARN (`...:log-group:<ours>:*` covers
    only the group's own streams)."""
    document = json.loads(path.read_text())
    for statement in statements(document):
        resources = as_list(statement.get("Resource", []))
        assert "*" not in resources, (path.name, statement)
        if statement.get("Effect") == "Allow" and "Principal" not in statement:
            assert resources, (path.name, statement)
            for resource in resources:
                assert own_name_before_any_wildcard(resource), (path.name, resource)
            actions = as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (path.name, actions)


@pytest.mark.parametrize("path", POLICY_FILES, ids=[str(p.relative_to(TEMPLATES)) for p in POLICY_FILES])
def test_trust_policies_name_one_service(path: Path) -> None:
    for statement in statements(json.loads(path.read_text())):
        if statement.get("Action") == "sts:AssumeRole":
            principal = statement["Principal"]
            assert principal != "*" and set(principal) == {"Service"}, (path.name, principal)


def test_the_bucket_policy_denies_everything_without_tls() -> None:
    (statement,) = statements(json.loads((TEMPLATES / "aws" / "bucket-policy.json").read_text()))
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert all("${bucket}" in r for r in statement["Resource"])


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    home = tmp_path / "home"
    with mock_aws():
        settings = Settings(backend="aws", home=home, region=REGION, backend_explicit=True)
        AwsBackend(settings, sleep=lambda _s: None).setup(buffer_mb=1, buffer_seconds=60)
        yield home, boto3.client("s3", region_name=REGION)


def test_a_moto_setup_makes_the_bucket_private_encrypted_and_tls_only(aws_home: tuple[Path, Any]) -> None:
    home, s3 = aws_home
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None
    bucket = next(r.name for r in ledger.resources if r.kind == "bucket")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()), block
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in policy["Statement"]
    )
    rendered = json.dumps(policy)
    assert "${" not in rendered and bucket in rendered


def test_the_home_holds_no_credentials(aws_home: tuple[Path, Any]) -> None:
    home, _ = aws_home
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
            assert secret.encode() not in data, f"{secret[:6]}... found in {path}"


def test_webhook_and_sns_payloads_hold_only_the_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook POSTs `Alert.to_json()` and SNS publishes `alert.message`: both are built from
    the window's figures only. A new field must be added here on purpose (and be no secret)."""
    from dataclasses import fields

    from tollcli.anomaly.alerts import Alert, alert_message

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    expected = {
        "window_start", "window_end", "station", "vehicle_count", "anomaly_score", "threshold", "explanation", "mode", "message",
        "baseline_count",  # the station's usual count: a figure of the traffic, no secret
    }  # fmt: skip
    assert {f.name for f in fields(Alert)} == expected
    message = alert_message("35South", 412, 3.1, 2.5, 11.0)
    alert = Alert(
        "2026-11-28T08:00:00Z", "2026-11-28T08:00:10Z", "35South", 412, 3.1, 2.5, "35South HIGH 40%", "default", message, 11.0
    )
    body = json.dumps(alert.to_json())
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, "testing"):
        assert secret not in body and secret not in message
