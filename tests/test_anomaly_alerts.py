"""Alerts: the webhook receives them from a real local server; a dead one never stops scoring."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tollcli.anomaly import AnomalyConfig
from tollcli.anomaly.alerts import WebhookNotifier, alert_message
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, scenario
from tollcli.backends.local.anomaly_feed import LocalAnomalyFeed, LocalAnomalyStore
from tollcli.errors import TollError
from tollcli.records import RecordChunk


class Received:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.event = threading.Event()
        self.fail_first = 0


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if received.fail_first > 0:
                received.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            received.bodies.append(json.loads(body))
            received.event.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/alerts"


def test_the_alert_message_is_the_workshops_text() -> None:
    assert alert_message("35South", 267, 5.03, 2.5) == (
        "Anomalous data detected at station 35South. Total vehicles detected was 267. "
        "The anomaly score was 5.03, which is greater than your configured threshold of 2.5"
    )


def test_the_alert_message_says_the_usual_count_after_the_count() -> None:
    assert alert_message("35South", 273, 5.03, 2.5, 11.0) == (
        "Anomalous data detected at station 35South. Total vehicles detected was 273 (usually 11). "
        "The anomaly score was 5.03, which is greater than your configured threshold of 2.5"
    )
    assert "was 0 (usually 107.5). " in alert_message("TX45", 0, 4.1, 2.5, 107.5)


def test_the_webhook_retries_a_failing_server_then_delivers(webhook_server: tuple[str, Received]) -> None:
    url, received = webhook_server
    received.fail_first = 2
    notifier = WebhookNotifier(url, sleep=lambda _s: None)
    assert notifier.deliver({"station": "35South"}) is True
    assert received.bodies == [{"station": "35South"}]
    assert notifier.stats.attempts == 3 and notifier.stats.delivered == 1


def feed_skewed_scenario(feed: LocalAnomalyFeed) -> None:
    times, stations = scenario(7, 60, SKEWED_WEIGHTS, 3)
    for lo in range(0, len(times), 1000):
        feed.consume(RecordChunk(lines=b"", count=1000, event_times=times[lo : lo + 1000], stations=stations[lo : lo + 1000]))


def test_an_alert_reaches_the_webhook_log_and_stderr(tmp_path: Path, webhook_server: tuple[str, Received]) -> None:
    url, received = webhook_server
    store = LocalAnomalyStore(tmp_path / "anomaly")
    messages: list[str] = []
    config = AnomalyConfig.from_options(seed=7, webhook=url)
    with LocalAnomalyFeed(store, config, on_alert=messages.append) as feed:
        feed_skewed_scenario(feed)
    assert received.event.wait(10)
    first = received.bodies[0]
    assert first["station"] == "35South" and first["threshold"] == 2.5
    assert first["message"].startswith("Anomalous data detected at station 35South.")
    assert messages[0] == first["message"]
    assert [a["message"] for a in store.alerts.read()] == messages


def test_a_dead_webhook_never_stops_scoring(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    problems: list[str] = []
    notifier = WebhookNotifier(closed_port_url(), sleep=lambda _s: None, on_failure=problems.append)
    config = AnomalyConfig.from_options(seed=7, webhook=notifier.url)
    with LocalAnomalyFeed(store, config, on_alert=lambda _m: None, webhook=notifier) as feed:
        feed_skewed_scenario(feed)
    assert feed.stats.windows == 62 and feed.stats.alerts >= 1  # every closed window scored
    assert len({r["window_start"] for r in store.read_scores()}) == 62
    assert notifier.stats.failed == feed.stats.alerts and notifier.stats.delivered == 0
    assert problems and "could not deliver" in problems[0]


def test_one_feed_at_a_time_and_a_resumed_feed_neither_repeats_nor_skips(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    config = AnomalyConfig.from_options(seed=7)
    times, stations = scenario(7, 60, SKEWED_WEIGHTS, 3)
    cut = 31_234
    with LocalAnomalyFeed(store, config, on_alert=lambda _m: None) as feed:
        with pytest.raises(TollError, match="one at a time"):
            LocalAnomalyFeed(store, config)
        feed.process(times[:cut], stations[:cut])
    with LocalAnomalyFeed(store, config, on_alert=lambda _m: None) as feed:
        feed.process(times[cut:], stations[cut:])
    starts = [r["window_start"] for r in store.read_scores()]
    distinct = sorted(set(starts))
    assert len(distinct) == 62 and len(starts) == 62 * 10
    step = np.diff([np.datetime64(s.rstrip("Z")) for s in distinct]).astype(int)
    assert set(step.tolist()) == {10}  # no window skipped
    assert len(store.alerts.read()) == len({a["window_start"] for a in store.alerts.read()})
