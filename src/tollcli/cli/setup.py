"""`toll setup`, `toll status`, `toll teardown`: the pipeline's lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tollcli.cli.common import SummaryFormat, app_context, event_printer, print_json, suggested_toll, summary_format_option
from tollcli.config import DEFAULT_BUFFER_MB, DEFAULT_BUFFER_SECONDS
from tollcli.errors import ExitStatus, UsageError
from tollcli.render import literal, render_status, safe
from tollcli.skew import read_skew
from tollcli.state import EVENT_TIME_KIND, SKEW_KIND, read_last_event
from tollcli.units import counted, format_instant

if TYPE_CHECKING:
    from tollcli.backends.reports import StatusReport


def setup(
    ctx: typer.Context,
    buffer_mb: int = typer.Option(
        DEFAULT_BUFFER_MB, "--buffer-mb", help="Delivery stream buffer size hint, 1-128 MB (the workshop: 1)."
    ),
    buffer_seconds: int = typer.Option(
        DEFAULT_BUFFER_SECONDS, "--buffer-seconds", help="Delivery stream buffer interval hint, 0-900 s (the workshop: 60)."
    ),
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """Provision Section 1: delivery stream, bucket, IAM role (on AWS), database and table. Idempotent."""
    app = app_context(ctx)
    backend = app.backend
    quiet = output_format is SummaryFormat.json
    report = backend.setup(
        buffer_mb=buffer_mb,
        buffer_seconds=buffer_seconds,
        on_event=event_printer(app, quiet=quiet),
    )
    if quiet:
        print_json(
            {
                "backend": backend.name,
                "home": str(app.settings.home),
                "changed": report.changed,
                "created": report.created,
                "existing": report.existing,
            }
        )
        return
    if report.changed:
        app.console.print(
            f"[green]Set up[/] {counted(len(report.created), 'resource')} on the {backend.name} backend in "
            f"{Path(app.settings.home).resolve()}."
        )
    else:
        app.console.print(
            f"Already set up: nothing changed ({counted(len(report.existing), 'resource')} on the {backend.name} backend)."
        )
    toll = escape(suggested_toll(app))
    app.console.print(
        f"Next: [bold]{toll} generate --rate 100[/] (Ctrl-C to stop), then [bold]{toll} query busiest[/].", markup=True
    )


def status(
    ctx: typer.Context,
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """What exists, where, its settings, and what it costs to keep."""
    app = app_context(ctx)
    report = app.backend.status()
    describe_home_files(report, Path(app.settings.home))
    report.home = str(Path(report.home).resolve())  # where the ledger and data are, wherever you run it from
    if output_format is SummaryFormat.json:
        print_json(report)
        return
    render_status(app.console, report)


def describe_home_files(report: StatusReport, home: Path) -> None:
    """The files `toll` keeps in the home say what they hold: which station the skew diverts (or
    silences), and up to when the home holds event time (where the next backfill continues)."""
    for item in report.resources:
        if item.kind == SKEW_KIND and item.state == "present":
            state = read_skew(home)
            if state is not None:
                item.details = {"station": state.station, "mode": state.mode, "since": state.changed_at, **item.details}
        elif item.kind == EVENT_TIME_KIND and item.state == "present":
            last = read_last_event(home)
            if last is not None:
                item.details = {"last_event": format_instant(last), "next_backfill": "continues after it", **item.details}


def teardown(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """Remove everything toll created here (what the ledger lists), and nothing else."""
    app = app_context(ctx)
    backend = app.backend
    ledger = backend.load_ledger()
    if ledger is not None and ledger.resources and not yes:
        names = ", ".join(r.describe() for r in ledger.resources)
        where = Path(app.settings.home).resolve()
        try:
            answer = typer.confirm(
                f"Remove {counted(len(ledger.resources), 'resource')} on {ledger.backend}, recorded in {where} ({names})?",
                err=True,
            )
        except typer.Abort:  # no terminal to answer (stdin closed or not interactive)
            typer.echo("", err=True)  # end the prompt's line
            raise UsageError(
                f"toll teardown asks before removing anything, and nothing answered: pass --yes to remove "
                f"{counted(len(ledger.resources), 'resource')} recorded in {where}"
            ) from None
        if not answer:
            app.err_console.print("Nothing removed.")
            raise typer.Exit(int(ExitStatus.FAILURE))
    quiet = output_format is SummaryFormat.json
    report = backend.teardown(on_event=event_printer(app, quiet=quiet))
    if quiet:
        print_json(report)
    elif report.nothing_to_do:
        app.console.print(literal(f"Nothing to tear down in {Path(app.settings.home).resolve()}."))
    elif not report.failed:
        app.console.print(
            f"[green]Removed[/] {counted(len(report.removed), 'resource')} from {Path(app.settings.home).resolve()}."
        )
    if report.failed:
        for label, reason in report.failed:
            app.err_console.print(f"[red]could not remove[/] {safe(label)}: {safe(reason)}")
        raise typer.Exit(int(ExitStatus.FAILURE))


def register(app: typer.Typer) -> None:
    app.command()(setup)
    app.command()(status)
    app.command()(teardown)
