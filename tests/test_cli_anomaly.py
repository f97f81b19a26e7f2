"""`toll deploy` and `toll alerts` through the CLI (CliRunner and a real subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tollcli.anomaly.scenario import SKEWED_WEIGHTS, scenario
from tollcli.backends import open_backend
from tollcli.config import resolve_settings
from tollcli.records import RecordChunk


def feed_scenario(home: Path, seed: int = 7) -> None:
    """What `toll generate` does with a deployed app: every chunk to the feed, then close."""
    backend = open_backend(resolve_settings(backend=None, home=home, region=None, profile=None))
    feed = backend.open_anomaly_feed(on_alert=lambda _m: None)
    assert feed is not None
    times, stations = scenario(seed, 60, SKEWED_WEIGHTS, 3)
    try:
        for lo in range(0, len(times), 2000):
            feed.consume(RecordChunk(lines=b"", count=2000, event_times=times[lo : lo + 2000], stations=stations[lo : lo + 2000]))
    finally:
        feed.close()


def write_bucket_objects(home: Path, seed: int = 7) -> int:
    """The scenario as delivered CSV objects (as Firehose names them), plus an in-flight temporary."""
    times, stations = scenario(seed, 60, SKEWED_WEIGHTS, 3)
    dates = np.datetime_as_string(times.astype("datetime64[s]"), unit="s")
    folder = home / "bucket" / "2027" / "01" / "15" / "08"
    folder.mkdir(parents=True)
    per_object = 9_000
    for n, lo in enumerate(range(0, len(times), per_object)):
        lines = [
            f"{d}Z,{s},ABC{i % 997:04d}\n"
            for i, (d, s) in enumerate(zip(dates[lo : lo + per_object], stations[lo : lo + per_object]))
        ]
        (folder / f"toll-data-stream-1-2027-01-15-08-{n:02d}-00-{n:08d}").write_text("".join(lines))
    (folder / ".toll-data-stream-1-inflight.tmp").write_text("2027-01-15T08:00:00Z,35South,ZZZ\n" * 50_000)
    return len(times)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "0"], "--threshold must be a number above 0"),
        (["--threshold", "-2.5"], "--threshold"),
        (["--mode", "turbo"], "unknown mode 'turbo'"),
        (["--trees", "0"], "--trees 0 is outside"),
        (["--sample-size", "0"], "--sample-size 0 is outside"),
        (["--shingle", "100000"], "--shingle"),
        (["--time-decay", "-1"], "--time-decay"),
        (["--webhook", "mailto:ops@example.com"], "is not an http(s) URL"),
        (["--window", "0"], "--window"),
        (["--baseline-windows", "0"], "--baseline-windows must be 1-1000 windows"),
        (["--email", "ops@example.com"], "aws backend"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_creates_nothing(toll, home: Path, args: list[str], message: str) -> None:
    assert toll("setup").exit_code == 0
    ledger_before = (home / "ledger.json").read_text()
    result = toll("deploy", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not (home / "anomaly").exists() and (home / "ledger.json").read_text() == ledger_before


def test_deploy_before_setup_and_alerts_before_deploy_are_usage_errors(toll) -> None:
    assert toll("deploy").exit_code == 2
    assert toll("setup").exit_code == 0
    result = toll("alerts")
    assert result.exit_code == 2 and "run `toll deploy` first" in result.stderr


def test_deploy_feed_alerts_and_teardown(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    result = toll("deploy", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["changed"] and report["config"]["mode"] == "default" and report["config"]["threshold"] == 2.5
    ledger = json.loads((home / "ledger.json").read_text())
    table = next(r for r in ledger["resources"] if r["name"] == "toll.anomaly_scores")
    assert table["kind"] == "table" and table["settings"]["format"] == "jsonl"
    assert set(table["settings"]["columns"]) >= {
        "window_start", "station", "vehicle_count", "baseline_count", "anomaly_score", "explanation"
    }  # fmt: skip
    assert json.loads(toll("deploy", "--format", "json").stdout)["changed"] is False  # idempotent

    feed_scenario(home)
    alerts = json.loads(toll("alerts", "--format", "json").stdout)["alerts"]
    assert alerts and alerts[0]["station"] == "35South" and "35South HIGH" in alerts[0]["explanation"]
    assert alerts[0]["message"].startswith("Anomalous data detected at station 35South. Total vehicles detected was ")
    assert all(a["station"] == "35South" and a["explanation"].startswith("35South HIGH") for a in alerts)
    usual = alerts[0]["baseline_count"]
    assert (
        5 <= usual <= 20
        and f"Total vehicles detected was {alerts[0]['vehicle_count']} (usually {usual:g}). " in alerts[0]["message"]
    )
    both = json.loads(toll("alerts", "--scores", "--format", "json").stdout)
    assert len({r["window_start"] for r in both["scores"]}) == 62  # the 63rd window is still open
    warming = sorted({r["window_start"] for r in both["scores"] if r["explanation"] == "warming up"})
    assert warming == sorted({r["window_start"] for r in both["scores"]})[:32]  # the forest's output_after
    text = toll("alerts", "--scores")
    assert text.exit_code == 0 and "Anomalous data detected at station 35South" in text.stdout and "35South HIGH" in text.stdout
    lines = [line for line in text.stdout.splitlines() if "│ 2027-01-15T08:" in line]
    assert len(lines) == 62 and all("warming up" in line and "0.00" not in line for line in lines[:32])
    assert not any("warming up" in line for line in lines[32:])
    assert "35South HIGH" in lines[60] and f"was {alerts[0]['vehicle_count']} (usually {usual:g}). " in text.stdout

    result = toll("teardown", "--yes")
    assert result.exit_code == 0, result.output
    assert not home.exists()


def test_a_model_change_starts_fresh_but_a_threshold_change_keeps_the_model(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0 and toll("deploy").exit_code == 0
    feed_scenario(home)
    state = (home / "anomaly" / "state.bin").read_bytes()
    assert toll("deploy", "--threshold", "3").exit_code == 0
    assert (home / "anomaly" / "state.bin").read_bytes() == state
    result = toll("deploy", "--mode", "workshop", "--format", "json")
    assert result.exit_code == 0 and any("fresh model" in n for n in json.loads(result.stdout)["notes"])
    assert not (home / "anomaly" / "state.bin").exists()
    assert json.loads(toll("alerts", "--format", "json").stdout)["alerts"] == []


def test_replay_scores_what_the_bucket_holds_and_twice_gives_the_same(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    records = write_bucket_objects(home)
    first = toll("deploy", "--replay", "--format", "json")
    assert first.exit_code == 0, first.output
    replay = json.loads(first.stdout)["replay"]
    assert replay["records"] == records and replay["windows"] == 62 and replay["late_records"] == 0
    alerts = json.loads(toll("alerts", "--format", "json").stdout)["alerts"]
    assert alerts[0]["station"] == "35South" and alerts[0]["window_start"] == "2027-01-15T08:10:00Z"  # the first skewed window
    again = json.loads(toll("deploy", "--replay", "--format", "json").stdout)["replay"]
    assert again == replay
    assert json.loads(toll("alerts", "--format", "json").stdout)["alerts"] == alerts


def test_anomaly_scores_is_queryable_with_sql(toll, home: Path) -> None:
    pytest.importorskip("duckdb")
    assert toll("setup").exit_code == 0 and toll("deploy").exit_code == 0
    feed_scenario(home)
    backend = open_backend(resolve_settings(backend=None, home=home, region=None, profile=None))
    result = backend.query(
        "SELECT count(*) AS n, count(DISTINCT window_start) AS windows, max(anomaly_score) AS top, "
        "count_if(alert) AS alerts, max(baseline_count) FILTER (WHERE station = '35South') AS usual FROM anomaly_scores"
    )
    n, windows, top, alerts, usual = result.rows[0]
    assert (n, windows) == (620, 62) and top > 2.5 and alerts >= 1 and 5 <= usual <= 20


def test_alerts_follow_as_a_real_process_prints_new_alerts_as_json_lines(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0 and toll("deploy").exit_code == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "alerts", "--follow", "--format", "json", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        feed_scenario(home)
        line = follower.stdout.readline()  # blocks until the follower prints the first alert
        assert json.loads(line)["kind"] == "alert" and json.loads(line)["station"] == "35South"
    finally:
        follower.send_signal(signal.SIGINT)
        _out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130, err  # 128 + SIGINT, the rule for every command
