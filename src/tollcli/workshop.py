"""`toll workshop`: the whole Analyticon workshop in one run, step by step, as an instructor tells it.

    1 setup -> 2 traffic (10 min at 100/s) -> 3 the three answers -> 4 deploy the anomaly app
    -> 5 steady traffic (5 min) -> 6 traffic skewed to 35South (2 min) -> 7 the alerts, explained
    -> 8 the dashboard -> 9 teardown (unless keep)

Each step is the same core call its own command makes (`backend.setup`, `run_generation`,
`run_question`, `backend.deploy`, `write_skew`, `backend.read_alerts`, `write_dashboard`,
`backend.teardown`), reported through a `WorkshopReporter` as a titled section naming the workshop
step it replaces. On the local backend the traffic is backfilled in event time (17 minutes of
records in seconds, ending now; the anomaly app's windows are event-time windows, so it scores
exactly as if it had waited), and `seed` makes the whole run repeatable. Elsewhere it runs in
real time. Teardown runs however the run ends (a failure, Ctrl-C, SIGTERM) unless `keep`.
"""

from __future__ import annotations

import math
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tollcli.anomaly.app import DEFAULT_THRESHOLD, AnomalyConfig
from tollcli.config import DEFAULT_BUFFER_MB, DEFAULT_BUFFER_SECONDS, DEFAULT_DASHBOARD, QUESTION_NAMES, TABLE_NAME
from tollcli.dashboard import check_output_path, write_dashboard
from tollcli.errors import Interrupted, TollError, UsageError
from tollcli.generator import GenerateOptions, GenerateProgress, GenerateSummary, run_generation, signal_name
from tollcli.kdg import default_spec
from tollcli.oscompat import handling_stop_signals
from tollcli.questions import run_question
from tollcli.skew import check_station, reset_skew, write_skew
from tollcli.state import toll_command_for
from tollcli.units import counted, format_instant, parse_instant

if TYPE_CHECKING:
    from tollcli.backends.base import Backend

WINDOW_SECONDS = 10
QUESTIONS = QUESTION_NAMES
# How long the answers wait for the table to hold every record sent: the delivery stream's interval hint
# (`Backend.buffering_seconds`, 60 s as the workshop sets it up, up to 900 s on a stack set up otherwise),
# plus this margin for S3's listing and Athena's start-up after the last object lands.
DELIVERY_WAIT_MARGIN_SECONDS = 90
ALERT_WAIT_SECONDS = 60  # the last windows close, and the function scores them, after the traffic stops
POLL_SECONDS = 10


@dataclass(frozen=True)
class Step:
    """One workshop step: what it is called, what it replaces in the workshop, and its command."""

    key: str
    title: str
    replaces: str
    command: str


def workshop_steps(options: WorkshopOptions, *, backfill: bool) -> list[Step]:
    """The steps in order; the README's table lists the same commands."""
    rate = f"{options.rate:g}"
    timing = " --backfill" if backfill else ""
    return [
        Step(
            "setup",
            "Set up the delivery stream, the bucket and the Athena table",
            "Section 1: Set up Kinesis Firehose (1 MB / 60 s buffering) and Set up tables in Athena "
            "(CREATE DATABASE toll, CREATE EXTERNAL TABLE lab_toll_data_stream)",
            "toll setup",
        ),
        Step(
            "traffic",
            f"{options.minutes:g} minutes of traffic at {rate} records/s",
            "Section 1: Explanation about Code or Kinesis Data Generator, Access the KDG, Generate Sample Data "
            "(the Cognito stack, the KDG page and its template)",
            f"toll generate --rate {rate} --duration {options.minutes:g}m{timing}",
        ),
        Step(
            "answers",
            "The three answers",
            "Section 1: Set up QuickSight and Can you answer? (the busiest station, the most active plate, "
            "the station reporting less traffic)",
            "toll query busiest; toll query most-active; toll query quiet",
        ),
        Step(
            "deploy",
            "Deploy the anomaly app",
            "Section 2: Set up Kinesis Analytics (the CloudFormation stack) and Record Analysis "
            "(STEP 10 s counts per station, RANDOM_CUT_FOREST), with the alerting Lambda",
            "toll deploy --threshold 2.5" + (" --replay" if backfill else ""),
        ),
        Step(
            "steady",
            f"{options.steady_minutes:g} more minutes of steady traffic",
            "Section 2: Record Analysis step 6 and the note after it (send data for several minutes so the scores normalise)",
            f"toll generate --rate {rate} --duration {options.steady_minutes:g}m{timing}",
        ),
        Step(
            "skew",
            f"{options.skew_minutes:g} minutes of traffic skewed to {options.skew_station}",
            "Section 2: Simulating Anomalies (the second KDG template's weights)",
            f"toll skew --station {options.skew_station}; "
            f"toll generate --rate {rate} --duration {options.skew_minutes:g}m{timing}",
        ),
        Step(
            "alerts",
            "The alerts raised, explained",
            "Section 2: Alerting (the Lambda that texts any score above 2.5 through SNS)",
            "toll alerts --scores",
        ),
        Step(
            "dashboard",
            "The dashboard",
            "Section 1: Set up QuickSight (the charts that answer the questions), plus the anomaly scores",
            f"toll dashboard --out {options.dashboard_path}",
        ),
        Step(
            "teardown", "Teardown", "Not in the workshop: deleting every stack and bucket it made by hand", "toll teardown --yes"
        ),
    ]


@dataclass(frozen=True)
class WorkshopOptions:
    minutes: float = 10.0
    steady_minutes: float = 5.0
    skew_minutes: float = 2.0
    rate: float = 100.0
    skew_station: str = "35South"
    seed: int | None = None
    keep: bool = False
    threshold: float = DEFAULT_THRESHOLD
    dashboard_path: Path = DEFAULT_DASHBOARD
    backfill: bool | None = None  # None: event time on the local backend, real time elsewhere

    def check(self) -> WorkshopOptions:
        """Refuse bad values before anything is created."""
        for flag, value in (("--minutes", self.minutes), ("--steady-minutes", self.steady_minutes)):
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{flag} must be above 0, not {value:g}")
        if not (math.isfinite(self.skew_minutes) and self.skew_minutes > 0):
            raise UsageError(f"--skew-minutes must be above 0, not {self.skew_minutes:g}")
        if not (math.isfinite(self.rate) and 0 < self.rate <= 10_000):
            raise UsageError(f"--rate must be above 0 and at most 10000 records/s, not {self.rate:g}")
        station_field = default_spec().station_field
        assert station_field is not None
        check_station(self.skew_station, station_field.data)
        if not self.threshold > 0:
            raise UsageError(f"--threshold must be above 0, not {self.threshold:g}")
        check_output_path(self.dashboard_path)
        return self


@dataclass
class StepReport:
    number: int
    total: int
    key: str
    title: str
    replaces: str
    command: str
    status: str = "running"  # ok, warning, failed, interrupted, skipped
    lines: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0


@dataclass
class WorkshopReport:
    backend: str
    home: str
    backfill: bool
    seed: int | None
    steps: list[StepReport] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dashboard: str | None = None
    kept: bool = False
    torn_down: bool = False
    interrupted: bool = False
    failed: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.failed is None and all(s.status in ("ok", "warning", "skipped") for s in self.steps)


class WorkshopReporter:
    """How the run is told as it goes; the CLI renders it, tests may collect it. Defaults do nothing."""

    def begin(self, step: StepReport) -> None: ...

    def line(self, step: StepReport, text: str) -> None: ...

    def progress(self, step: StepReport, text: str) -> None: ...

    def end(self, step: StepReport) -> None: ...


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """While the workshop runs, SIGTERM interrupts like Ctrl-C, so teardown still happens."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)  # exits 128 + signum once teardown is done (130 for Ctrl-C, 143 for SIGTERM)

    with handling_stop_signals(interrupt):
        yield


@contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Teardown must finish: a second Ctrl-C must not leave half a stack behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with handling_stop_signals(signal.SIG_IGN):
        yield


class Workshop:
    """One run: `run()` does every step and returns the report (raising on failure or interrupt)."""

    def __init__(self, backend: Backend, options: WorkshopOptions, reporter: WorkshopReporter | None = None) -> None:
        self.backend = backend
        self.options = options.check()
        self.reporter = reporter or WorkshopReporter()
        self.backfill = backend.capabilities.event_time_backfill if options.backfill is None else options.backfill
        self.steps = workshop_steps(self.options, backfill=self.backfill)
        self.report = WorkshopReport(
            backend=backend.name, home=str(backend.settings.home), backfill=self.backfill, seed=options.seed
        )
        total = (options.minutes + options.steady_minutes + options.skew_minutes) * 60
        # Backfilled event time ends now and starts on a window boundary, so windows line up with phases.
        self.event_start = math.floor((time.time() - total) / WINDOW_SECONDS) * WINDOW_SECONDS
        self.skew_started: str | None = None
        self._phase = 0
        self.delivered = 0  # records the sink accepted so far: what the table must show

    # the run ------------------------------------------------------------------------------------
    def run(self) -> WorkshopReport:
        ledger = self.backend.load_ledger()
        if ledger is not None:
            raise UsageError(
                f"{self.backend.settings.home} already holds a toll stack: the workshop sets up its own and removes it "
                f"at the end; use another --home, or `{toll_command_for(self.backend.settings.home)} teardown` first"
            )
        began = time.monotonic()
        set_up = False
        try:
            with interrupts_raise():
                self._step("setup", self.setup)
                set_up = True
                self._step("traffic", lambda step: self.traffic(step, self.options.minutes))
                self._step("answers", self.answers)
                self._step("deploy", self.deploy)
                self._step("steady", lambda step: self.traffic(step, self.options.steady_minutes))
                self._step("skew", self.skew)
                self._step("alerts", self.alerts)
                self._step("dashboard", self.dashboard)
        except KeyboardInterrupt:
            self.report.interrupted = True
            raise
        except Exception as exc:
            self.report.failed = getattr(exc, "message", None) or str(exc)
            raise
        finally:
            first_problem = self.report.interrupted or self.report.failed is not None
            with interrupts_ignored():
                try:
                    if self.options.keep:
                        self._step("teardown", self.keep)
                    elif set_up or self.backend.load_ledger() is not None:
                        self._step("teardown", self.teardown)
                except Exception:
                    if not first_problem:
                        raise
                    # the failure that stopped the run is the one to report; the teardown's is in its step
            self.report.elapsed_s = round(time.monotonic() - began, 2)
        if self.report.steps[-1].status == "failed":
            home = Path(self.backend.settings.home).resolve()
            raise TollError(f"teardown could not remove everything in {home}: run `{toll_command_for(home)} teardown --yes`")
        return self.report

    def _step(self, key: str, action: Callable[[StepReport], None]) -> None:
        index = next(i for i, s in enumerate(self.steps) if s.key == key)
        step = self.steps[index]
        report = StepReport(index + 1, len(self.steps), step.key, step.title, step.replaces, step.command)
        self.report.steps.append(report)
        self.reporter.begin(report)
        began = time.monotonic()
        try:
            action(report)
            if report.status == "running":
                report.status = "ok"
        except KeyboardInterrupt:
            report.status = "interrupted"
            raise
        except Exception as exc:
            report.status = "failed"
            report.lines.append(f"failed: {getattr(exc, 'message', None) or exc}")
            raise
        finally:
            report.elapsed_s = round(time.monotonic() - began, 2)
            self.reporter.end(report)

    def _say(self, step: StepReport, text: str) -> None:
        step.lines.append(text)
        self.reporter.line(step, text)

    # the steps ----------------------------------------------------------------------------------
    def setup(self, step: StepReport) -> None:
        created = self.backend.setup(buffer_mb=DEFAULT_BUFFER_MB, buffer_seconds=DEFAULT_BUFFER_SECONDS)
        for resource in created.created:
            self._say(step, f"created {resource.describe()}")
        self._say(step, f"delivery stream buffering: {DEFAULT_BUFFER_MB} MB or {DEFAULT_BUFFER_SECONDS} s, whichever comes first")
        step.details["created"] = [f"{r.kind} {r.name}" for r in created.created]

    def _generate(self, step: StepReport, minutes: float) -> GenerateSummary:
        phase_start = self.event_start + sum(self._phase_minutes()[: self._phase]) * 60
        seed = None if self.options.seed is None else self.options.seed + self._phase
        self._phase += 1
        options = GenerateOptions(
            rate=self.options.rate,
            duration=minutes * 60,
            seed=seed,
            backfill=self.backfill,
            start=datetime.fromtimestamp(phase_start, tz=timezone.utc) if self.backfill else None,
        )

        def show(progress: GenerateProgress) -> None:
            left = max(0.0, minutes * 60 - progress.elapsed)
            self.reporter.progress(
                step, f"{counted(progress.accepted, 'record')} delivered, {progress.rate:,.0f}/s, {left:,.0f} s to go"
            )

        def alert(message: str) -> None:
            self._say(step, f"ALERT {message}")

        summary = run_generation(self.backend, options, on_progress=None if self.backfill else show, on_alert=alert)
        self.delivered += summary.records
        if summary.stopped_by in {signal_name(signal.SIGINT), signal_name(signal.SIGTERM)}:
            raise Interrupted(signal.SIGTERM if summary.stopped_by == signal_name(signal.SIGTERM) else signal.SIGINT)
        if summary.failed:
            step.status = "warning"
        timing = "backfilled in event time" if self.backfill else "in real time"
        self._say(
            step,
            f"{counted(summary.records, 'record')} delivered in {counted(summary.objects, 'object')} "
            f"({timing}, {summary.elapsed_s:.1f} s), "
            f"events {summary.first_event} to {summary.last_event}" + (f"; {summary.failed:,} failed" if summary.failed else ""),
        )
        total = max(summary.generated, 1)
        shares = ", ".join(f"{s} {n / total:.0%}" for s, n in sorted(summary.per_station.items(), key=lambda kv: -kv[1]))
        self._say(step, f"per station: {shares}")
        step.details.update(
            records=summary.records, objects=summary.objects, first_event=summary.first_event, last_event=summary.last_event
        )
        return summary

    def _phase_minutes(self) -> list[float]:
        return [self.options.minutes, self.options.steady_minutes, self.options.skew_minutes]

    def traffic(self, step: StepReport, minutes: float) -> None:
        self._generate(step, minutes)
        if self._phase > 1:
            self._say_scores(step)

    def _say_scores(self, step: StepReport) -> None:
        scores = self.backend.read_scores()
        windows: dict[str, float] = {}
        for row in scores:
            windows[row["window_start"]] = max(windows.get(row["window_start"], 0.0), float(row["anomaly_score"]))
        scored = [v for v in windows.values() if v > 0]
        if scored:
            recent = sorted(windows.items())[-6:]
            self._say(
                step,
                f"the anomaly app has scored {counted(len(windows), 'window')}; the latest: "
                + ", ".join(f"{v:.2f}" for _k, v in recent)
                + " (about 1 or below is normal)",
            )
        else:
            self._say(step, f"the anomaly app has counted {counted(len(windows), 'window')} and is still warming up (scores 0)")
        step.details["windows_scored"] = len(windows)

    def wait_for_delivery(self, step: StepReport) -> None:
        """Query only once the table holds every record sent: a delivery stream buffers up to its interval hint.

        Locally the sink delivered everything when it closed, so the first count already matches (and
        the stream's buffering is never asked)."""
        started, deadline = time.monotonic(), None
        while True:
            rows = self.backend.query(f"SELECT count(*) FROM {TABLE_NAME}").rows
            seen = int(rows[0][0] or 0) if rows else 0
            if seen >= self.delivered:
                return
            if deadline is None:
                deadline = started + self.backend.buffering_seconds() + DELIVERY_WAIT_MARGIN_SECONDS
            if time.monotonic() >= deadline:
                step.status = "warning"
                self._say(
                    step, f"only {seen:,} of {counted(self.delivered, 'record')} reached the table in time: answers are partial"
                )
                return
            self.reporter.progress(
                step, f"waiting for the delivery stream's buffer: {seen:,} of {counted(self.delivered, 'record')} in the table"
            )
            time.sleep(POLL_SECONDS)

    def answers(self, step: StepReport) -> None:
        self.wait_for_delivery(step)
        for name in QUESTIONS:
            result = run_question(self.backend, name)
            self.report.answers[name] = result.to_json()
            rows = result.records()
            if result.empty or not rows:
                self._say(step, f"{result.title} no data yet")
                continue
            if name == "quiet":
                flagged = result.flagged
                answer = (
                    ", ".join(
                        f"{row['station']} ({counted(row['records'], 'record')}, "
                        f"{row['below_median_pct']:.0f}% below the median station)"
                        for row in rows
                        if row["station"] in flagged
                    )
                    if flagged
                    else "none: every station reports its usual share"
                )
            else:
                label = "station" if name == "busiest" else "plate"
                leaders = [row for row in rows if row["rank"] == 1]  # ties included
                answer = " and ".join(
                    f"{row[label]} ({counted(row['records'], 'record')}, {row['share_pct']:.1f}%)" for row in leaders
                )
            self._say(step, f"{result.title} {answer}")
        step.details["answers"] = {k: v["rows"][:3] for k, v in self.report.answers.items()}

    def deploy(self, step: StepReport) -> None:
        config = AnomalyConfig.from_options(threshold=self.options.threshold, seed=self.options.seed)
        if self.backend.capabilities.replay:
            # The model first learns the traffic already delivered, as the workshop's app had
            # minutes of traffic behind it before the anomaly was simulated.
            report = self.backend.deploy(config=config, replay=True)
        else:
            # A backend that scores only new arrivals: let the model speak after half the steady windows.
            windows = int(self.options.steady_minutes * 60 / config.window_seconds)
            warm = max(8, min(config.forest.output_after, windows // 2))
            config = replace(config, forest=replace(config.forest, output_after=warm))
            report = self.backend.deploy(config=config, replay=False)
            self._say(step, f"this backend scores only new records: the model warms up over the first {counted(warm, 'window')}")
        for resource in report.created:
            self._say(step, f"created {resource.describe()}")
        forest = config.forest
        self._say(
            step,
            f"Random Cut Forest: {forest.trees} trees x {forest.sample_size} samples over each {config.window_seconds} s "
            f"window's vehicle count per station; alerts above {config.threshold:g}",
        )
        replay = report.replay
        if replay is not None:
            self._say(
                step,
                f"learned from the {counted(replay.records, 'record')} already delivered: "
                f"{counted(replay.windows, 'window')}, {counted(replay.alerts, 'alert')}",
            )
        for note in report.notes:
            self._say(step, note)
        step.details.update(config=config.to_json(), replay=None if replay is None else asdict(replay))

    def skew(self, step: StepReport) -> None:
        state = write_skew(self.backend, self.options.skew_station, drop=False)
        self._say(step, f"traffic now diverts to {state.station} (the second KDG template's weights)")
        offset = self.options.minutes + self.options.steady_minutes
        started = self.event_start + offset * 60 if self.backfill else time.time()
        self.skew_started = format_instant(started, timespec="seconds")
        try:
            self._generate(step, self.options.skew_minutes)
        finally:
            reset_skew(self.backend)
        self._say(step, "skew reset: later traffic would use the workshop's first template again")
        self._say_scores(step)
        step.details["skew_started"] = self.skew_started

    def _read_alerts_in_time(self, step: StepReport) -> list[dict[str, Any]]:
        """The alerts; in real time, wait a little for the last windows to close and be scored."""
        alerts = self.backend.read_alerts()
        deadline = time.monotonic() + (0 if self.backfill else ALERT_WAIT_SECONDS)
        station = self.options.skew_station
        while not any(a["station"] == station for a in alerts) and time.monotonic() < deadline:
            self.reporter.progress(step, "waiting for the last windows to be scored")
            time.sleep(POLL_SECONDS / 2)
            alerts = self.backend.read_alerts()
        return alerts

    def alerts(self, step: StepReport) -> None:
        alerts = self._read_alerts_in_time(step)
        self.report.alerts = alerts
        started = self.skew_started or ""
        during = [a for a in alerts if _during_skew(a, started)]
        before = [a for a in alerts if not _during_skew(a, started)]
        station = self.options.skew_station
        for alert in alerts[:10]:
            explained = f" [{alert['explanation']}]" if alert.get("explanation") else ""
            self._say(step, f"{alert['window_start']}: {alert['message']}{explained}")
        if len(alerts) > 10:
            self._say(step, f"... and {len(alerts) - 10} more (toll alerts lists them all)")
        named = [a for a in during if a["station"] == station]
        scores = self.backend.read_scores()
        self._say(step, self._why(scores, started, station))
        if named:
            self._say(step, f"{counted(len(named), 'alert')} named {station}, the first at {named[0]['window_start']}")
        else:
            step.status = "warning"
            self._say(step, f"no alert named {station}: try a longer --steady-minutes or a lower --threshold")
        if before:
            self._say(step, f"{counted(len(before), 'alert')} came before the skew: false alarms on normal traffic")
        step.details.update(alerts=len(alerts), during_skew=len(during), named_skew_station=len(named), before_skew=len(before))

    def _why(self, scores: list[dict[str, Any]], started: str, station: str) -> str:
        """Why the score rose, from the scores as they are: nothing is claimed that did not happen
        (a short real-time run may have scored no window yet, or none above the threshold)."""
        scored = [r for r in scores if float(r["anomaly_score"]) > 0]
        calm = [float(r["anomaly_score"]) for r in scored if not _during_skew(r, started)]
        skewed = [float(r["anomaly_score"]) for r in scored if _during_skew(r, started)]
        threshold = self.options.threshold
        if not skewed:
            # a score row is one station's window: count the windows, not the rows
            windows = {str(r["window_start"]) for r in scores}
            windows_scored = {str(r["window_start"]) for r in scored}
            return (
                f"The anomaly app scored no window of the skewed traffic ({counted(len(windows), 'window')} counted, "
                f"{counted(len(windows_scored), 'window')} scored above 0 in all): the forest was still warming up, so it could "
                "not tell the skew from normal traffic; a longer --steady-minutes gives it time to learn."
            )
        learned = (
            f"before the skew no window scored above {max(calm):.2f}"
            if calm
            else "it had scored no window before the skew, so it had little to compare with"
        )
        peak = max(skewed)
        if peak > threshold:
            outcome = f"the score rose to {peak:.2f}, above the threshold of {threshold:g}"
        else:
            outcome = f"the score rose only to {peak:.2f}, not above the threshold of {threshold:g}"
        return (
            f"Why: the forest learned what a normal {WINDOW_SECONDS} s window looks like (the vehicle count at every "
            f"station; {learned}). When traffic diverted to {station}, the window's counts fell far from anything the "
            f"trees had sampled and {outcome}. The explanation gives the station that moved most (HIGH: more vehicles "
            "than usual, LOW: fewer) and its share of the score. As the skew goes on the forest learns it and the score "
            "falls back: RCF flags a change, not a level."
        )

    def dashboard(self, step: StepReport) -> None:
        self.wait_for_delivery(step)
        result = write_dashboard(self.backend, self.options.dashboard_path)
        self.report.dashboard = str(result.path)
        charts = ", ".join(f"{k} ({v} series)" for k, v in result.charts.items())
        self._say(step, f"wrote {result.path} ({result.path.stat().st_size / 1024:,.0f} KB): {charts}")
        self._say(step, "open it in any browser: it is one file and needs no network")
        for note in result.notes:
            self._say(step, note)
        step.details.update(path=str(result.path), charts=result.charts)

    def teardown(self, step: StepReport) -> None:
        result = self.backend.teardown(on_event=lambda message: self._say(step, message))
        self.report.torn_down = not result.failed
        for label, reason in result.failed:
            self._say(step, f"could not remove {label}: {reason}")
        if result.failed:
            step.status = "failed"
            self._say(step, f"run `{toll_command_for(self.backend.settings.home)} teardown --yes` to try again")
        else:
            self._say(step, f"removed {counted(len(result.removed), 'resource')}: nothing is left behind")
        step.details.update(removed=result.removed, failed=result.failed)

    def keep(self, step: StepReport) -> None:
        self.report.kept = True
        step.status = "skipped"
        # explicit: pasted anywhere; no --backend, as the home's ledger names its backend (`open_backend`)
        toll = f"toll --home {shlex.quote(str(Path(self.backend.settings.home).resolve()))}"
        self._say(
            step,
            f"kept (--keep) in {Path(self.backend.settings.home).resolve()}: explore with `{toll} query busiest`, "
            f"`{toll} alerts --scores`, `{toll} dashboard`; `{toll} teardown --yes` removes it",
        )


def _during_skew(row: dict[str, Any], skew_started: str) -> bool:
    """Whether a score or alert row's window saw skewed traffic: it ENDS after the skew started (a
    real-time skew starts mid-window, and that window's counts are already skewed). No skew yet
    (`skew_started` empty): everything counts as during, as there is nothing to tell apart."""
    if not skew_started:
        return True
    window_start = parse_instant(str(row["window_start"]), option="a score's window_start")
    return window_start.timestamp() + WINDOW_SECONDS > parse_instant(skew_started, option="the skew's start").timestamp()


def run_workshop(backend: Backend, options: WorkshopOptions, reporter: WorkshopReporter | None = None) -> WorkshopReport:
    """Run every step; a failure or an interrupt still tears down (unless keep) and then propagates."""
    return Workshop(backend, options, reporter).run()
