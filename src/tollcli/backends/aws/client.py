"""The one place that talks to AWS (boto3, botocore and PyAthena).

Small typed methods, each a single describe or change, that turn AWS's errors into ours:
missing credentials, an unknown profile or region and access denied become a `UsageError`
naming what to fix (exit 2); anything else a `TollError` (exit 1). "Not found" is an answer,
not an error: describe methods return None for it. Credentials are never put in a message.

The constructor takes `sleep`, so waits and retries run instantly in tests. The standard
`AWS_ENDPOINT_URL`, `AWS_PROFILE` and `AWS_REGION` variables are honoured (so the same code
runs against a moto server or LocalStack); `--region`/`--profile` win over them.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore
import botocore.loaders
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from tollcli.backends.aws.names import TAG_KEY as TAG_KEY  # re-exported: tests and older callers
from tollcli.errors import TollError, UsageError

if TYPE_CHECKING:
    from pyathena.cursor import Cursor

# The oldest botocore whose service models take every parameter we send (pyproject.toml's boto3
# floor is the boto3 of the same release): 1.35.23 (2024-09-19) added `Tags` to Lambda's
# CreateEventSourceMapping, which `toll deploy` sends; older ones refuse it client-side.
MIN_BOTOCORE = (1, 35, 23)


def check_botocore_version(version: str) -> None:
    """A UsageError naming the upgrade when the installed botocore is older than MIN_BOTOCORE."""
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    if parts < MIN_BOTOCORE:
        floor = ".".join(map(str, MIN_BOTOCORE))
        raise UsageError(f"botocore {version} is too old for toll's AWS backend: upgrade boto3 and botocore to {floor} or later")


MISSING_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "EntityNotFoundException",
        "NoSuchEntity",
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchTagSet",
        "NotFound",
        "404",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "AllAccessDisabled"}
)
BAD_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidToken",
        "RequestExpired",
    }
)
# Worth resending the same entries: Firehose's throttling and the service's own failures.
RETRYABLE_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "SlowDown",
        "RequestTimeout",
    }
)
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# One loader per process: the service models are parsed once, however many sessions we open.
_SHARED_LOADER = botocore.loaders.create_loader()


class RetryableError(TollError):
    """A call that may succeed if sent again (throttling, 5xx, a dropped connection)."""


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    """AWS's message, cut to its first line (an emulator's 500 may answer a whole HTML page)."""
    response = getattr(exc, "response", None) or {}
    message = str(response.get("Error", {}).get("Message", "")) or str(exc)
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= 200 else first[:197] + "..."


def is_missing(exc: BaseException) -> bool:
    return error_code(exc) in MISSING_CODES


# --- waits and retries, written once for every component ---------------------------------------
def wait_until(
    what: str,
    ready: Callable[[], bool],
    *,
    sleep: Callable[[float], None],
    timeout: float,
    interval: float = 2.0,
    on_wait: Callable[[float], None] | None = None,
) -> None:
    """Poll `ready`, sleeping `interval` between polls, until it says yes. The time counted is the
    time slept (an injected `sleep` runs a wait instantly in tests); after `timeout` seconds a
    TollError names what was awaited ("the delivery stream X to be ACTIVE")."""
    waited = 0.0
    while not ready():
        if waited >= timeout:
            raise TollError(f"waited {timeout:.0f} s for {what}, in vain: run the command again to resume")
        if on_wait is not None:
            on_wait(waited)
        sleep(interval)
        waited += interval


def role_not_ready(exc: BaseException) -> bool:
    """IAM is eventually consistent: a role made seconds ago that Firehose or Lambda cannot assume
    yet ("Firehose is unable to assume role", "Cannot access stream ... ensure the role can ...")."""
    message = error_message(exc).lower()
    return error_code(exc) in {"InvalidArgumentException", "InvalidParameterValueException"} and (
        "role" in message or "assume" in message
    )


Result = TypeVar("Result")  # what a retried AWS call returns


def retry_while_role_propagates(
    call: Callable[[], Result],
    *,
    sleep: Callable[[float], None],
    on_retry: Callable[[int], None] | None = None,
    attempts: int = 12,
) -> Result:
    """`call()`, retried (2, 4, ... 10 s apart, about 90 s in all) only while `role_not_ready`."""
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            if not role_not_ready(exc) or attempt == attempts - 1:
                raise
        if on_retry is not None:
            on_retry(attempt + 1)
        sleep(min(2.0 * (attempt + 1), 10.0))
    raise AssertionError("unreachable")


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)):
        return True
    if error_code(exc) in RETRYABLE_CODES:
        return True
    status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status >= 500


def tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def translate_error(exc: BaseException, what: str) -> TollError:
    """The project's exception for an AWS exception raised while doing `what`."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return UsageError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), set AWS_PROFILE, "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return UsageError("no AWS region is set: pass --region (e.g. us-east-1) or set AWS_REGION")
    code = error_code(exc)
    if code in DENIED_CODES:
        return UsageError(
            f"access denied while trying to {what}: give your AWS identity that permission or use another --profile"
        )
    if code in BAD_CREDENTIAL_CODES:
        return UsageError(
            f"AWS rejected your credentials ({code}) while trying to {what}: refresh them "
            "(`aws sso login`, `aws configure`) or use another --profile"
        )
    if isinstance(exc, EndpointConnectionError):
        return RetryableError(f"could not {what}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}")
    detail = f"{code}: {error_message(exc)}" if code else str(exc)
    if is_retryable(exc):
        return RetryableError(f"could not {what}: {detail}")
    return TollError(f"could not {what}: {detail}")


class AwsClient:
    """A session for one account and region, with the calls the AWS backend makes."""

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        environ: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_pool_connections: int = 16,
    ) -> None:
        env = os.environ if environ is None else environ
        check_botocore_version(botocore.__version__)
        self.sleep = sleep
        self.profile = profile or env.get("AWS_PROFILE") or None
        self.endpoint_url = env.get("AWS_ENDPOINT_URL") or None
        try:
            self.session = boto3.Session(profile_name=self.profile)
            self.session._session.register_component("data_loader", _SHARED_LOADER)
        except ProfileNotFound:
            raise UsageError(
                f"AWS profile {self.profile!r} is not in your AWS config: fix --profile or AWS_PROFILE, "
                f"or run `aws configure --profile {self.profile}`"
            ) from None
        chosen = region or env.get("AWS_REGION") or self.session.region_name
        if not chosen:
            raise UsageError("no AWS region is set: pass --region (e.g. us-east-1) or set AWS_REGION")
        self.region = self._check_region(chosen)
        self._config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=max_pool_connections,
            s3={"addressing_style": "path"} if self.endpoint_url else {},
        )
        # The data path retries by itself (exactly the failed entries), so botocore must not.
        self._data_config = self._config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self._partition: str | None = None

    def _check_region(self, region: str) -> str:
        known: set[str] = set()
        for partition in self.session.get_available_partitions():
            known.update(self.session.get_available_regions("firehose", partition_name=partition))
        if region in known or (self.endpoint_url and REGION_PATTERN.match(region)):
            return region
        hint = "; upgrade boto3 if it is a new region" if REGION_PATTERN.match(region) else ""
        raise UsageError(f"unknown AWS region {region!r}: fix --region or AWS_REGION (e.g. us-east-1){hint}")

    # plumbing -------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for `service` in this region (cached; clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                config = self._data_config if service == "firehose-data" else self._config
                name = "firehose" if service == "firehose-data" else service
                self._clients[service] = self.session.client(name, config=config)
            return self._clients[service]

    @contextmanager
    def translate(self, what: str) -> Iterator[None]:
        """Turn AWS's exceptions raised while doing `what` into a UsageError or TollError."""
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise translate_error(exc, what) from None

    def call(self, service: str, operation: str, what: str, **params: Any) -> dict[str, Any]:
        with self.translate(what):
            return getattr(self.client(service), operation)(**params)

    def describe(self, service: str, operation: str, what: str, **params: Any) -> dict[str, Any] | None:
        """Like `call`, but None when the thing does not exist."""
        with self.translate(what):
            try:
                return getattr(self.client(service), operation)(**params)
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise

    def wait_until(self, what: str, ready: Callable[[], bool], *, timeout: float = 600.0, interval: float = 2.0,
                   on_wait: Callable[[float], None] | None = None) -> None:  # fmt: skip
        """`wait_until` with this client's `sleep`."""
        wait_until(what, ready, sleep=self.sleep, timeout=timeout, interval=interval, on_wait=on_wait)

    # identity -------------------------------------------------------------------------------
    def account_id(self) -> str:
        """The account the credentials belong to; the first call that checks them."""
        if self._account is None:
            identity = self.call("sts", "get_caller_identity", "check your AWS identity (sts:GetCallerIdentity)")
            self._account = str(identity["Account"])
            arn = str(identity.get("Arn", "arn:aws:"))
            self._partition = arn.split(":")[1] if arn.count(":") >= 2 else "aws"
        return self._account

    @property
    def partition(self) -> str:
        self.account_id()
        return self._partition or "aws"

    # S3 -------------------------------------------------------------------------------------
    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.client("s3").head_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                return False
            if error_code(exc) == "403":  # a name another account holds
                raise TollError(f"the bucket name {bucket} is taken by another account") from None
            raise translate_error(exc, f"look up the bucket {bucket}") from None
        except BotoCoreError as exc:
            raise translate_error(exc, f"look up the bucket {bucket}") from None
        return True

    def create_bucket(self, bucket: str) -> None:
        params: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.call("s3", "create_bucket", f"create the bucket {bucket}", **params)

    def secure_bucket(self, bucket: str, *, policy: str, tags: dict[str, str]) -> None:
        """Block Public Access, default encryption (SSE-S3), the TLS-only policy and our tags."""
        self.call(
            "s3",
            "put_public_access_block",
            f"block public access to {bucket}",
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.call(
            "s3",
            "put_bucket_encryption",
            f"turn on default encryption for {bucket}",
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
            },
        )
        self.call("s3", "put_bucket_policy", f"set the TLS-only policy on {bucket}", Bucket=bucket, Policy=policy)
        self.call("s3", "put_bucket_tagging", f"tag the bucket {bucket}", Bucket=bucket, Tagging={"TagSet": tags_list(tags)})

    def bucket_tags(self, bucket: str) -> dict[str, str] | None:
        """The bucket's tags ({} when it has none), or None when there is no such bucket."""
        with self.translate(f"read the tags of {bucket}"):
            try:
                return tags_dict(self.client("s3").get_bucket_tagging(Bucket=bucket).get("TagSet"))
            except ClientError as exc:
                if error_code(exc) == "NoSuchTagSet":
                    return {}
                if is_missing(exc):
                    return None
                raise

    def bucket_usage(self, bucket: str) -> tuple[int, int]:
        """(object count, bytes) of the current objects."""
        count = size = 0
        with self.translate(f"list the objects in {bucket}"):
            for page in self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    count += 1
                    size += int(item.get("Size", 0))
        return count, size

    def list_objects(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        with self.translate(f"list the objects in {bucket}"):
            for page in self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def read_object(self, bucket: str, key: str) -> bytes:
        return self.call("s3", "get_object", f"read s3://{bucket}/{key}", Bucket=bucket, Key=key)["Body"].read()

    def empty_bucket(self, bucket: str) -> int:
        """Delete every object version and delete marker; returns how many were deleted.

        Lists the first page again after each delete instead of following markers: a listing
        continued across deletes can skip what is left (moto does).
        """
        deleted = 0
        s3 = self.client("s3")
        with self.translate(f"empty the bucket {bucket}"):
            while True:
                page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
                keys = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                if not keys:
                    return deleted
                response = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                errors = response.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise TollError(f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}")
                deleted += len(keys)

    def delete_bucket_policy(self, bucket: str) -> None:
        self.call("s3", "delete_bucket_policy", f"remove the policy of {bucket}", Bucket=bucket)

    def delete_bucket(self, bucket: str) -> None:
        self.call("s3", "delete_bucket", f"delete the bucket {bucket}", Bucket=bucket)

    # IAM ------------------------------------------------------------------------------------
    def get_role(self, name: str) -> dict[str, Any] | None:
        found = self.describe("iam", "get_role", f"look up the IAM role {name}", RoleName=name)
        return None if found is None else found["Role"]

    def create_role(self, name: str, *, trust_policy: str, path: str, description: str, tags: dict[str, str]) -> str:
        role = self.call(
            "iam",
            "create_role",
            f"create the IAM role {name}",
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=trust_policy,
            Description=description,
            Tags=tags_list(tags),
        )
        return str(role["Role"]["Arn"])

    def put_role_policy(self, role: str, policy_name: str, document: str) -> None:
        self.call(
            "iam", "put_role_policy", f"attach the policy {policy_name} to {role}",
            RoleName=role, PolicyName=policy_name, PolicyDocument=document,
        )  # fmt: skip

    def update_trust_policy(self, name: str, trust_policy: str) -> None:
        self.call("iam", "update_assume_role_policy", f"update who may assume {name}", RoleName=name, PolicyDocument=trust_policy)

    def role_tags(self, name: str) -> dict[str, str] | None:
        found = self.describe("iam", "list_role_tags", f"read the tags of the role {name}", RoleName=name)
        return None if found is None else tags_dict(found.get("Tags"))

    def role_policy_names(self, name: str) -> list[str]:
        return list(self.call("iam", "list_role_policies", f"list the policies of {name}", RoleName=name).get("PolicyNames", []))

    def get_role_policy(self, name: str, policy_name: str) -> dict[str, Any] | None:
        found = self.describe("iam", "get_role_policy", f"read {policy_name}", RoleName=name, PolicyName=policy_name)
        return None if found is None else found["PolicyDocument"]

    def delete_role(self, name: str) -> None:
        """Delete the inline policies, then the role."""
        for policy in self.role_policy_names(name):
            self.call("iam", "delete_role_policy", f"delete the policy {policy} of {name}", RoleName=name, PolicyName=policy)
        self.call("iam", "delete_role", f"delete the IAM role {name}", RoleName=name)

    def roles_under(self, path: str) -> list[str]:
        names: list[str] = []
        with self.translate("list IAM roles"):
            for page in self.client("iam").get_paginator("list_roles").paginate(PathPrefix=path):
                names.extend(role["RoleName"] for role in page.get("Roles", []))
        return names

    # Firehose -------------------------------------------------------------------------------
    def describe_delivery_stream(self, name: str) -> dict[str, Any] | None:
        found = self.describe(
            "firehose", "describe_delivery_stream", f"look up the delivery stream {name}", DeliveryStreamName=name
        )
        return None if found is None else found["DeliveryStreamDescription"]

    def create_delivery_stream(self, name: str, *, s3_destination: dict[str, Any], tags: dict[str, str],
                               on_retry: Callable[[int], None] | None = None, attempts: int = 12) -> str:  # fmt: skip
        """Create a Direct PUT stream; retry while the new role is not yet assumable by Firehose."""
        with self.translate(f"create the delivery stream {name}"):
            response = retry_while_role_propagates(
                lambda: self.client("firehose").create_delivery_stream(
                    DeliveryStreamName=name,
                    DeliveryStreamType="DirectPut",
                    ExtendedS3DestinationConfiguration=s3_destination,
                    Tags=tags_list(tags),
                ),
                sleep=self.sleep,
                on_retry=on_retry,
                attempts=attempts,
            )
        return str(response["DeliveryStreamARN"])

    def update_s3_destination(self, name: str, description: dict[str, Any], update: dict[str, Any]) -> None:
        destination = description["Destinations"][0]
        self.call(
            "firehose", "update_destination", f"update the delivery stream {name}",
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=destination["DestinationId"],
            ExtendedS3DestinationUpdate=update,
        )  # fmt: skip

    def delivery_stream_tags(self, name: str) -> dict[str, str] | None:
        found = self.describe("firehose", "list_tags_for_delivery_stream", f"read the tags of {name}", DeliveryStreamName=name)
        return None if found is None else tags_dict(found.get("Tags"))

    def delete_delivery_stream(self, name: str) -> None:
        self.call("firehose", "delete_delivery_stream", f"delete the delivery stream {name}", DeliveryStreamName=name)

    def put_record_batch(self, stream: str, records: list[bytes]) -> list[str | None]:
        """One PutRecordBatch call: the ErrorCode of each entry (None where it was accepted).

        Raises RetryableError when the whole call may be sent again (throttling, 5xx, network).
        """
        client = self.client("firehose-data")
        try:
            response = client.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": r} for r in records])
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise TollError(f"the delivery stream {stream} does not exist: run `toll setup`") from None
            raise translate_error(exc, f"send records to {stream}") from None
        results = response.get("RequestResponses", [])
        if len(results) != len(records):
            raise RetryableError(f"PutRecordBatch answered {len(results)} entries for {len(records)} records")
        return [result.get("ErrorCode") or None for result in results]

    # Glue -----------------------------------------------------------------------------------
    def glue_database_arn(self, database: str) -> str:
        return f"arn:{self.partition}:glue:{self.region}:{self.account_id()}:database/{database}"

    def get_database(self, name: str) -> dict[str, Any] | None:
        found = self.describe("glue", "get_database", f"look up the Glue database {name}", Name=name)
        return None if found is None else found["Database"]

    def create_database(self, name: str, *, description: str, tags: dict[str, str]) -> None:
        self.call(
            "glue", "create_database", f"create the Glue database {name}",
            DatabaseInput={"Name": name, "Description": description}, Tags=tags,
        )  # fmt: skip

    def database_tags(self, name: str) -> dict[str, str] | None:
        if self.get_database(name) is None:
            return None
        found = self.call("glue", "get_tags", f"read the tags of the database {name}", ResourceArn=self.glue_database_arn(name))
        return dict(found.get("Tags") or {})

    def delete_database(self, name: str) -> None:
        self.call("glue", "delete_database", f"delete the Glue database {name}", Name=name)

    def get_table(self, database: str, name: str) -> dict[str, Any] | None:
        found = self.describe("glue", "get_table", f"look up the table {database}.{name}", DatabaseName=database, Name=name)
        return None if found is None else found["Table"]

    def put_table(self, database: str, table_input: dict[str, Any], *, exists: bool) -> None:
        operation = "update_table" if exists else "create_table"
        self.call(
            "glue", operation, f"{operation.split('_')[0]} the table {database}.{table_input['Name']}",
            DatabaseName=database, TableInput=table_input,
        )  # fmt: skip

    def table_names(self, database: str) -> list[str]:
        names: list[str] = []
        with self.translate(f"list the tables in {database}"):
            for page in self.client("glue").get_paginator("get_tables").paginate(DatabaseName=database):
                names.extend(table["Name"] for table in page.get("TableList", []))
        return names

    def delete_table(self, database: str, name: str) -> None:
        self.call("glue", "delete_table", f"delete the table {database}.{name}", DatabaseName=database, Name=name)

    # Athena ---------------------------------------------------------------------------------
    def workgroup_arn(self, name: str) -> str:
        return f"arn:{self.partition}:athena:{self.region}:{self.account_id()}:workgroup/{name}"

    def get_workgroup(self, name: str) -> dict[str, Any] | None:
        try:
            found = self.describe("athena", "get_work_group", f"look up the Athena workgroup {name}", WorkGroup=name)
        except TollError as exc:
            if "InvalidRequestException" in exc.message and "not" in exc.message.lower():  # Athena's "not found"
                return None
            raise
        return None if found is None else found.get("WorkGroup") or None

    def create_workgroup(self, name: str, *, configuration: dict[str, Any], description: str, tags: dict[str, str]) -> None:
        self.call(
            "athena", "create_work_group", f"create the Athena workgroup {name}",
            Name=name, Configuration=configuration, Description=description, Tags=tags_list(tags),
        )  # fmt: skip

    def update_workgroup(self, name: str, *, configuration: dict[str, Any]) -> None:
        update = {
            "EnforceWorkGroupConfiguration": configuration["EnforceWorkGroupConfiguration"],
            "BytesScannedCutoffPerQuery": configuration["BytesScannedCutoffPerQuery"],
            "PublishCloudWatchMetricsEnabled": configuration["PublishCloudWatchMetricsEnabled"],
            "ResultConfigurationUpdates": {
                "OutputLocation": configuration["ResultConfiguration"]["OutputLocation"],
                "EncryptionConfiguration": configuration["ResultConfiguration"]["EncryptionConfiguration"],
            },
        }
        self.call(
            "athena", "update_work_group", f"update the Athena workgroup {name}", WorkGroup=name, ConfigurationUpdates=update
        )

    def workgroup_tags(self, name: str) -> dict[str, str] | None:
        if self.get_workgroup(name) is None:
            return None
        found = self.call("athena", "list_tags_for_resource", f"read the tags of {name}", ResourceARN=self.workgroup_arn(name))
        return tags_dict(found.get("Tags"))

    def delete_workgroup(self, name: str) -> None:
        self.call(
            "athena", "delete_work_group", f"delete the Athena workgroup {name}", WorkGroup=name, RecursiveDeleteOption=True
        )

    def athena_query(
        self, sql: str, *, staging_dir: str, workgroup: str, database: str, timeout: float | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]], int]:
        """Run one statement through PyAthena: (columns, rows, bytes scanned). After `timeout`
        seconds, or on Ctrl-C, the query is stopped in Athena (StopQueryExecution), so a runaway
        query neither keeps scanning (and billing) nor keeps the terminal."""
        # lazy: pyathena adds ~6 ms to the AWS backend's import (after boto3) and only `toll query` needs it
        from pyathena import connect
        from pyathena.error import Error as AthenaError  # lazy too: see the line above

        kwargs: dict[str, Any] = {
            "s3_staging_dir": staging_dir,
            "region_name": self.region,
            "work_group": workgroup,
            "schema_name": database,
            "poll_interval": 0.5,
        }
        if self.profile:
            kwargs["profile_name"] = self.profile
        try:
            with self.translate("run the query on Athena"), connect(**kwargs) as connection:
                cursor = connection.cursor()
                _execute_within(cursor, sql, timeout)
                columns = [d[0] for d in cursor.description or []]
                rows = [tuple(row) for row in cursor.fetchall()]
                scanned = int(cursor.data_scanned_in_bytes or 0)
        except AthenaError as exc:
            raise TollError(f"Athena could not run the query: {exc}") from None
        return columns, rows, scanned

    # everything tagged ----------------------------------------------------------------------
    def tagged_arns(self, key: str, value: str) -> list[str]:
        """ARNs of every resource in this region carrying `key=value` (Resource Groups Tagging API)."""
        arns: list[str] = []
        with self.translate("list tagged resources (tag:GetResources)"):
            paginator = self.client("resourcegroupstaggingapi").get_paginator("get_resources")
            for page in paginator.paginate(TagFilters=[{"Key": key, "Values": [value]}]):
                arns.extend(item["ResourceARN"] for item in page.get("ResourceTagMappingList", []))
        return arns


def _execute_within(cursor: Cursor, sql: str, timeout: float | None) -> None:
    """`cursor.execute(sql)` (PyAthena polls until the query ends) on a worker thread, so that the
    main thread can stop the query in Athena when `timeout` runs out or on Ctrl-C."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            cursor.execute(sql)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="toll-athena-query", daemon=True)
    worker.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        # Short waits, not one join(timeout): Ctrl-C reaches the main thread between them.
        while worker.is_alive() and (deadline is None or time.monotonic() < deadline):
            worker.join(0.1)
    except KeyboardInterrupt:
        _stop_query(cursor)
        raise
    if worker.is_alive():
        _stop_query(cursor)
        raise TollError(f"query stopped after {timeout:g} s (--timeout)")
    if "error" in outcome:
        raise outcome["error"]


def _stop_query(cursor: Cursor) -> None:
    """StopQueryExecution for the cursor's query, if it has started; a failure here changes nothing
    the user can act on (the workgroup's own scan limit still bounds the query)."""
    try:
        cursor.cancel()
    except Exception:
        pass


def refused_for_good(service: str, records: int, attempts: int, reason: str) -> TollError:
    """A batch still refused after every attempt: what an AWS sink stops with."""
    return TollError(
        f"{service} refused {records:,} records {attempts} times in a row ({reason}): "
        "the stream is throttled or failing; lower --rate or try again later"
    )


def stopped_with_count(error: TollError, *, accepted: int, received: int, destination: str) -> TollError:
    """A sink that stops says how many of the records it took were delivered (exit 1: some were)."""
    return TollError(f"{error.message} ({accepted:,} of {received:,} records were delivered to {destination}; the rest were not)")
