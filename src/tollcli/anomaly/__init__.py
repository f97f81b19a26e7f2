"""The anomaly app shared by every backend: windows, Random Cut Forest, alerts.

    records (event time, station) --> windows.TumblingWindows (10 s, 2 s lateness, late counted)
        --> rcf scorer (default: one 11-dimensional point per window with attribution;
                        workshop: the workshop's per-row RANDOM_CUT_FOREST(..., 1, 10, 10, 2))
        --> baseline (each station's usual count: HIGH/LOW and the station an alert names)
        --> app.ScoredWindow (rows of `anomaly_scores`, alerts above the threshold)
        --> alerts (the workshop's message, an append-only log, a webhook that never blocks)

`app.AnomalyApp` is pure (no files, network, Typer, boto3 or DuckDB): `process(times, stations)`
returns scored windows and `state_bytes()` / `from_state_bytes()` carry it between runs.
The local backend's feed (`backends/local/anomaly_feed.py`) keeps it under `<home>/anomaly/`; on AWS the
Lambda function (`backends/aws/lambda_handler.py`) keeps it in the bucket.
"""

from tollcli.anomaly.app import SCORE_COLUMNS, AnomalyApp, AnomalyConfig, ScoredWindow

__all__ = ["SCORE_COLUMNS", "AnomalyApp", "AnomalyConfig", "ScoredWindow"]
