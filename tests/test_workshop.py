"""`toll workshop` on the local backend: every step, answers checked against the bucket's files,
alerts, teardown after success, failure and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tollcli.backends import open_backend
from tollcli.backends.local import LocalBackend
from tollcli.config import resolve_settings
from tollcli.errors import TollError, UsageError
from tollcli.workshop import StepReport, Workshop, WorkshopOptions, WorkshopReporter, run_workshop

STEP_KEYS = ["setup", "traffic", "answers", "deploy", "steady", "skew", "alerts", "dashboard", "teardown"]


def bucket_records(home: Path, *, until: str) -> list[tuple[str, str, str]]:
    """Every delivered record up to the event time `until`, read straight from the object files."""
    records = []
    for path in sorted((home / "bucket").rglob("toll-data-stream-*")):
        for line in path.read_bytes().decode().splitlines():
            date, station, plate = line.split(",")
            if date <= until:
                records.append((date, station, plate))
    return records


def leaders(counts: Counter[str]) -> set[str]:
    top = max(counts.values())
    return {name for name, count in counts.items() if count == top}


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """One seeded run kept for inspection: (home, JSON report, the steps as printed on stderr)."""
    folder = tmp_path_factory.mktemp("kept")
    home = folder / "home"
    process = subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), "workshop", "--seed", "11", "--keep", "--format", "json",
         "--dashboard", str(folder / "dashboard.html")],
        capture_output=True, text=True, timeout=180, cwd=folder,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    return home, json.loads(process.stdout), process.stderr


def test_every_step_runs_in_order_and_says_what_it_replaces(kept_run: tuple[Path, dict, str]) -> None:
    _home, report, narrative = kept_run
    assert [s["key"] for s in report["steps"]] == STEP_KEYS
    assert [s["status"] for s in report["steps"]] == ["ok"] * 8 + ["skipped"]
    for step in report["steps"]:
        assert f"Step {step['number']}/9: {step['title']}" in narrative
        assert step["replaces"] and step["command"].startswith("toll ")
    assert "Simulating Anomalies" in narrative and "Can you answer?" in narrative
    assert report["backfill"] is True and report["kept"] is True and report["torn_down"] is False


def test_answers_match_counts_from_the_bucket_files(kept_run: tuple[Path, dict, str]) -> None:
    home, report, _ = kept_run
    traffic = next(s for s in report["steps"] if s["key"] == "traffic")
    section1 = bucket_records(home, until=traffic["details"]["last_event"])
    assert len(section1) == traffic["details"]["records"] == 10 * 60 * 100
    stations = Counter(station for _d, station, _p in section1)
    plates = Counter(plate for _d, _s, plate in section1)

    busiest = report["answers"]["busiest"]
    assert {row["station"]: row["records"] for row in busiest["rows"]} == dict(stations)
    assert {row["station"] for row in busiest["rows"] if row["rank"] == 1} == leaders(stations)
    most_active = report["answers"]["most-active"]
    assert {row["plate"]: row["records"] for row in most_active["rows"]} == dict(plates)
    assert {row["plate"] for row in most_active["rows"] if row["rank"] == 1} == leaders(plates)
    median = statistics.median(stations.values())
    assert report["answers"]["quiet"]["flagged"] == [s for s, n in stations.items() if n < 0.5 * median] == ["35South"]


def test_an_alert_names_the_skewed_station_and_is_explained(kept_run: tuple[Path, dict, str]) -> None:
    home, report, narrative = kept_run
    skew = next(s for s in report["steps"] if s["key"] == "skew")
    started = skew["details"]["skew_started"]
    named = [a for a in report["alerts"] if a["station"] == "35South" and a["window_start"] >= started]
    assert named, report["alerts"]
    assert "Anomalous data detected at station 35South" in named[0]["message"]
    assert named[0]["anomaly_score"] > 2.5
    assert not [a for a in report["alerts"] if a["window_start"] < started], "false alarms before the skew"
    alerts_step = next(s for s in report["steps"] if s["key"] == "alerts")
    assert any(line.startswith("Why: ") for line in alerts_step["lines"])
    assert "above the threshold of 2.5" in narrative
    # alerts raised while traffic flows are told inside the skew step, not as stray lines
    assert any(line.startswith("ALERT Anomalous data detected at station 35South") for line in skew["lines"])
    assert not [line for line in narrative.splitlines() if line.startswith("toll: Anomalous")]
    # the skew was reset, and the alert log on disk says the same as the report
    assert not (home / "skew.json").exists()
    logged = [json.loads(line) for line in (home / "anomaly" / "alerts.jsonl").read_text().splitlines()]
    assert [a["window_start"] for a in logged] == [a["window_start"] for a in report["alerts"]]


def test_the_dashboard_is_written_outside_the_home(kept_run: tuple[Path, dict, str]) -> None:
    home, report, _ = kept_run
    page = Path(report["dashboard"])
    assert page.parent == home.parent and page.stat().st_size > 10_000
    assert "35South" in page.read_text(encoding="utf-8")


def test_the_kept_stack_is_explored_with_commands_that_work_when_pasted(kept_run: tuple[Path, dict, str]) -> None:
    home, _report, narrative = kept_run
    line = " ".join(next(text for text in narrative.split("\n\n") if "kept (--keep)" in text).split())
    commands = re.findall(r"`(toll [^`]+)`", line)
    assert any(c.endswith(" teardown --yes") for c in commands) and str(home.resolve()) in line
    for command in commands:
        if command.endswith(("query busiest", "alerts --scores")):  # read-only: pasted anywhere, they reach the kept home
            args = shlex.split(command)[1:]
            pasted = subprocess.run([sys.executable, "-m", "tollcli", *args], capture_output=True, text=True, cwd="/",
                                    timeout=60)  # fmt: skip
            assert pasted.returncode == 0 and "35South" in pasted.stdout, pasted.stderr


def test_a_full_run_repeats_with_its_seed_and_leaves_nothing(tmp_path: Path, kept_run: tuple[Path, dict, str]) -> None:
    _home, kept, _ = kept_run
    home = tmp_path / "home"
    process = subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), "workshop", "--seed", "11", "--format", "json"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    assert report["torn_down"] is True and [s["status"] for s in report["steps"]] == ["ok"] * 9
    assert not home.exists(), "teardown left the home behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toll-dashboard.html"]
    # the same seed gives the same answers and alerts (event times move with the clock)
    for name in ("busiest", "most-active", "quiet"):
        assert report["answers"][name]["rows"] == kept["answers"][name]["rows"]
    strip = [({k: v for k, v in a.items() if k not in ("window_start", "window_end")}) for a in report["alerts"]]
    assert strip == [({k: v for k, v in a.items() if k not in ("window_start", "window_end")}) for a in kept["alerts"]]


class FailAt(WorkshopReporter):
    """Fails the run as a step begins, the way a lost connection or a full disk would."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.seen: list[str] = []

    def begin(self, step: StepReport) -> None:
        self.seen.append(step.key)
        if step.key == self.key:
            raise TollError(f"simulated failure at {step.key}")


def test_a_failure_mid_run_still_tears_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = open_backend(resolve_settings(backend=None, home=home, region=None, profile=None))
    reporter = FailAt("deploy")
    with pytest.raises(TollError, match="simulated failure at deploy"):
        run_workshop(backend, WorkshopOptions(minutes=1, seed=2, dashboard_path=tmp_path / "d.html"), reporter)
    assert reporter.seen == ["setup", "traffic", "answers", "deploy", "teardown"]
    assert not home.exists()


def test_bad_options_are_refused_before_anything_exists(toll, home: Path) -> None:  # type: ignore[no-untyped-def]
    for args, message in [
        (["--rate", "0"], "--rate"),
        (["--minutes", "-1"], "--minutes"),
        (["--skew-station", "Nowhere"], "unknown station 'Nowhere'"),
        (["--dashboard", str(home.parent)], "is a folder"),
    ]:
        result = toll("workshop", *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not home.exists()


def test_a_home_with_a_stack_is_left_alone(toll, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert toll("setup").exit_code == 0
    before = (home / "ledger.json").read_text()
    result = toll("workshop", "--minutes", "1")
    assert result.exit_code == 2 and "already holds a toll stack" in result.stderr
    assert (home / "ledger.json").read_text() == before


@pytest.mark.parametrize(
    ("signum", "status", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)  # one rule for every command: 128 + the signal, after the teardown
def test_ctrl_c_mid_run_still_tears_down(tmp_path: Path, signum: int, status: int, said: str) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "workshop", "--realtime", "--minutes", "1", "--seed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "Step 2/9" in line:
                break
        else:
            pytest.fail("the workshop never reached its traffic step: " + "".join(seen))
        time.sleep(1.5)  # real-time traffic is flowing; Ctrl-C flushes it to the bucket, then teardown removes it
        process.send_signal(signum)
        rest, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(seen) + rest
    assert process.returncode == status, errors
    assert f"toll: error: {said}" in errors
    assert "Step 9/9: Teardown" in output and "nothing is left behind" in output
    assert not home.exists()


class RecordsAStranger(WorkshopReporter):
    """Puts a file outside the home into the ledger, which teardown must refuse to delete."""

    def __init__(self, backend: object, stranger: Path) -> None:
        self.backend = backend
        self.stranger = stranger

    def begin(self, step: StepReport) -> None:
        if step.key == "dashboard":
            ledger = self.backend.require_ledger()  # type: ignore[attr-defined]
            self.backend.record_path(ledger, "file", "stranger", self.stranger)  # type: ignore[attr-defined]


def test_a_teardown_that_cannot_finish_fails_the_run(tmp_path: Path) -> None:
    home, stranger = tmp_path / "home", tmp_path / "not-ours.txt"
    stranger.write_text("keep me")
    backend = open_backend(resolve_settings(backend=None, home=home, region=None, profile=None))
    reporter = RecordsAStranger(backend, stranger)
    with pytest.raises(TollError, match="teardown could not remove everything"):
        run_workshop(backend, WorkshopOptions(minutes=1, seed=3, dashboard_path=tmp_path / "d.html"), reporter)
    assert stranger.read_text() == "keep me"
    assert sorted(p.name for p in home.iterdir()) == ["ledger.json"]  # all the rest is gone


class ScoresOnlyNewRecords(LocalBackend):
    """A backend that, like AWS's Lambda app, cannot replay what the bucket already holds (and says so)."""

    capabilities = replace(LocalBackend.capabilities, replay=False)

    def deploy(self, *, config, replay=False, on_event=lambda _m: None):  # type: ignore[no-untyped-def]
        if replay:
            raise UsageError("--replay is not available on this backend")
        return super().deploy(config=config, replay=False, on_event=on_event)


def test_without_replay_the_model_warms_up_on_the_steady_minutes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = ScoresOnlyNewRecords(resolve_settings(backend=None, home=home, region=None, profile=None))
    report = run_workshop(backend, WorkshopOptions(seed=5, dashboard_path=tmp_path / "d.html"))
    deploy = next(s for s in report.steps if s.key == "deploy")
    assert deploy.details["replay"] is None and deploy.details["config"]["forest"]["output_after"] == 15
    assert any(a["station"] == "35South" for a in report.alerts)
    assert not home.exists()


def test_the_explanation_says_what_happened_when_nothing_was_scored(tmp_path: Path) -> None:
    """A short real-time run may score no window of the skew: it must not claim the score "rose to 0.00"."""
    backend = open_backend(resolve_settings(backend="local", home=str(tmp_path / "home"), region=None, profile=None))
    workshop = Workshop(backend, WorkshopOptions(seed=1))
    started = "2026-11-28T08:10:00Z"
    unscored = [{"window_start": f"2026-11-28T08:{m:02d}:00Z", "anomaly_score": 0.0} for m in range(5, 15)]
    text = workshop._why(unscored, started, "35South")
    assert "rose" not in text and "0.00" not in text and "scored no window of the skewed traffic" in text
    calm_then_low = [
        {"window_start": "2026-11-28T08:05:00Z", "anomaly_score": 0.8},
        {"window_start": "2026-11-28T08:11:00Z", "anomaly_score": 1.9},
    ]
    text = workshop._why(calm_then_low, started, "35South")
    assert "rose only to 1.90, not above the threshold of 2.5" in text and "no window scored above 0.80" in text
    text = workshop._why([{"window_start": "2026-11-28T08:11:00Z", "anomaly_score": 3.1}], started, "35South")
    assert "rose to 3.10, above the threshold" in text and "no window before the skew" in text


STATIONS = ["Wash", "Ore", "Cal", "Tex", "35South"]


def test_the_explanation_counts_windows_not_score_rows(tmp_path: Path) -> None:
    """Each window has a score row per station: 2 windows of 5 stations are 2 windows, not 10."""
    backend = open_backend(resolve_settings(backend="local", home=str(tmp_path / "home"), region=None, profile=None))
    workshop = Workshop(backend, WorkshopOptions(seed=1))
    rows = [
        {"window_start": start, "station": station, "anomaly_score": 0.0}
        for start in ("2026-11-28T08:09:40Z", "2026-11-28T08:09:50Z")
        for station in STATIONS
    ]
    rows[0]["anomaly_score"] = 0.4  # one station's row of the first window
    text = workshop._why(rows, "2026-11-28T08:10:00Z", "35South")
    assert "(2 windows counted, 1 window scored above 0 in all)" in text


class KnownScores(LocalBackend):
    """The local backend with alerts and scores set by the test (the rest is the real backend)."""

    alerts: list[dict]
    scores: list[dict]

    def read_alerts(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return list(self.alerts)

    def read_scores(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return list(self.scores)


def alerts_step(tmp_path: Path, skew_started: str, alerts: list[dict], scores: list[dict]) -> StepReport:
    backend = KnownScores(resolve_settings(backend=None, home=tmp_path / "home", region=None, profile=None))
    backend.alerts, backend.scores = alerts, scores
    workshop = Workshop(backend, WorkshopOptions(seed=1, backfill=True))
    workshop.skew_started = skew_started
    step = StepReport(number=7, total=9, key="alerts", title="Alerts", replaces="", command="")
    workshop.alerts(step)
    return step


def test_an_alert_whose_window_straddles_the_skews_start_is_during_the_skew(tmp_path: Path) -> None:
    """A real-time skew starts mid-window: the window [08:10:00, 08:10:10) ends after the skew
    started at 08:10:03, so its counts were already skewed and its alert is no false alarm."""
    straddling = {"window_start": "2026-11-28T08:10:00Z", "station": "35South", "anomaly_score": 3.2, "message": "m"}
    scores = [{"window_start": "2026-11-28T08:10:00Z", "station": s, "anomaly_score": 3.2} for s in STATIONS]
    step = alerts_step(tmp_path, "2026-11-28T08:10:03Z", [straddling], scores)
    assert step.details["during_skew"] == 1 and step.details["before_skew"] == 0 and step.details["named_skew_station"] == 1
    assert step.status != "warning", step.lines
    assert "rose to 3.20" in " ".join(step.lines)
    # a window that ended before (or as) the skew started is before it
    ended = {**straddling, "window_start": "2026-11-28T08:09:53Z"}
    step = alerts_step(tmp_path, "2026-11-28T08:10:03Z", [ended], [])
    assert step.details["during_skew"] == 0 and step.details["before_skew"] == 1 and step.status == "warning"


def test_a_short_workshop_says_one_of_a_thing_in_the_singular(toll, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """0.2 minutes a phase: 1 object each, 0 windows learned. No '1 objects', '1 windows', 'object(s)'."""
    run = toll("workshop", "--minutes", "0.2", "--steady-minutes", "0.2", "--skew-minutes", "0.2", "--seed", "3",
               "--dashboard", str(tmp_path / "d.html"))  # fmt: skip
    said = " ".join((run.stdout + run.stderr).split())
    assert run.exit_code == 0, said
    assert said.count("1,200 records delivered in 1 object (") == 3
    assert "learned from the 1,200 records already delivered: 0 windows, 0 alerts" in said
    assert not re.findall(r"\b1 (?:record|object|window|alert|resource|row|part|station)s\b", said)
    assert "(s)" not in said


class SlowStream(LocalBackend):
    """A table that fills as a delivery stream with a long interval hint would: the records land
    `lands_after` seconds (of a fake clock) after the wait starts; the stream says its buffering."""

    def __init__(self, settings, *, buffering: float, lands_after: float, clock: list[float]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self.buffering, self.lands_after, self.clock = buffering, lands_after, clock

    def buffering_seconds(self) -> float:
        return self.buffering

    def query(self, sql, *, strict=False):  # type: ignore[no-untyped-def]
        from tollcli.backends.reports import QueryResult

        count = 500 if self.clock[0] >= self.lands_after else 200
        return QueryResult(columns=["count"], rows=[(count,)])


@pytest.mark.parametrize(("buffering", "lands_after", "partial"), [(60, 140, False), (60, 160, True), (900, 960, False)])
def test_the_answers_wait_for_the_streams_own_buffering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buffering: float, lands_after: float, partial: bool
) -> None:
    """The wait is the stream's interval hint plus 90 s (S3's listing, Athena's start-up): 150 s for
    the workshop's 60 s buffer, as before, and long enough for a stack set up with 900 s."""
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    settings = resolve_settings(backend="local", home=str(tmp_path / "home"), region=None, profile=None)
    workshop = Workshop(SlowStream(settings, buffering=buffering, lands_after=lands_after, clock=clock), WorkshopOptions(seed=1))
    workshop.delivered = 500
    step = StepReport(number=1, total=1, key="answers", title="", replaces="", command="")
    workshop.wait_for_delivery(step)
    assert (step.status == "warning") is partial
    assert any("only 200 of 500 records reached the table in time" in line for line in step.lines) is partial
