"""The anomaly app's Lambda entry point (`tollcli.backends.aws.lambda_handler.handler`, python3.12).

Lambda reads the live record stream with 10-second tumbling windows. Within a window it calls
us once per batch with the state we returned last time; we count vehicles per station into that
state (a few hundred bytes, far below Lambda's 1 MB). On the window's final invoke
(`isFinalInvokeForWindow`) we hand the window to the shared anomaly core (`tollcli.anomaly`:
the same scorer, alert rule and message as the local backend; Lambda's windows stand in for its
event-time windows, so the window is by arrival time, as the workshop's ROWTIME was). The core's
checkpoint lives in the bucket between windows (a forest is ~4 MB, too big for the window state).
The scored window goes under `anomaly/scores/` (Athena's `anomaly_scores`); each alert goes
under `anomaly/alerts/` and its workshop message to the SNS topic. The app's config (mode,
threshold, forest) comes from the `TOLL_ANOMALY_CONFIG` environment variable that deploy sets.

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
- A model key S3 refuses (AccessDenied: the role lacks s3:ListBucket, so a missing key is a 403,
  or may not read it) is a policy problem no retry fixes: one clear log line, the window is
  skipped, and the stream moves on instead of retrying the same denied read.
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

import boto3

from tollcli.anomaly.alerts import WebhookNotifier
from tollcli.anomaly.app import AnomalyApp, AnomalyConfig
from tollcli.anomaly.windows import ClosedWindow
from tollcli.errors import TollError
from tollcli.units import format_instant, parse_instant

log = logging.getLogger("tollcli.anomaly")
log.setLevel(logging.INFO)

SCORES_PREFIX = "anomaly/scores/"
ALERTS_PREFIX = "anomaly/alerts/"
MODEL_KEY = "anomaly/state/model.bin"
CONFIG_VARIABLE = "TOLL_ANOMALY_CONFIG"
STATE_VERSION = 1


@dataclass(frozen=True)
class HandlerConfig:
    """The function's environment: where to write, where to alert, and the app's config."""

    bucket: str
    topic_arn: str | None
    app: AnomalyConfig

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HandlerConfig:
        env = os.environ if environ is None else environ
        raw = env.get(CONFIG_VARIABLE)
        app = AnomalyConfig.from_json(json.loads(raw)) if raw else AnomalyConfig()
        return cls(bucket=env["TOLL_BUCKET"], topic_arn=env.get("TOLL_TOPIC_ARN") or None, app=app)


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


# --- the bucket --------------------------------------------------------------------------------
def window_key(prefix: str, window_start: datetime) -> str:
    stamp = window_start.strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{prefix}{window_start:%Y/%m/%d/%H}/{stamp}.json"


class ModelAccessDenied(TollError):
    """The model's key is refused (403): a policy problem, reported once per window, never retried."""


class ModelStore:
    """The app's checkpoint (`AnomalyApp.state_bytes`: model and counters) in the bucket."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def load(self, config: AnomalyConfig) -> AnomalyApp:
        """The app as the last window left it; a fresh one before the first window, or when the
        checkpoint was made with other model settings (a deploy that changed them)."""
        try:
            blob = self.s3.get_object(Bucket=self.bucket, Key=MODEL_KEY)["Body"].read()
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                return AnomalyApp(config)
            if code in {"AccessDenied", "403", "Forbidden"}:
                # S3 answers a missing key with 403 to a caller without s3:ListBucket, so this is
                # either a role without that grant or a model we may not read: no retry fixes either.
                raise ModelAccessDenied(
                    f"the function's role may not read s3://{self.bucket}/{MODEL_KEY} (AccessDenied): it needs "
                    "s3:GetObject on anomaly/* and s3:ListBucket on the bucket (run `toll deploy` again to restore "
                    "its policy); this window is not scored"
                ) from None
            raise
        try:
            return AnomalyApp.from_state_bytes(blob, config=config)
        except TollError as exc:
            log.warning("starting a fresh model: %s", exc.message)
            return AnomalyApp(config)

    def save(self, app: AnomalyApp) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=MODEL_KEY, Body=app.state_bytes())


# --- the final invoke --------------------------------------------------------------------------
def finish_window(
    state: Mapping[str, Any], window: Mapping[str, str], *, config: HandlerConfig, s3: Any, sns: Any
) -> dict[str, Any]:
    """Score one closed window with the shared core, persist it, alert if needed; a log summary."""
    start, end = (parse_instant(window[edge]).astimezone(timezone.utc) for edge in ("start", "end"))  # UTC: keys name it
    label = format_instant(start, timespec="seconds")
    store = ModelStore(s3, config.bucket)
    try:
        app = store.load(config.app)
    except ModelAccessDenied as exc:
        # Raising would make Lambda retry the same denied read until the mapping gives up, holding
        # the shard: say what is wrong in one log line and let the stream move on.
        log.error(exc.message)
        return {"window_start": label, "skipped": True, "error": exc.message}
    last = app.stats.last_window_start
    if last is not None and parse_instant(last) >= start:
        log.info("window %s was already scored (the model learned up to %s): nothing to do", label, last)
        return {"window_start": label, "skipped": True}
    closed = ClosedWindow(
        start=start.timestamp(),
        end=end.timestamp(),
        counts={str(k): int(v) for k, v in (state.get("counts") or {}).items()},
        late_records=0,  # Lambda's windows are by arrival time: no record is ever late
        rejected_records=int(state.get("rejected", 0)),
    )
    app.stats.records += closed.records
    scored = app.score(closed)
    rows = scored.table_rows()
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()
    s3.put_object(Bucket=config.bucket, Key=window_key(SCORES_PREFIX, start), Body=body, ContentType="application/x-ndjson")
    for alert in scored.alerts:
        record = {**alert.to_json(), "records": closed.records, "rejected_records": closed.rejected_records, "notified": False}
        if config.topic_arn:
            try:
                subject = f"toll: anomalous traffic at {alert.station}"
                sns.publish(TopicArn=config.topic_arn, Subject=subject, Message=alert.message)
                record["notified"] = True
            except Exception as exc:  # the alert is kept in the bucket; a dead topic never stops scoring
                log.error("could not publish the alert to %s: %s", config.topic_arn, exc)
                record["error"] = str(exc)
        if config.app.webhook:  # synchronous here: the invocation ends when the window does
            record["webhook_delivered"] = WebhookNotifier(config.app.webhook, attempts=3, timeout=3.0).deliver(alert.to_json())
        key = window_key(ALERTS_PREFIX, start).replace(".json", f"-{alert.station}.json")
        s3.put_object(Bucket=config.bucket, Key=key, Body=json.dumps(record).encode(), ContentType="application/json")
        log.warning(alert.message)
    store.save(app)
    return {"window_start": label, "records": closed.records, "score": scored.score, "alerts": len(scored.alerts)}


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
        _CLIENTS[name] = boto3.client(name)
    return _CLIENTS[name]


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:  # context: the Lambda runtime's, unused
    return process(event, config=HandlerConfig.from_environ(), s3=_client("s3"), sns=_client("sns"))
