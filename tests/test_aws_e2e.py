"""The real `toll` CLI against a moto server on 127.0.0.1, as a user would run it on AWS:
setup -> generate --count 1234 -> the bucket holds exactly those lines -> query -> teardown.
Nothing here reaches AWS: every call goes to AWS_ENDPOINT_URL with fake credentials.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

REGION = "us-west-2"
LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d),[A-Za-z0-9]+,[A-Z0-9]+\n$")
KEY = re.compile(r"^\d{4}/\d\d/\d\d/\d\d/toll-data-stream-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """`moto_server` in its own process; its state is shared by every process that calls it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("moto_server exited at start")
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start within 20 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def aws_env(moto_endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
    }


@pytest.fixture
def moto(moto_endpoint: str, aws_env: dict[str, str]) -> Callable[[str], Any]:
    """A boto3 client on the moto server, to look at what the CLI made."""
    return lambda name: boto3.client(
        name, region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def queue_athena_result(endpoint: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """moto runs no SQL: queue the answer Athena would give to the next query."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    body = {
        "region": REGION,
        "results": [
            {
                "rows": [header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)],
                "column_info": [
                    {
                        "Name": n,
                        "Label": n,
                        "Type": t,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": t == "varchar",
                        "Precision": 0,
                        "Scale": 0,
                    }
                    for n, t in columns
                ],
            }
        ],
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_setup_generate_query_teardown_end_to_end(
    toll_process: Callable[..., subprocess.CompletedProcess[str]],
    aws_env: dict[str, str],
    moto: Callable[[str], Any],
    moto_endpoint: str,
) -> None:
    setup = toll_process("--backend", "aws", "setup", "--format", "json", env=aws_env)
    assert setup.returncode == 0, setup.stderr
    created = {r["kind"]: r["name"] for r in json.loads(setup.stdout)["created"]}
    assert set(created) == {"bucket", "role", "delivery_stream", "database", "table", "workgroup"}
    bucket = created["bucket"]

    again = toll_process("--backend", "aws", "setup", "--format", "json", env=aws_env)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False

    generate = toll_process("generate", "--count", "1234", "--backfill", "--seed", "7", env=aws_env)
    assert generate.returncode == 0, generate.stderr
    assert "failed 0" in generate.stdout + generate.stderr

    s3 = moto("s3")
    # Plain HTTP to the emulator breaks the bucket's TLS-only rule (moto enforces it, ignoring the
    # condition); lift it to read back what Firehose delivered.
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys and all(KEY.match(k) for k in keys), keys[:3]
    lines = [line for k in keys for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().splitlines(keepends=True)]
    assert len(lines) == 1234
    assert all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)][:3]

    queue_athena_result(
        moto_endpoint,
        [
            ("station", "varchar"),
            ("records", "bigint"),
            ("share_pct", "double"),
            ("station_rank", "bigint"),
            ("total_records", "bigint"),
        ],
        [["SH130", "156", "12.64", "1", "1234"], ["Exit29", "148", "11.99", "2", "1234"]],
    )
    query = toll_process("query", "busiest", "--format", "json", env=aws_env)
    assert query.returncode == 0, query.stderr
    answer = json.loads(query.stdout)
    assert answer["total_records"] == 1234
    assert [row["station"] for row in answer["rows"]] == ["SH130", "Exit29"]
    assert any(note.startswith("Athena scanned") and "$5 per TB" in note for note in answer["notes"])
    executions = moto("athena").list_query_executions(WorkGroup="toll-workgroup")["QueryExecutionIds"]
    assert len(executions) == 1

    status = toll_process("status", "--format", "json", env=aws_env)
    assert status.returncode == 0, status.stderr
    states = {r["kind"]: r["state"] for r in json.loads(status.stdout)["resources"]}
    assert states["delivery_stream"] == "ACTIVE" and states["bucket"] == "present"

    teardown = toll_process("teardown", "--yes", env=aws_env)
    assert teardown.returncode == 0, teardown.stderr
    assert [b["Name"] for b in s3.list_buckets().get("Buckets", [])] == []
    assert moto("iam").list_roles(PathPrefix="/toll/")["Roles"] == []
    assert moto("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    assert moto("glue").get_databases()["DatabaseList"] == []
    assert [w["Name"] for w in moto("athena").list_work_groups()["WorkGroups"]] == ["primary"]
    assert "AWS_SECRET" not in teardown.stdout + teardown.stderr


def test_no_region_and_no_credentials_are_one_line_each(
    toll_process: Callable[..., subprocess.CompletedProcess[str]], aws_env: dict[str, str], tmp_path: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=aws_env["AWS_ENDPOINT_URL"], AWS_CONFIG_FILE=str(tmp_path / "none"))
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true", AWS_REGION=REGION)
    result = subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(tmp_path / "h"), "--backend", "aws", "setup"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "toll: error: no AWS credentials found: run `aws configure` (or `aws sso login`), set AWS_PROFILE, "
        "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]
    assert not (tmp_path / "h").exists()
