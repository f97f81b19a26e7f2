"""`toll workshop` (the whole workshop, step by step) and `toll dashboard` (the QuickSight step, offline)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer
from rich.rule import Rule

from tollcli.cli.common import (
    AppContext,
    SummaryFormat,
    app_context,
    event_printer,
    print_json,
    rule_width,
    suggested_toll,
    summary_format_option,
)
from tollcli.config import DEFAULT_DASHBOARD, DEFAULT_THRESHOLD
from tollcli.errors import UsageError
from tollcli.units import counted


def workshop(
    ctx: typer.Context,
    minutes: float = typer.Option(10.0, "--minutes", help="Minutes of Section 1 traffic before the questions."),
    rate: float = typer.Option(100.0, "--rate", help="Records per second (the workshop: 100)."),
    skew_station: str = typer.Option("35South", "--skew-station", help="The station traffic diverts to in Section 2."),
    seed: int = typer.Option(None, "--seed", help="Seed every draw and the forest: the local run repeats exactly."),
    keep: bool = typer.Option(False, "--keep", help="Keep everything at the end instead of tearing it down."),
    steady_minutes: float = typer.Option(5.0, "--steady-minutes", help="Minutes of steady traffic after deploying."),
    skew_minutes: float = typer.Option(2.0, "--skew-minutes", help="Minutes of skewed traffic."),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, "--threshold", help="Alert above this anomaly score."),
    dashboard: Path = typer.Option(DEFAULT_DASHBOARD, "--dashboard", help="Where to write the dashboard.", metavar="FILE"),
    realtime: bool = typer.Option(
        False, "--realtime", help="Send traffic in real time on the local backend too (17 minutes), as on AWS."
    ),
    output_format: SummaryFormat = summary_format_option("table, or json: the steps on stderr and a JSON report on stdout."),
) -> None:
    """The whole workshop end to end: set up, traffic, the answers, the anomaly app, alerts, a dashboard, teardown.

    Locally the traffic is backfilled in event time (the run takes well under a minute); on
    --backend aws it runs in real time. Everything is torn down at the end, even after Ctrl-C or a
    failure, unless --keep.
    """
    # lazy: the workshop runs the generator, the queries and the anomaly app (numpy, DuckDB: ~165 ms to import);
    # keeps `toll --help` fast
    from tollcli.cli.workshop_reporter import ConsoleReporter
    from tollcli.workshop import WorkshopOptions, run_workshop

    app = app_context(ctx)
    options = WorkshopOptions(
        minutes=minutes,
        steady_minutes=steady_minutes,
        skew_minutes=skew_minutes,
        rate=rate,
        skew_station=skew_station,
        seed=seed,
        keep=keep,
        threshold=threshold,
        dashboard_path=dashboard,
        backfill=False if realtime else None,
    )
    as_json = output_format is SummaryFormat.json
    reporter = ConsoleReporter(app.err_console if as_json else app.console, app.err_console)
    backend = app.backend
    report = run_workshop(backend, options, reporter)
    if as_json:
        print_json(report)
        return
    out = app.console
    out.print()
    out.print(Rule("[bold]Done[/]", align="left"), width=rule_width(out))
    out.print(
        f"The workshop ran on the {report.backend} backend in {report.elapsed_s:.1f} s"
        + (f" (seed {report.seed})" if report.seed is not None else "")
        + "."
    )
    if report.dashboard:
        out.print(f"Dashboard: {Path(report.dashboard).resolve()}", markup=False)


def dashboard(
    ctx: typer.Context,
    out: Path = typer.Option(DEFAULT_DASHBOARD, "--out", help="The HTML file to write.", metavar="FILE"),
    open_it: bool = typer.Option(False, "--open", help="Open it in the browser afterwards."),
    output_format: SummaryFormat = summary_format_option(),
    quicksight: bool = typer.Option(
        False, "--quicksight", help="Instead, build the workshop's analysis in QuickSight (--backend aws, needs a subscription)."
    ),
    user: str = typer.Option(
        None, "--user", metavar="ARN", help="With --quicksight: the QuickSight user to share it with (default: yours)."
    ),
) -> None:
    """One offline HTML file with the workshop's charts: the QuickSight step, on either backend."""
    app = app_context(ctx)
    if quicksight or user is not None:
        publish_quicksight(app, quicksight=quicksight, user_arn=user, output_format=output_format, open_it=open_it)
        return
    # lazy: the dashboard reads the anomaly app's scores (numpy: ~85 ms to import); keeps `toll --help` fast
    from tollcli.dashboard import write_dashboard

    result = write_dashboard(app.backend, out)
    if output_format is SummaryFormat.json:
        print_json(result)
    else:
        charts = ", ".join(f"{name} ({series} series)" for name, series in result.charts.items())
        app.console.print(
            f"Wrote {result.path.resolve()}: {counted(result.records, 'record')}, {counted(result.alerts, 'alert')}; "
            f"charts: {charts}.",
            markup=False,
        )
        for note in result.notes:
            app.console.print(note)
    if open_it:
        uri = result.path.resolve().as_uri()
        if not webbrowser.open(uri):
            app.err_console.print(f"could not open a browser: open {uri} yourself")


def publish_quicksight(app: AppContext, *, quicksight: bool, user_arn: str | None, output_format: SummaryFormat,
                       open_it: bool) -> None:  # fmt: skip
    """`toll dashboard --quicksight`: the analysis in QuickSight (backends/aws/quicksight.py), its URL on stdout."""
    if not quicksight:
        raise UsageError("--user goes with --quicksight (the offline dashboard is not shared with anyone)")
    if not app.backend.capabilities.quicksight:
        raise UsageError(app.backend.refusal("quicksight"))
    quiet = output_format is SummaryFormat.json
    report = app.backend.publish_quicksight(user_arn=user_arn, on_event=event_printer(app, quiet=quiet))
    if quiet:
        print_json({"analysis_url": report.analysis_url, "shared_with": report.principal,
                    "created": report.created, "existing": report.existing})  # fmt: skip
    else:
        app.console.print(f"QuickSight analysis (shared with {report.principal}):", soft_wrap=True)
        app.console.print(report.analysis_url, soft_wrap=True, markup=False, highlight=False)
        toll = suggested_toll(app)
        app.err_console.print(f"`{toll} status` lists it; `{toll} teardown` removes it with the rest of the stack.", markup=False)
    if open_it and not webbrowser.open(report.analysis_url):
        app.err_console.print(f"could not open a browser: open {report.analysis_url} yourself")


def register(app: typer.Typer) -> None:
    app.command()(workshop)
    app.command()(dashboard)
