"""`toll query busiest|most-active|quiet|sql` and `toll compact`: the workshop's questions, any SQL."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from tollcli.cli.common import (
    AppContext,
    OutputFormat,
    SummaryFormat,
    app_context,
    event_printer,
    output_format_option,
    print_json,
    summary_format_option,
    timeout_option,
    to_jsonable,
)
from tollcli.config import QUESTION_NAMES
from tollcli.errors import UsageError
from tollcli.render import bar_chart, human_bytes, literal, safe
from tollcli.units import DURATION_HELP, counted, parse_duration

if TYPE_CHECKING:
    from tollcli.questions import QuestionResult

query_app = typer.Typer(
    name="query",
    help="Ask the workshop's questions (busiest, most-active, quiet) or run any read-only SQL.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

SINCE_HELP = "Only records at or after this time (ISO-8601; UTC unless it has an offset)."
UNTIL_HELP = "Only records before this time (ISO-8601)."
LAST_HELP = f"Only the last DURATION before now (up to now: not with --until): {DURATION_HELP}."
STRICT_HELP = "Fail (exit 1) if the data holds bad rows, instead of skipping and counting them."


def set_timeout(app: AppContext, timeout: str) -> None:
    """`--timeout` read as every duration option reads its text (`parse_duration`), whose message says
    what is wrong with it (`1h30`: only a lone number may leave out its unit). A plain number that is
    no time to wait (0, -5, nan, inf) is told so first."""
    text = timeout.strip()
    if text.isascii():
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and not (math.isfinite(number) and number > 0):
            raise UsageError(f"--timeout must be a duration above 0 ({DURATION_HELP}), not {timeout!r}")
    app.backend.query_timeout = parse_duration(timeout, option="--timeout")


def _write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else to_jsonable(value) for value in row])
    sys.stdout.flush()


# Table mode only (json and csv keep the SQL's own column names): headers a reader understands.
HEADERS = {
    "share_pct": "share %",
    "below_median_pct": "below median %",
    "sigmas_below": "σ below",
    "quiet": "quiet?",
    "station_rank": "rank",
    "total_records": "all records",
}


def _cell(value: Any, decimals: int = 2) -> Text:
    """A value as printed data (never markup; control characters escaped)."""
    return literal(_cell_text(value, decimals))


def _cell_text(value: Any, decimals: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        text = f"{value:,.{decimals}f}"
        return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text  # never "-0.00"
    return str(value)


def _decimals(values: Iterable[Any]) -> int | None:
    """Decimals a float column needs (at most 2), the same on every row; None when it holds no floats."""
    found: int | None = None
    for value in values:
        if isinstance(value, float) and math.isfinite(value):
            digits = f"{value:.2f}".rstrip("0").split(".")[1]
            found = max(found or 0, len(digits))
    return found


def _print_table(
    app: AppContext, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "", *, human_headers: bool = True
) -> None:
    """One table; every float column with the same decimals, headers never cut short. A user's own
    SQL keeps its column names (`human_headers=False`): they are what the query said."""
    from rich.table import Table  # lazy: rich.table takes ~4 ms to import, which `toll --help` need not pay

    headers = [HEADERS.get(c, c) if human_headers else c for c in columns]
    table = Table(title=literal(title) if title else None, title_justify="left")
    decimals = [_decimals(row[i] for row in rows) for i in range(len(columns))]
    for index, header in enumerate(headers):
        table.add_column(literal(header), overflow="fold", justify="left" if decimals[index] is None else "right")
    for row in rows:
        table.add_row(*(_cell(v, d or 0) for v, d in zip(row, decimals)))
    app.console.print(table)


def _quiet_rows(answer: QuestionResult) -> list[list[Any]]:
    """`quiet` for reading: a station above the median is not "below" it (blank, never negative),
    and a station far below the median that is not named says why."""
    # lazy: ~12 ms to import (statistics, decimal, the backend interface), which `toll --help` need not pay
    from tollcli.questions import QUIET_SIGMAS

    columns = list(answer.columns)
    below, sigmas, quiet = columns.index("below_median_pct"), columns.index("sigmas_below"), columns.index("quiet")
    rows = []
    for source in answer.rows:
        row = list(source)
        if row[below] is not None and row[below] <= 0:
            row[below] = row[sigmas] = None
        elif not row[quiet] and row[sigmas] is not None and row[sigmas] > QUIET_SIGMAS:
            row[quiet] = f"no: {100 - row[below]:.0f}% of the median"  # named only at or under QUIET_RATIO
        rows.append(row)
    return rows


def _report_notes(app: AppContext, notes: Sequence[str], skipped: int) -> None:
    for note in notes:
        if note.startswith("skipped "):
            continue
        app.err_console.print(literal(note))
    if skipped:
        app.err_console.print(f"[yellow]skipped {counted(skipped, 'bad row')}[/] (wrong field count, bad date or empty line)")


def _render_answer(app: AppContext, answer: QuestionResult, output_format: OutputFormat, chart: bool) -> None:
    if output_format is OutputFormat.json:
        print_json(answer.to_json())
        return
    if output_format is OutputFormat.csv:
        _write_csv(answer.columns, answer.rows)
        _report_notes(app, answer.notes, answer.skipped_rows)
        return
    if answer.rows:
        rows = _quiet_rows(answer) if answer.question == "quiet" else answer.rows
        _print_table(app, answer.columns, rows, title=answer.title)
        if chart:
            labels = [str(row[0]) + (" ◀ quiet" if row[0] in answer.flagged else "") for row in answer.rows]
            bar_chart(app.console, labels, [row[1] for row in answer.rows], title="records")
        span = (f" from {answer.since}" if answer.since else "") + (f" until {answer.until}" if answer.until else "")
        app.console.print(f"{counted(answer.total_records, 'record')}{span}")
    answer_line = f"{answer.question}: "
    for note in answer.notes:
        if note.startswith(answer_line):  # the answer itself belongs with the table, on stdout
            app.console.print(note, markup=False)
    _report_notes(app, [n for n in answer.notes if not n.startswith(answer_line)], answer.skipped_rows)


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
    timeout: str,
) -> None:
    from tollcli.questions import run_question, time_range  # lazy: see _quiet_rows

    app = app_context(ctx)
    set_timeout(app, timeout)
    start, end = time_range(since=since, until=until, last=last)
    answer = run_question(app.backend, name, since=start, until=end, limit=limit, strict=strict)
    _render_answer(app, answer, output_format, chart)
    _note_buffered_records(app)


def _note_buffered_records(app: AppContext) -> None:
    """A live `toll generate` holds up to a buffer's worth (60 s) of records not yet in the table."""
    running = app.backend.deliveries_in_progress()
    if running:
        seconds = round(app.backend.buffering_seconds())
        app.err_console.print(
            f"a `toll generate` is delivering here now (pid {', '.join(map(str, running))}): up to its last {seconds} s "
            "of records are still in the delivery stream's buffer and on their way; ask again for them",
            markup=False,
        )


def _question_command(name: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        since: str = typer.Option(None, "--since", metavar="TIME", help=SINCE_HELP, show_default=False),
        until: str = typer.Option(None, "--until", metavar="TIME", help=UNTIL_HELP, show_default=False),
        last: str = typer.Option(None, "--last", metavar="DURATION", help=LAST_HELP, show_default=False),
        limit: int = typer.Option(None, "--limit", min=1, help="Show the top N (ties included).", show_default=False),
        output_format: OutputFormat = output_format_option(),
        chart: bool = typer.Option(False, "--chart", help="Also draw a horizontal bar chart."),
        strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
        timeout: str = timeout_option(),
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


for _name in QUESTION_NAMES:
    query_app.command(_name)(_question_command(_name))


@query_app.command("sql")
def sql_command(
    ctx: typer.Context,
    statement: str = typer.Argument(..., metavar="SQL", help="One read-only statement in Athena's dialect."),
    output_format: OutputFormat = output_format_option(),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    timeout: str = timeout_option(),
) -> None:
    """Run any read-only SQL against lab_toll_data_stream (and anomaly_scores after `toll deploy`)."""
    from tollcli.athena_values import (  # lazy: ~2 ms (csv, decimal) `toll --help` need not pay
        athena_csv,
        athena_json,
        athena_rows,
    )

    app = app_context(ctx)
    set_timeout(app, timeout)
    app.backend.keep_translations = False  # a user's SQL changes nothing in the home, not even a cache
    result = app.backend.query(statement, strict=strict)
    if output_format is OutputFormat.json:
        print_json(
            {
                "columns": result.columns,
                "rows": [dict(zip(result.columns, map(athena_json, row))) for row in result.rows],
                "skipped_rows": result.skipped_rows,
                "bytes_scanned": result.bytes_scanned,
                "cost_usd": result.cost_usd,
                "notes": result.notes,
            }
        )
        return
    if output_format is OutputFormat.csv:
        sys.stdout.write(athena_csv(result.columns, result.rows))  # values as Athena's result CSV has them
        sys.stdout.flush()
    else:
        _print_table(app, result.columns, athena_rows(result.rows), human_headers=False)
        app.err_console.print(counted(len(result.rows), "row"))
    _report_notes(app, result.notes, result.skipped_rows)


def compact_command(
    ctx: typer.Context,
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """Rewrite delivered CSV objects as Parquet (as Firehose's format conversion would); queries read both."""
    app = app_context(ctx)
    if not app.backend.capabilities.compact:
        raise UsageError(app.backend.refusal("compact"))
    quiet = output_format is SummaryFormat.json
    report = app.backend.compact(on_event=event_printer(app, quiet=quiet))
    if quiet:
        print_json(report)
        return
    if report.nothing_to_do:
        app.console.print(
            f"Nothing to compact: {counted(report.rows_total, 'row')} already in {counted(report.parts_total, 'Parquet part')}."
        )
        return
    app.console.print(
        f"[green]Compacted[/] {counted(report.objects_compacted, 'CSV object')}, {counted(report.rows, 'row')}, "
        f"{human_bytes(report.bytes_before)} -> {human_bytes(report.bytes_after)} "
        f"in {counted(report.parts_written, 'Parquet part')}."
    )
    if report.skipped_rows:
        app.err_console.print(
            f"[yellow]{counted(report.skipped_rows, 'bad row')}[/] left out and still counted as skipped; "
            f"{counted(report.objects_kept_raw, 'object')} holding them kept as they were under {safe(report.folder)}/rejected/"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")
    app.command("compact")(compact_command)
