"""`toll deploy` and `toll alerts`: the workshop's Section 2 anomaly app and what it raised."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.table import Table

from tollcli.anomaly.app import DEFAULT_THRESHOLD, AnomalyConfig
from tollcli.anomaly.windows import DEFAULT_LATENESS_SECONDS, DEFAULT_WINDOW_SECONDS
from tollcli.cli.common import AppContext, SummaryFormat, app_context, print_json
from tollcli.render import literal, safe

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
    window: int = typer.Option(int(DEFAULT_WINDOW_SECONDS), "--window", help="Tumbling window, seconds of event time."),
    lateness: float = typer.Option(
        DEFAULT_LATENESS_SECONDS, "--lateness", help="How long a window waits for late records (event-time seconds)."
    ),
    webhook: str = typer.Option(None, "--webhook", metavar="URL", help="POST each alert as JSON to this http(s) URL."),
    email: str = typer.Option(None, "--email", help="Alert by e-mail through SNS (aws backend)."),
    phone: str = typer.Option(None, "--phone", help="Alert by SMS through SNS (aws backend)."),
    replay: bool = typer.Option(False, "--replay", help="Score the records already in the bucket, from scratch."),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """Deploy the anomaly app: from now on every `toll generate` feeds it as records flow."""
    app = app_context(ctx)
    config = AnomalyConfig.from_options(
        mode=mode,
        threshold=threshold,
        trees=trees,
        sample_size=sample_size,
        time_decay=time_decay,
        shingle=shingle,
        window_seconds=window,
        lateness_seconds=lateness,
        webhook=webhook,
        email=email,
        phone=phone,
    )
    quiet = output_format is SummaryFormat.json
    report = app.backend.deploy(
        config=config, replay=replay, on_event=(lambda _m: None) if quiet else (lambda m: app.err_console.print(f"  {m}"))
    )
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
            f"Replayed {figures['records']:,} records from {figures['objects']:,} objects: "
            f"{figures['windows']:,} windows scored, {figures['alerts']:,} alerts, "
            f"{figures['late_records']:,} late and "
            f"{figures['rejected_records'] + figures['unreadable_records']:,} unreadable records."
        )
    app.console.print("Next: [bold]toll generate --rate 100[/] feeds it; [bold]toll alerts[/] shows what it raised.")


def alerts(
    ctx: typer.Context,
    scores: bool = typer.Option(False, "--scores", help="Also list every scored window."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep watching; print new ones as they come (Ctrl-C stops)."),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json (lines with --follow)."),
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
    try:  # Ctrl-C is how a follow ends: exit 0, as after any finished listing
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
        return


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
            f"{safe(summary['window_start'])} score {summary['anomaly_score']:.2f} vehicles {summary['vehicle_count']:,}"
            + (f" {safe(summary['explanation'])}" if summary["explanation"] else "")
            + (" [red]ALERT[/]" if summary["alert"] else "")
        )


def _explained(row: dict[str, Any]) -> str:
    return f" ({row['explanation']})" if row.get("explanation") else ""


def summarize_windows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per window from its station rows: total vehicles, top score and its explanation."""
    by_window: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_window.setdefault(str(row["window_start"]), []).append(row)
    summaries = []
    for start, group in by_window.items():
        top = max(group, key=lambda r: (bool(r.get("alert")), float(r.get("anomaly_score") or 0.0), _share_of(r)))
        summaries.append(
            {
                "window_start": start,
                "vehicle_count": sum(int(r.get("vehicle_count") or 0) for r in group),
                "anomaly_score": float(top.get("anomaly_score") or 0.0),
                "explanation": top.get("explanation") or "",
                "alert": any(r.get("alert") for r in group),
            }
        )
    return summaries


def _share_of(row: dict[str, Any]) -> float:
    """The share in an explanation such as `35South HIGH 54%`, or 0."""
    try:
        return float(str(row.get("explanation") or "").rsplit(" ", 1)[-1].rstrip("%"))
    except ValueError:
        return 0.0


def render_alerts(app: AppContext, alert_rows: list[dict[str, Any]], score_rows: list[dict[str, Any]] | None) -> None:
    if score_rows is not None:
        table = Table("window start", "vehicles", "score", "explanation", "alert", title="Scored windows")
        for summary in summarize_windows(score_rows):
            table.add_row(
                literal(summary["window_start"]),
                f"{summary['vehicle_count']:,}",
                f"{summary['anomaly_score']:.2f}",
                literal(summary["explanation"]),
                "[red]yes[/]" if summary["alert"] else "",
            )
        app.console.print(table)
    if not alert_rows:
        app.console.print("No alerts raised yet.")
        return
    for row in alert_rows:
        app.console.print(f"[red]{safe(row['window_start'])}[/] {safe(row['message'])}" + safe(_explained(row)), soft_wrap=True)
    app.console.print(f"{len(alert_rows)} alert(s).")


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(alerts)
