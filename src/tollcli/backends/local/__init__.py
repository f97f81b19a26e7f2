"""The local backend, whole: the workshop's pipeline on this machine, with no AWS account.

    backend.py          LocalBackend: setup, status, teardown, deploy (the `Backend` interface)
    layout.py           the home's folders, and `LocalHome`, what the modules below need of the backend
    delivery.py         Firehose: records buffered (1 MB / 60 s) into objects under <home>/bucket/
    live_runs.py        a live run's mark on the home while its stream is open (`toll query` points it out)
    engine.py           Athena: read-only SQL in Athena's dialect, run by DuckDB over the home's files
    dialect.py          Athena's dialect translated for DuckDB (dialect_rewrites.py: the sqlglot
                        rewrites; dialect_names.py: what both share), SHOW and DESCRIBE answered
    manifest.py         which Parquet parts replaced which CSV objects (read by the engine)
    compact.py          `toll compact`: CSV objects rewritten as Parquet (Firehose's conversion)
    anomaly_feed.py     Kinesis Data Analytics: windows scored by the forest as records arrive
    scoring_process.py  the feed's child process, scoring on another core during a backfill

Nothing outside this package imports these modules but `tollcli.backends.open_backend`.
"""

from tollcli.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
