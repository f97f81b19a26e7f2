"""`toll deploy` and `toll alerts`: the workshop's Section 2 anomaly app and what it raised."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.markup import escape

from tollcli.cli.common import (
    AppContext,
    SummaryFormat,
    app_context,
    event_printer,
    print_json,
    suggested_toll,
    summary_format_option,
)
from tollcli.config import (
    DEFAULT_BASELINE_WINDOWS,
    DEFAULT_LATENESS_SECONDS,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_SECONDS,
    WARMING_UP,
)
from tollcli.errors import ExitStatus, UsageError
from tollcli.render import literal, safe
from tollcli.units import DURATION_HELP, counted, parse_duration

DEFAULT_FOLLOW_INTERVAL = 1.0


def deploy(
    ctx: typer.Context,
    threshold: float = typer.Option(DEFAULT_THRESHOLD, "--threshold", help="Alert above this score (the workshop: 2.5)."),
    mode: str = typer.Option(
        "default",
        "--mode",
        metavar="default|workshop",
        help="default: one point per window across stations, explained by attribution; "
        "workshop: the workshop's per-row RANDOM_CUT_FOREST(..., 1, 10, 10, 2).",
    ),
    trees: int = typer.Option(
        None, "--trees", help="Number of trees (default 50; AWS's default is 100; workshop mode 1).", show_default=False
    ),
    sample_size: int = typer.Option(
        None, "--sample-size", help="Samples per tree (default 256; workshop mode 10).", show_default=False
    ),
    time_decay: float = typer.Option(
        None, "--time-decay", help="Time decay in points, as KDA took it (default 100000; workshop mode 10).", show_default=False
    ),
    shingle: int = typer.Option(None, "--shingle", help="Shingle size (default 1; workshop mode 2).", show_default=False),
    window: str = typer.Option(
        f"{DEFAULT_WINDOW_SECONDS:g}s", "--window", metavar="DURATION", help=f"Tumbling window of event time: {DURATION_HELP}."
    ),
    lateness: str = typer.Option(
        f"{DEFAULT_LATENESS_SECONDS:g}s",
        "--lateness",
        metavar="DURATION",
        help=f"How long a window waits for late records, in event time: {DURATION_HELP}.",
    ),
    baseline_windows: int = typer.Option(
        DEFAULT_BASELINE_WINDOWS,
        "--baseline-windows",
        help="A station's usual count is its median over this many recent windows without an alert.",
    ),
    webhook: str = typer.Option(None, "--webhook", metavar="URL", help="POST each alert as JSON to this http(s) URL."),
    email: str = typer.Option(None, "--email", help="Alert by e-mail through SNS (aws backend)."),
    phone: str = typer.Option(None, "--phone", help="Alert by SMS through SNS (aws backend)."),
    replay: bool = typer.Option(False, "--replay", help="Score the records already in the bucket, from scratch."),
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """Deploy the anomaly app: from now on every `toll generate` feeds it as records flow."""
    from tollcli.anomaly.app import AnomalyConfig  # lazy: it loads numpy and krcf (~105 ms to import); keeps `toll --help` fast

    app = app_context(ctx)
    config = AnomalyConfig.from_options(
        mode=mode,
        threshold=threshold,
        trees=trees,
        sample_size=sample_size,
        time_decay=time_decay,
        shingle=shingle,
        window_seconds=whole_seconds(parse_duration(window, option="--window", allow_zero=True), "--window"),
        lateness_seconds=parse_duration(lateness, option="--lateness", allow_zero=True),
        baseline_windows=baseline_windows,
        webhook=webhook,
        email=email,
        phone=phone,
    )
    quiet = output_format is SummaryFormat.json
    report = app.backend.deploy(config=config, replay=replay, on_event=event_printer(app, quiet=quiet))
    if quiet:
        print_json({"backend": app.backend.name, "changed": report.changed, **vars(report)})
        return
    forest = config.forest
    app.console.print(
        f"[green]Deployed[/] the anomaly app on the {app.backend.name} backend: {config.mode} mode, "
        f"{forest.trees} trees x {forest.sample_size} samples, time decay {forest.time_decay:g}, shingle {forest.shingle}, "
        f"{config.window_seconds} s windows ({config.lateness_seconds:g} s lateness), alerts above {config.threshold:g}"
        + (f", webhook {config.webhook}" if config.webhook else "")
        + "."
    )
    for note in report.notes:
        app.console.print(note)
    if report.replay is not None:
        figures = report.replay
        app.console.print(
            f"Replayed {counted(figures.records, 'record')} from {counted(figures.objects, 'object')}: "
            f"{counted(figures.windows, 'window')} scored, {counted(figures.alerts, 'alert')}, "
            f"{figures.late_records:,} late and "
            f"{counted(figures.rejected_records + figures.unreadable_records, 'unreadable record')}."
        )
    toll = escape(suggested_toll(app))
    app.console.print(f"Next: [bold]{toll} generate --rate 100[/] feeds it; [bold]{toll} alerts[/] shows what it raised.")


def whole_seconds(seconds: float, option: str) -> int:
    if not float(seconds).is_integer():
        raise UsageError(f"{option} must be whole seconds, not {seconds:g} s")
    return int(seconds)


def alerts(
    ctx: typer.Context,
    scores: bool = typer.Option(False, "--scores", help="Also list every scored window."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep watching; print new ones as they come (Ctrl-C stops)."),
    output_format: SummaryFormat = summary_format_option("table or json (lines with --follow)."),
    interval: float = typer.Option(DEFAULT_FOLLOW_INTERVAL, "--interval", help="Seconds between checks.", hidden=True),
) -> None:
    """The alerts raised, oldest first; --scores adds every scored window."""
    app = app_context(ctx)
    backend = app.backend
    alert_rows = backend.read_alerts()
    score_rows = backend.read_scores() if scores else []
    as_json = output_format is SummaryFormat.json
    if not follow:
        if as_json:
            print_json({"alerts": alert_rows, **({"scores": score_rows} if scores else {})})
        else:
            render_alerts(app, alert_rows, score_rows if scores else None)
        return
    emit = _emit_json_lines if as_json else (lambda kind, rows: _emit_lines(app, kind, rows))
    try:  # Ctrl-C is how a follow ends; like every command stopped by a signal it exits 128 + SIGINT = 130
        emit("score", score_rows)
        emit("alert", alert_rows)
        last_alert = _last_window(alert_rows)
        last_score = _last_window(score_rows)
        while True:
            time.sleep(interval)
            if scores:
                new_scores = backend.read_scores(since=last_score)
                emit("score", new_scores)
                last_score = _last_window(new_scores) or last_score
            new_alerts = backend.read_alerts(since=last_alert)
            emit("alert", new_alerts)
            last_alert = _last_window(new_alerts) or last_alert
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None


def _last_window(rows: list[dict[str, Any]]) -> str | None:
    return str(rows[-1]["window_start"]) if rows else None


def _emit_json_lines(kind: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps({"kind": kind, **row}) + "\n")
    sys.stdout.flush()


def _emit_lines(app: AppContext, kind: str, rows: list[dict[str, Any]]) -> None:
    if kind == "alert":
        for row in rows:
            app.console.print(f"[red]{safe(row['window_start'])}[/] {safe(row['message'])}" + safe(_explained(row)))
        return
    for summary in summarize_windows(rows):
        app.console.print(
            f"{safe(summary['window_start'])} {_score_text(summary, 'score ')} vehicles {summary['vehicle_count']:,}"
            + (f" {safe(summary['explanation'])}" if summary["explanation"] else "")
            + (" [red]ALERT[/]" if summary["alert"] else "")
        )


def _explained(row: dict[str, Any]) -> str:
    return f" ({row['explanation']})" if row.get("explanation") else ""


def _score_text(summary: dict[str, Any], prefix: str = "") -> str:
    """`2.87`, or `warming up` for a window scored before the forest gives scores (not a calm 0)."""
    return WARMING_UP if summary["warming_up"] else f"{prefix}{summary['anomaly_score']:.2f}"


def summarize_windows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per window from its station rows: total vehicles, top score and its explanation
    (none while the forest warms up: every row of the window says WARMING_UP)."""
    by_window: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_window.setdefault(str(row["window_start"]), []).append(row)
    summaries = []
    for start, group in by_window.items():
        top = max(group, key=lambda r: (bool(r.get("alert")), float(r.get("anomaly_score") or 0.0), _share_of(r)))
        warming_up = all(r.get("explanation") == WARMING_UP for r in group)
        summaries.append(
            {
                "window_start": start,
                "vehicle_count": sum(int(r.get("vehicle_count") or 0) for r in group),
                "anomaly_score": float(top.get("anomaly_score") or 0.0),
                "explanation": "" if warming_up else _with_usual(top),
                "alert": any(r.get("alert") for r in group),
                "warming_up": warming_up,
            }
        )
    return summaries


def _with_usual(row: dict[str, Any]) -> str:
    """A row's explanation with its count and usual count: `35South HIGH 54% (273, usually 11)`."""
    from tollcli.anomaly.alerts import usual_text  # lazy: it loads numpy and krcf (~105 ms to import); keeps `toll --help` fast

    explanation = str(row.get("explanation") or "")
    if explanation == WARMING_UP:
        return ""  # a workshop-mode window whose first rows came before the forest gave scores
    usual = row.get("baseline_count")
    if not explanation or usual is None:
        return explanation
    return f"{explanation} ({int(row.get('vehicle_count') or 0):,}, usually {usual_text(float(usual))})"


def _share_of(row: dict[str, Any]) -> float:
    """The share in an explanation such as `35South HIGH 54%`, or 0."""
    try:
        return float(str(row.get("explanation") or "").rsplit(" ", 1)[-1].rstrip("%"))
    except ValueError:
        return 0.0


def render_alerts(app: AppContext, alert_rows: list[dict[str, Any]], score_rows: list[dict[str, Any]] | None) -> None:
    if score_rows is not None:
        from rich.table import Table  # lazy: rich.table takes ~4 ms to import, which `toll --help` need not pay

        table = Table("window start", "vehicles", "score", "explanation", "alert", title="Scored windows")
        for summary in summarize_windows(score_rows):
            table.add_row(
                literal(summary["window_start"]),
                f"{summary['vehicle_count']:,}",
                _score_text(summary),
                literal(summary["explanation"]),
                "[red]yes[/]" if summary["alert"] else "",
            )
        app.console.print(table)
    if not alert_rows:
        app.console.print("No alerts raised yet.")
        return
    for row in alert_rows:
        app.console.print(f"[red]{safe(row['window_start'])}[/] {safe(row['message'])}" + safe(_explained(row)), soft_wrap=True)
    app.console.print(f"{counted(len(alert_rows), 'alert')}.")


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(alerts)
