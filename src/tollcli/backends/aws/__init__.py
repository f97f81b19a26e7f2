"""The AWS backend, one package; the only part of tollcli that imports boto3/botocore.

    client          every AWS call: error translation, retries, throttling, propagation waits
    stack           AwsBackend: Section 1 setup (plan, act, record in the ledger), status, teardown
    firehose        FirehoseSink: `toll generate` -> PutRecordBatch (partial failures resent)
    anomaly         Section 2: Kinesis stream, Lambda, SNS, the KDS-sourced delivery stream; KinesisSink
    quicksight      `toll dashboard --quicksight`: data source, dataset, analysis, dashboard
    lambda_handler  the function's entry point (runs the shared anomaly core on Kinesis batches)
    lambda_package  builds the function's zip (our code plus Linux wheels fetched by pip)

`AwsBackend` is imported lazily so that the Lambda function, which imports
`tollcli.backends.aws.lambda_handler`, does not load the CLI-side modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tollcli.backends.aws.stack import AwsBackend

__all__ = ["AwsBackend"]


def __getattr__(name: str) -> Any:
    if name == "AwsBackend":
        from tollcli.backends.aws.stack import AwsBackend

        return AwsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
