"""The anomaly app's Lambda entry point (`tollcli.lambda_handler.handler`, python3.12).

Lambda reads the live record stream with 10-second tumbling windows. Within a window it calls
us once per batch with the state we returned last time; we count vehicles per station into that
state (a few hundred bytes, far below Lambda's 1 MB). On the window's final invoke
(`isFinalInvokeForWindow`) we score the window with the shared anomaly core, whose model lives in
the bucket between windows (a forest is ~3.5 MB, too big for the window state), then write the
scored window under `anomaly/scores/`, and above the threshold write an alert under
`anomaly/alerts/` and publish the workshop's message to the SNS topic.

Failures, as Lambda defines them for streams with tumbling windows:
- A record we cannot decode (not base64 or not UTF-8) stops the batch there: it and every
  record after it are returned in `batchItemFailures`, with the state of the records before it,
  so Lambda retries from that record (ReportBatchItemFailures) and then gives up on it after the
  mapping's retry limit. A well-formed record whose CSV line is malformed is bad data that no
  retry can fix: it is counted as rejected in the window, never silently dropped.
- The final invoke either finishes or raises: Lambda then retries it, with the same state,
  before processing anything else. Scoring is idempotent per window (the model records the
  last window it learned), so a retry after a half-finished final invoke never teaches the
  model the same window twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("tollcli.anomaly")
log.setLevel(logging.INFO)

SCORES_PREFIX = "anomaly/scores/"
ALERTS_PREFIX = "anomaly/alerts/"
MODEL_KEY = "anomaly/state/model.msgpack"
LAST_WINDOW_METADATA = "last-window-start"
STATE_VERSION = 1

ALERT_MESSAGE = (
    "Anomalous data detected at station {station}. Total vehicles detected was {vehicle_count}. "
    "The anomaly score was {anomaly_score}, which is greater than your configured threshold of {threshold}"
)


@dataclass(frozen=True)
class HandlerConfig:
    bucket: str
    topic_arn: str | None
    threshold: float
    settings: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HandlerConfig:
        env = os.environ if environ is None else environ
        return cls(
            bucket=env["TOLL_BUCKET"],
            topic_arn=env.get("TOLL_TOPIC_ARN") or None,
            threshold=float(env.get("TOLL_THRESHOLD", "2.5")),
            settings={k: v for k, v in env.items() if k.startswith("TOLL_")},
        )


# --- counting within a window ------------------------------------------------------------------
def empty_state() -> dict[str, Any]:
    return {"v": STATE_VERSION, "counts": {}, "records": 0, "rejected": 0}


def station_of(line: str) -> str | None:
    """The station (`toll` column) of one `date,toll,user` line, or None if it is not one."""
    fields = line.strip().split(",")
    if len(fields) != 3 or not fields[0] or not fields[1].strip():
        return None
    return fields[1].strip()


def count_records(records: list[dict[str, Any]], state: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Add a batch's records to the window state; (new state, sequence numbers that failed)."""
    counts = dict(state.get("counts") or {})
    total = int(state.get("records", 0))
    rejected = int(state.get("rejected", 0))
    failed: list[str] = []
    for index, record in enumerate(records):
        kinesis = record.get("kinesis") or {}
        try:
            text = base64.b64decode(kinesis["data"], validate=True).decode("utf-8")
        except (KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            failed = [str((r.get("kinesis") or {}).get("sequenceNumber", "")) for r in records[index:]]
            log.error("record %s cannot be decoded (%s): reporting it and %d after it", failed[0], exc, len(failed) - 1)
            break
        for line in text.splitlines():
            if not line.strip():
                continue
            station = station_of(line)
            if station is None:
                rejected += 1
                continue
            counts[station] = counts.get(station, 0) + 1
            total += 1
    new_state = {"v": STATE_VERSION, "counts": counts, "records": total, "rejected": rejected}
    return new_state, failed


# --- scoring (the shared anomaly core) ---------------------------------------------------------
STATIONS = ("183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South")


@dataclass(frozen=True)
class ScoredRow:
    station: str
    vehicle_count: int
    anomaly_score: float
    explanation: str


@dataclass(frozen=True)
class ScoredWindow:
    rows: list[ScoredRow]
    top_station: str | None  # the station an alert names, when the window has one score


class WindowScorer:
    """One RCF point per window (the counts of all stations), as the local app's default mode."""

    def __init__(self, forest: Any) -> None:
        self.forest = forest

    @classmethod
    def load(cls, blob: bytes | None, settings: Mapping[str, str]) -> WindowScorer:
        import krcf

        if blob is not None:
            return cls(krcf.RandomCutForest.from_msgpack(blob))
        options = {
            "dimensions": len(STATIONS),
            "shingle_size": 1,
            "num_trees": int(settings.get("TOLL_TREES", "100")),
            "sample_size": int(settings.get("TOLL_SAMPLE_SIZE", "256")),
            "output_after": int(settings.get("TOLL_OUTPUT_AFTER", "32")),
            "random_seed": int(settings.get("TOLL_SEED", "42")),
        }
        return cls(krcf.RandomCutForest(options))

    def score_window(self, counts: Mapping[str, int], *, window_start: datetime, window_end: datetime) -> ScoredWindow:
        point = [float(counts.get(station, 0)) for station in STATIONS]
        score = float(self.forest.score(point))
        explanation, top = "", None
        if score > 0:
            attribution = self.forest.attribution(point)
            high, low = attribution.get("high", [0.0] * len(point)), attribution.get("low", [0.0] * len(point))
            shares = [(h + lo, "HIGH" if h >= lo else "LOW", s) for h, lo, s in zip(high, low, STATIONS)]
            strength, direction, top = max(shares)
            explanation = f"{top} {direction} {strength / score:.0%}"
        self.forest.update(point)
        stations = [*STATIONS, *sorted(set(counts) - set(STATIONS))]  # a silent station is a row too (count 0)
        rows = [ScoredRow(s, int(counts.get(s, 0)), round(score, 4), explanation) for s in stations]
        return ScoredWindow(rows=rows, top_station=top)

    def to_bytes(self) -> bytes:
        return bytes(self.forest.to_msgpack())


# --- the bucket --------------------------------------------------------------------------------
def window_key(prefix: str, window_start: datetime) -> str:
    stamp = window_start.strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{prefix}{window_start:%Y/%m/%d/%H}/{stamp}.json"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ModelStore:
    """The scorer's state in the bucket, with the start of the last window it learned."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def load(self) -> tuple[bytes | None, str | None]:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=MODEL_KEY)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                return None, None
            raise
        return response["Body"].read(), response.get("Metadata", {}).get(LAST_WINDOW_METADATA)

    def save(self, blob: bytes, last_window: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=MODEL_KEY, Body=blob, Metadata={LAST_WINDOW_METADATA: last_window})


# --- the final invoke --------------------------------------------------------------------------
def alert_text(row: Mapping[str, Any], threshold: float) -> str:
    return ALERT_MESSAGE.format(
        station=row["station"], vehicle_count=row["vehicle_count"], anomaly_score=row["anomaly_score"], threshold=threshold
    )


def finish_window(
    state: Mapping[str, Any], window: Mapping[str, str], *, config: HandlerConfig, s3: Any, sns: Any
) -> dict[str, Any]:
    """Score one closed window, persist it, alert if needed; a summary for the log."""
    start, end = parse_time(window["start"]), parse_time(window["end"])
    counts = {str(k): int(v) for k, v in (state.get("counts") or {}).items()}
    store = ModelStore(s3, config.bucket)
    blob, last_window = store.load()
    if last_window is not None and parse_time(last_window) >= start:
        log.info("window %s was already scored (model learned up to %s): nothing to do", iso(start), last_window)
        return {"window_start": iso(start), "skipped": True}
    scorer = WindowScorer.load(blob, config.settings)
    scored = scorer.score_window(counts, window_start=start, window_end=end)
    rows = []
    for row in scored.rows:
        rows.append(
            {
                "window_start": iso(start),
                "window_end": iso(end),
                "station": row.station,
                "vehicle_count": row.vehicle_count,
                "anomaly_score": row.anomaly_score,
                "explanation": row.explanation,
                "alert": row.anomaly_score > config.threshold,
            }
        )
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    s3.put_object(
        Bucket=config.bucket, Key=window_key(SCORES_PREFIX, start), Body=body.encode(), ContentType="application/x-ndjson"
    )
    alerts = [r for r in rows if r["alert"]]
    if scored.top_station is not None:  # one score per window: one alert, naming the station that explains it
        alerts = [r for r in alerts if r["station"] == scored.top_station][:1]
    for alert in alerts:
        message = alert_text(alert, config.threshold)
        record = {
            **alert,
            "threshold": config.threshold,
            "message": message,
            "records": int(state.get("records", 0)),
            "rejected": int(state.get("rejected", 0)),
            "notified": False,
        }
        if config.topic_arn:
            try:
                sns.publish(TopicArn=config.topic_arn, Subject=f"toll: anomalous traffic at {alert['station']}", Message=message)
                record["notified"] = True
            except Exception as exc:  # the alert is kept in the bucket; a dead topic never stops scoring
                log.error("could not publish the alert to %s: %s", config.topic_arn, exc)
                record["error"] = str(exc)
        key = window_key(ALERTS_PREFIX, start).replace(".json", f"-{alert['station']}.json")
        s3.put_object(Bucket=config.bucket, Key=key, Body=json.dumps(record).encode(), ContentType="application/json")
        log.warning(message)
    store.save(scorer.to_bytes(), iso(start))
    return {"window_start": iso(start), "rows": len(rows), "alerts": len(alerts), "records": int(state.get("records", 0))}


# --- the entry point ---------------------------------------------------------------------------
def process(event: Mapping[str, Any], *, config: HandlerConfig, s3: Any, sns: Any) -> dict[str, Any]:
    """One invocation: the new window state and the records to retry."""
    records = list(event.get("Records") or [])
    carried = event.get("state") or {}
    state, failed = count_records(records, carried if carried else empty_state())
    if failed:
        return {"state": state, "batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}
    if event.get("isFinalInvokeForWindow"):
        if event.get("isWindowTerminatedEarly"):
            log.warning("Lambda closed window %s early (state over 1 MB?)", event.get("window"))
        summary = finish_window(state, event["window"], config=config, s3=s3, sns=sns)
        log.info("window scored: %s", json.dumps(summary))
        return {"state": {}, "batchItemFailures": []}
    return {"state": state, "batchItemFailures": []}


_CLIENTS: dict[str, Any] = {}


def _client(name: str) -> Any:
    """One boto3 client per cold start (the Lambda runtime provides boto3)."""
    if name not in _CLIENTS:
        import boto3

        _CLIENTS[name] = boto3.client(name)
    return _CLIENTS[name]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process(event, config=HandlerConfig.from_environ(), s3=_client("s3"), sns=_client("sns"))
