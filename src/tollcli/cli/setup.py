"""`toll setup`, `toll status`, `toll teardown`: the pipeline's lifecycle."""

from __future__ import annotations

import typer

from tollcli.cli.common import SummaryFormat, app_context, print_json
from tollcli.config import DEFAULT_BUFFER_MB, DEFAULT_BUFFER_SECONDS
from tollcli.errors import ExitStatus
from tollcli.render import literal, render_status, safe


def setup(
    ctx: typer.Context,
    buffer_mb: int = typer.Option(
        DEFAULT_BUFFER_MB, "--buffer-mb", help="Delivery stream buffer size hint, 1-128 MB (the workshop: 1)."
    ),
    buffer_seconds: int = typer.Option(
        DEFAULT_BUFFER_SECONDS, "--buffer-seconds", help="Delivery stream buffer interval hint, 0-900 s (the workshop: 60)."
    ),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """Provision Section 1: delivery stream, bucket, IAM role (on AWS), database and table. Idempotent."""
    app = app_context(ctx)
    backend = app.backend
    quiet = output_format is SummaryFormat.json
    report = backend.setup(
        buffer_mb=buffer_mb,
        buffer_seconds=buffer_seconds,
        on_event=(lambda _m: None) if quiet else (lambda m: app.err_console.print(literal(f"  {m}"))),
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
            f"[green]Set up[/] {len(report.created)} resource(s) on the {backend.name} backend in {app.settings.home}."
        )
    else:
        app.console.print(f"Already set up: nothing changed ({len(report.existing)} resources on the {backend.name} backend).")
    app.console.print("Next: [bold]toll generate --rate 100[/] (Ctrl-C to stop), then [bold]toll query busiest[/].")


def status(
    ctx: typer.Context,
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """What exists, where, its settings, and what it costs to keep."""
    app = app_context(ctx)
    report = app.backend.status()
    if output_format is SummaryFormat.json:
        print_json(report)
        return
    render_status(app.console, report)


def teardown(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """Remove everything toll created here (what the ledger lists), and nothing else."""
    app = app_context(ctx)
    backend = app.backend
    ledger = backend.load_ledger()
    if ledger is not None and ledger.resources and not yes:
        names = ", ".join(f"{r.kind} {r.name}" for r in ledger.resources)
        if not typer.confirm(f"Remove {len(ledger.resources)} resource(s) on {ledger.backend} ({names})?", err=True):
            app.err_console.print("Nothing removed.")
            raise typer.Exit(int(ExitStatus.FAILURE))
    quiet = output_format is SummaryFormat.json
    report = backend.teardown(on_event=(lambda _m: None) if quiet else (lambda m: app.err_console.print(literal(f"  {m}"))))
    if quiet:
        print_json(report)
    elif report.nothing_to_do:
        app.console.print(literal(f"Nothing to tear down in {app.settings.home}."))
    elif not report.failed:
        app.console.print(f"[green]Removed[/] {len(report.removed)} resource(s).")
    if report.failed:
        for label, reason in report.failed:
            app.err_console.print(f"[red]could not remove[/] {safe(label)}: {safe(reason)}")
        raise typer.Exit(int(ExitStatus.FAILURE))


def register(app: typer.Typer) -> None:
    app.command()(setup)
    app.command()(status)
    app.command()(teardown)
