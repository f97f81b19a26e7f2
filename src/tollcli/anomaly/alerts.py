"""Alerts: the workshop's message, an append-only log, and a webhook that never blocks scoring.

The message is the workshop Lambda's SMS text, with the station's usual count added after its
count when the app has a baseline for it ("... was 273 (usually 11). ..."; `baseline`).

The webhook is POSTed from a background thread with a bounded queue; each alert is tried a few
times with backoff, then given up on and reported. Scoring never waits on the network: a full
queue or a dead endpoint costs an alert's delivery, never a window's score.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tollcli.errors import UsageError

ALERT_MESSAGE = (
    "Anomalous data detected at station {}. Total vehicles detected was {}. "
    "The anomaly score was {}, which is greater than your configured threshold of {}"
)


def alert_message(
    station: str, vehicle_count: int, anomaly_score: float, threshold: float, baseline_count: float | None = None
) -> str:
    """The workshop Lambda's SMS text, word for word, plus the usual count when there is one."""
    counted = str(vehicle_count) if baseline_count is None else f"{vehicle_count} (usually {usual_text(baseline_count)})"
    return ALERT_MESSAGE.format(station, counted, anomaly_score, threshold)


def usual_text(baseline_count: float) -> str:
    """A baseline as people say it: `11`, `10.5`."""
    return f"{round(baseline_count, 1):g}"


def check_threshold(threshold: float) -> float:
    if not threshold > 0 or threshold != threshold or threshold == float("inf"):
        raise UsageError(f"--threshold must be a number above 0 (the workshop uses 2.5), not {threshold}")
    return float(threshold)


def check_webhook(url: str) -> str:
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--webhook {url!r} is not an http(s) URL")
    return url.strip()


@dataclass(frozen=True)
class Alert:
    """One alert, as logged and as POSTed to the webhook."""

    window_start: str
    window_end: str
    station: str
    vehicle_count: int
    anomaly_score: float
    threshold: float
    explanation: str
    mode: str
    message: str
    baseline_count: float | None = None  # the station's usual count; None before the app had one

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AlertLog:
    """`alerts.jsonl`: one alert per line, appended and fsynced; the newest window it holds."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(a.to_json(), separators=(",", ":")) + "\n" for a in alerts).encode()
        with open(self.path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """Alerts oldest first; with `since`, only those of later windows. Torn lines are skipped."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        alerts = []
        for line in raw.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and (since is None or str(item.get("window_start", "")) > since):
                alerts.append(item)
        return alerts

    def last_window_start(self) -> str | None:
        alerts = self.read()
        return str(alerts[-1]["window_start"]) if alerts else None


@dataclass
class WebhookStats:
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    dropped: int = 0  # the queue was full


class WebhookNotifier:
    """POSTs each alert as JSON; retries with backoff; reports what it could not deliver."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 4,
        timeout: float = 2.0,
        backoff: float = 0.5,
        max_queue: int = 1000,
        on_failure: Callable[[str], None] = lambda _m: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = check_webhook(url)
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self.on_failure = on_failure
        self.sleep = sleep
        self.stats = WebhookStats()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None

    def post(self, payload: dict[str, Any]) -> None:
        """Queue one alert; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="toll-webhook", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.stats.dropped += 1
            self.on_failure(f"webhook {self.url}: queue full, alert for {payload.get('station')} not sent")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, waiting at most `timeout` seconds in all."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            self.deliver(payload)

    def deliver(self, payload: dict[str, Any]) -> bool:
        body = json.dumps(payload).encode()
        error = ""
        for attempt in range(self.attempts):
            self.stats.attempts += 1
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "tollcli"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                self.stats.delivered += 1
                return True
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the endpoint refuses this alert: retrying cannot help
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.attempts - 1:
                self.sleep(self.backoff * 2**attempt)
        self.stats.failed += 1
        self.on_failure(f"webhook {self.url}: could not deliver the alert for {payload.get('station')} ({error})")
        return False
