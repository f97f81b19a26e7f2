"""`toll query busiest|most-active|quiet|sql` and `toll compact`: the workshop's questions, any SQL."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Column, Table
from rich.text import Text

from tollcli.cli.common import AppContext, OutputFormat, SummaryFormat, app_context, print_json, to_jsonable
from tollcli.errors import UsageError
from tollcli.queries import DEFAULT_QUERY_TIMEOUT, QUESTIONS, QuestionResult, run_question, time_range
from tollcli.render import bar_chart, human_bytes, literal, safe

query_app = typer.Typer(
    name="query",
    help="Ask the workshop's questions (busiest, most-active, quiet) or run any read-only SQL.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

SINCE_HELP = "Only records at or after this time (ISO-8601; UTC unless it has an offset)."
UNTIL_HELP = "Only records before this time (ISO-8601)."
LAST_HELP = "Only the last DURATION before now, e.g. 15m, 2h, 1d."
TIMEOUT_HELP = "Stop the query after this many seconds (exit 1)."
STRICT_HELP = "Fail (exit 1) if the data holds bad rows, instead of skipping and counting them."


def set_timeout(app: AppContext, timeout: float) -> None:
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--timeout must be a number of seconds above 0, not {timeout:g}")
    app.backend.query_timeout = timeout


def _write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else to_jsonable(value) for value in row])
    sys.stdout.flush()


def _cell(value: Any) -> Text:
    return literal(_cell_text(value))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:,.0f}"
    return str(value)


def _print_table(app: AppContext, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    table = Table(*(Column(header=literal(c)) for c in columns), title=title or None, title_justify="left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    app.console.print(table)


def _report_notes(app: AppContext, notes: Sequence[str], skipped: int) -> None:
    for note in notes:
        if note.startswith("skipped "):
            continue
        app.err_console.print(literal(note))
    if skipped:
        app.err_console.print(f"[yellow]skipped {skipped:,} bad row(s)[/] (wrong field count, bad date or empty line)")


def _render_answer(app: AppContext, answer: QuestionResult, output_format: OutputFormat, chart: bool) -> None:
    if output_format is OutputFormat.json:
        print_json(answer.to_json())
        return
    if output_format is OutputFormat.csv:
        _write_csv(answer.columns, answer.rows)
        _report_notes(app, answer.notes, answer.skipped_rows)
        return
    if answer.rows:
        columns = list(answer.columns)
        if answer.question == "quiet":
            columns[columns.index("quiet")] = "quiet?"
        _print_table(app, columns, answer.rows, title=answer.title)
        if chart:
            labels = [str(row[0]) + (" ◀ quiet" if row[0] in answer.flagged else "") for row in answer.rows]
            bar_chart(app.console, labels, [row[1] for row in answer.rows], title="records")
        span = (f" from {answer.since}" if answer.since else "") + (f" until {answer.until}" if answer.until else "")
        app.console.print(f"{answer.total_records:,} records{span}")
    _report_notes(app, answer.notes, answer.skipped_rows)


def _ask(
    ctx: typer.Context,
    name: str,
    *,
    since: str | None,
    until: str | None,
    last: str | None,
    limit: int | None,
    output_format: OutputFormat,
    chart: bool,
    strict: bool,
    timeout: float,
) -> None:
    app = app_context(ctx)
    set_timeout(app, timeout)
    start, end = time_range(since=since, until=until, last=last)
    answer = run_question(app.backend, name, since=start, until=end, limit=limit, strict=strict)
    _render_answer(app, answer, output_format, chart)


def _question_command(name: str) -> Any:
    def command(
        ctx: typer.Context,
        since: str = typer.Option(None, "--since", metavar="TIME", help=SINCE_HELP, show_default=False),
        until: str = typer.Option(None, "--until", metavar="TIME", help=UNTIL_HELP, show_default=False),
        last: str = typer.Option(None, "--last", metavar="DURATION", help=LAST_HELP, show_default=False),
        limit: int = typer.Option(None, "--limit", min=1, help="Show the top N (ties included).", show_default=False),
        output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
        chart: bool = typer.Option(False, "--chart", help="Also draw a horizontal bar chart."),
        strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
        timeout: float = typer.Option(DEFAULT_QUERY_TIMEOUT, "--timeout", metavar="SECONDS", help=TIMEOUT_HELP),
    ) -> None:
        _ask(
            ctx, name, since=since, until=until, last=last, limit=limit, output_format=output_format, chart=chart, strict=strict,
            timeout=timeout,
        )  # fmt: skip

    command.__doc__ = {
        "busiest": "Which is the busiest toll station? Stations by records, busiest first, with their share.",
        "most-active": "Who is the most active user? License plates by records, with their share.",
        "quiet": "Which station reports less traffic than it should (a failing sensor)? Compared with the median station.",
    }[name]
    return command


for _name in QUESTIONS:
    query_app.command(_name)(_question_command(_name))


@query_app.command("sql")
def sql_command(
    ctx: typer.Context,
    statement: str = typer.Argument(..., metavar="SQL", help="One read-only statement in Athena's dialect."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    timeout: float = typer.Option(DEFAULT_QUERY_TIMEOUT, "--timeout", metavar="SECONDS", help=TIMEOUT_HELP),
) -> None:
    """Run any read-only SQL against lab_toll_data_stream (and anomaly_scores after `toll deploy`)."""
    app = app_context(ctx)
    set_timeout(app, timeout)
    result = app.backend.query(statement, strict=strict)
    if output_format is OutputFormat.json:
        print_json(
            {
                "columns": result.columns,
                "rows": [dict(zip(result.columns, row)) for row in result.rows],
                "skipped_rows": result.skipped_rows,
                "bytes_scanned": result.bytes_scanned,
                "cost_usd": result.cost_usd,
                "notes": result.notes,
            }
        )
        return
    if output_format is OutputFormat.csv:
        _write_csv(result.columns, result.rows)
    else:
        _print_table(app, result.columns, result.rows)
        app.err_console.print(f"{len(result.rows):,} row(s)")
    _report_notes(app, result.notes, result.skipped_rows)


def compact_command(
    ctx: typer.Context,
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """Rewrite delivered CSV objects as Parquet (as Firehose's format conversion would); queries read both."""
    app = app_context(ctx)
    quiet = output_format is SummaryFormat.json
    report = app.backend.compact(on_event=(lambda _m: None) if quiet else (lambda m: app.err_console.print(literal(f"  {m}"))))
    if quiet:
        print_json(report)
        return
    if report.nothing_to_do:
        app.console.print(f"Nothing to compact: {report.rows_total:,} rows already in {report.parts_total} Parquet part(s).")
        return
    app.console.print(
        f"[green]Compacted[/] {report.objects_compacted:,} CSV object(s), {report.rows:,} rows, "
        f"{human_bytes(report.bytes_before)} -> {human_bytes(report.bytes_after)} in {report.parts_written} Parquet part(s)."
    )
    if report.skipped_rows:
        app.err_console.print(
            f"[yellow]{report.skipped_rows:,} bad row(s)[/] left out and still counted as skipped; "
            f"{report.objects_kept_raw} object(s) holding them kept as they were under {safe(report.folder)}/rejected/"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")
    app.command("compact")(compact_command)
