"""The strict request check (tests/botocore_strict.py) catches what botocore's validator lets through."""

from __future__ import annotations

from contextlib import suppress

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from moto import mock_aws

from botocore_strict import StrictValidator

REGION = "us-west-2"


def test_botocore_lets_through_what_aws_refuses_and_the_strict_check_does_not(strict_aws_requests: StrictValidator) -> None:
    with mock_aws():
        firehose = boto3.client("firehose", region_name=REGION)
        firehose.list_delivery_streams(Limit=10001)  # botocore and moto accept it; the model's range is 1..10000
        with suppress(Exception):  # moto's own answer does not matter here
            firehose.put_record_batch(DeliveryStreamName="x" * 65, Records=[{"Data": b"a" * (1000 * 1024 + 1)}])
        kinesis = boto3.client("kinesis", region_name=REGION)
        with suppress(Exception):
            kinesis.create_stream(StreamName="bad name!", ShardCount=1, StreamModeDetails={"StreamMode": "SOMETIMES"})
        with pytest.raises(ParamValidationError):  # what botocore itself catches is reported by botocore
            kinesis.create_stream(StreamName="", ShardCount=1)
    found = list(strict_aws_requests.errors)
    strict_aws_requests.errors.clear()  # sent on purpose: the autouse check must not fail this test
    assert "firehose.ListDeliveryStreams.Limit: 10001 is above the maximum 10000" in found
    assert any(e.startswith("firehose.PutRecordBatch.DeliveryStreamName: 65 characters, above the maximum 64") for e in found)
    assert "firehose.PutRecordBatch.Records[0].Data: 1024001 bytes, above the maximum 1024000" in found
    assert any(e.startswith("kinesis.CreateStream.StreamName: 'bad name!' does not match the pattern") for e in found)
    assert any(e.startswith("kinesis.CreateStream.StreamModeDetails.StreamMode: 'SOMETIMES' is not one of") for e in found)


def test_java_patterns_with_unicode_classes_and_surrogate_ranges_are_understood() -> None:
    validator = StrictValidator()
    from botocore.session import get_session

    iam = get_session().get_service_model("iam").operation_model("CreateRole").input_shape
    ok = {"RoleName": "toll-firehose", "AssumeRolePolicyDocument": '{"Version": "2012-10-17"}', "Description": "Straße"}
    assert validator.validate("iam.CreateRole", iam, ok) == []
    pattern = iam.members["RoleName"].metadata["pattern"]
    assert validator.validate("iam.CreateRole", iam, {**ok, "RoleName": "toll firehose", "Description": "🚗"}) == [
        f"iam.CreateRole.RoleName: 'toll firehose' does not match the pattern {pattern!r}",
        f"iam.CreateRole.Description: '🚗' does not match the pattern {iam.members['Description'].metadata['pattern']!r}",
    ]
    glue = get_session().get_service_model("glue").operation_model("CreateDatabase").input_shape
    # Glue's descriptions allow U+10000.. through Java's surrogate-pair range
    assert validator.validate("glue.CreateDatabase", glue, {"DatabaseInput": {"Name": "toll", "Description": "cars 🚗"}}) == []
