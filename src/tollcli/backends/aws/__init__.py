"""The AWS backend, one package; the only part of tollcli that imports boto3/botocore.

    client          the AWS session: typed calls, error translation, retries, throttling, waits
    names           the stack's names and tag key; context: `AwsContext`, what each component is handed
    backend         AwsBackend: Section 1 setup (plan, act, record in the ledger), status, teardown
    sinks           what `toll generate` writes to: FirehoseSink (PutRecordBatch) and, after
                    `toll deploy`, KinesisSink (PutRecords); both resend exactly what was refused
    packing         many lines to a record, as the services bill them
    anomaly         Section 2: Kinesis stream, Lambda, SNS, the stream's delivery stream
    quicksight      `toll dashboard --quicksight`: data source, dataset, analysis, dashboard
    lambda_handler  the function's entry point (runs the shared anomaly core on Kinesis batches)
    lambda_package  builds the function's zip (our code plus Linux wheels fetched by pip)

`AwsBackend` is imported lazily (module `__getattr__`) so that the Lambda function, which imports
`tollcli.backends.aws.lambda_handler` and so this package, does not load the CLI-side modules: the
backend imports `tollcli.render` (rich), which the function's zip does not hold (`lambda_package`
zips the handler's import closure only), and would add ~15 ms to every cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollcli.backends.aws.backend import AwsBackend

__all__ = ["AwsBackend"]


def __getattr__(name: str) -> type[AwsBackend]:
    if name == "AwsBackend":
        # lazy: the Lambda function imports this package without the CLI side (see the docstring: rich, ~15 ms)
        from tollcli.backends.aws.backend import AwsBackend

        return AwsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
