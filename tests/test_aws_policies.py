"""Every IAM policy document we ship (templates/aws, templates/quicksight), filled as setup, deploy
and `toll dashboard --quicksight` fill them, has no parliament finding (tests/iam_lint.py says which
are accepted, and why). The policies as AWS stores them after setup and deploy are linted in
tests/reliability/test_aws_faults.py."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

import pytest

from iam_lint import TRUST_POLICY_ACCEPTED, findings

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
VALUES = {
    "partition": "aws",
    "region": "us-west-2",
    "account": "123456789012",
    "bucket": "toll-3f9a1c2b7d",
    "stream_arn": "arn:aws:kinesis:us-west-2:123456789012:stream/toll-live-records",
    "topic_arn": "arn:aws:sns:us-west-2:123456789012:toll-anomaly-alerts",
    "function": "toll-anomaly",
    "workgroup": "toll-workgroup",
    "database": "toll",
    "table": "lab_toll_data_stream",
    "results_prefix": "athena-results/",
    "stream": "toll-data-stream",
}
POLICIES = sorted(
    path.relative_to(TEMPLATES).as_posix()
    for folder in ("aws", "quicksight")
    for path in (TEMPLATES / folder).rglob("*.json")
    if '"Statement"' in path.read_text()
)


def test_every_policy_document_we_ship_is_found() -> None:
    assert POLICIES == [
        "aws/anomaly/firehose-policy.json",
        "aws/anomaly/firehose-trust.json",
        "aws/anomaly/lambda-policy.json",
        "aws/anomaly/lambda-trust.json",
        "aws/bucket-policy.json",
        "aws/firehose-policy.json",
        "aws/firehose-trust.json",
        "quicksight/service-role-policy.json",
    ]


@pytest.mark.parametrize("name", POLICIES)
def test_parliament_finds_nothing_in_our_policies(name: str) -> None:
    document = Template((TEMPLATES / name).read_text()).substitute(VALUES)
    assert findings(document, trust=name.endswith("-trust.json")) == []


def test_the_linter_is_live() -> None:
    """parliament does flag what we must never ship, and the trust exception covers only itself."""
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    assert [issue for issue, _ in findings(json.dumps(wide))] == ["UNKNOWN_ACTION"]
    trust = json.loads((TEMPLATES / "aws" / "firehose-trust.json").read_text())
    assert set(findings(trust)) == TRUST_POLICY_ACCEPTED  # not accepted outside trust policies
