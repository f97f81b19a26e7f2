"""Shared fixtures: a fresh home per test, the CLI through CliRunner and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botocore_strict import StrictValidator, install
from tollcli.cli import app


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials, no profile, and no TOLL_* leaking in."""
    for name in list(os.environ):
        if name.startswith("TOLL_") or name in {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def strict_aws_requests() -> Iterator[StrictValidator]:
    """Every AWS request made in the test, checked against botocore's service model with what its
    client-side validator skips (max lengths, ranges, enums, patterns): any violation fails the
    test, even one moto accepted or our code caught. A test that sends a bad request on purpose
    clears `errors` after checking them."""
    with install(StrictValidator()) as validator:
        yield validator
    if validator.errors:
        shown = "\n  ".join(dict.fromkeys(validator.errors))
        pytest.fail(f"AWS would refuse {len(validator.errors)} request parameter(s) sent in this test:\n  {shown}", pytrace=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder that does not exist yet (as on a first `toll setup`)."""
    return tmp_path / "home"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def toll(runner: CliRunner, home: Path) -> Callable[..., object]:
    """Invoke `toll --home <home> ARGS...` in process; returns click's Result."""

    def invoke(*args: str, input: str | None = None, home_dir: Path | None = None) -> object:
        return runner.invoke(app, ["--home", str(home_dir or home), *args], input=input)

    return invoke


@pytest.fixture
def toll_process(home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `python -m tollcli --home <home> ARGS...` as a subprocess."""

    def run(
        *args: str, timeout: float = 120, env: dict[str, str] | None = None, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tollcli", "--home", str(home), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            **kwargs,  # type: ignore[arg-type]
        )

    return run


@pytest.fixture(scope="session")
def lambda_build_cache(request: pytest.FixtureRequest) -> Path:
    """The Lambda package's build folder, kept between runs so the wheels are downloaded once."""
    from filelock import FileLock

    from tollcli.backends.aws.lambda_package import build_lambda_package
    from tollcli.errors import TollError

    cache = Path(request.config.cache.mkdir("toll-lambda-build"))
    try:
        with FileLock(str(cache) + ".lock"):  # pytest-xdist workers build one package, one at a time
            build_lambda_package(cache)
    except TollError as exc:
        pytest.skip(f"the Lambda wheels cannot be fetched (PyPI unreachable?): {exc.message}")
    return cache


def bucket_lines_in_s3(bucket: str, region: str) -> list[bytes]:
    """Every line Firehose (moto) wrote to `bucket`, read with a plain boto3 client."""
    import boto3

    s3 = boto3.client("s3", region_name=region)
    s3.delete_bucket_policy(Bucket=bucket)  # moto ignores the TLS condition and would deny our reads
    lines: list[bytes] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            lines.extend(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().splitlines(keepends=True))
    return lines


@pytest.fixture
def read_bucket_lines() -> Callable[[str, str], list[bytes]]:
    """`bucket_lines_in_s3` for tests in any folder (fixtures travel where imports do not)."""
    return bucket_lines_in_s3
