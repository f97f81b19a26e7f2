"""`toll generate` and `toll skew`: the Kinesis Data Generator's page, from the terminal."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from tollcli.cli.common import SummaryFormat, app_context, print_json
from tollcli.delivery import StreamSink
from tollcli.errors import ExitStatus, UsageError
from tollcli.generator import (
    DEFAULT_RATE,
    GenerateOptions,
    GenerateProgress,
    GenerateSummary,
    parse_duration,
    parse_start,
    run_generation,
    sample_records,
)
from tollcli.kdg import default_spec, load_template, skewed_spec
from tollcli.render import literal, safe
from tollcli.skew import SkewState, check_station, reset_skew, skewed_weights, write_skew


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C (or SIGTERM) asks the run to stop, flush and report; a second Ctrl-C aborts."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _station_table(per_station: dict[str, int], total: int) -> Table:
    table = Table("station", "records", "share", box=None, pad_edge=False)
    for station, count in per_station.items():
        share = count / total if total else 0.0
        table.add_row(literal(station), f"{count:,}", f"{share:6.1%} " + "█" * round(share * 40))
    return table


def _progress_view(progress: GenerateProgress) -> Group:
    line = (
        f"[bold]{progress.generated:,}[/] records generated, {progress.accepted:,} delivered, "
        f"{progress.rate:,.1f}/s, {progress.elapsed:,.1f} s elapsed (Ctrl-C to stop)"
    )
    return Group(line, _station_table(progress.per_station, progress.generated))


def _render_summary(console: Console, summary: GenerateSummary, destination: str) -> None:
    console.print(
        f"Delivered [bold]{summary.records:,}[/] records to {destination} in {summary.elapsed_s:,.1f} s "
        f"({summary.achieved_rate:,.1f}/s; stopped by {summary.stopped_by})."
    )
    details = f"objects {summary.objects}, retried {summary.retried}, failed {summary.failed}"
    if summary.first_event:
        details += f"; event time {summary.first_event} .. {summary.last_event}"
    console.print(details)
    if summary.skew:
        console.print(literal(f"skew: {summary.skew['mode']} {summary.skew['station']}"))
    if summary.per_station:
        console.print(_station_table(summary.per_station, summary.generated))
    for note in summary.notes:
        console.print(f"[yellow]{safe(note)}[/]")


def generate(
    ctx: typer.Context,
    rate: float = typer.Option(None, "--rate", help=f"Records per second (default {DEFAULT_RATE:g}).", show_default=False),
    count: int = typer.Option(None, "--count", help="Stop after exactly N records delivered."),
    duration: str = typer.Option(None, "--duration", help="Stop after this long: 90s, 5m, 1h.", metavar="TEXT"),
    seed: int = typer.Option(None, "--seed", help="Seed the draws: with --backfill --start, output repeats byte for byte."),
    template: Path = typer.Option(None, "--template", help="A KDG record template (as pasted into the KDG).", metavar="FILE"),
    backfill: bool = typer.Option(False, "--backfill", help="Event time advances at --rate; write as fast as possible."),
    start: str = typer.Option(
        None,
        "--start",
        help="Backfill's first event time, ISO-8601 (default: now minus the run).",
        metavar="ISO",
    ),
    sample: int = typer.Option(None, "--sample", help="Print N records from the template and send nothing.", metavar="N"),
    rate_profile: Path = typer.Option(
        None,
        "--rate-profile",
        help="CSV of hour,rate[,noise]: the rate over the day.",
        metavar="FILE",
    ),
    output: str = typer.Option(None, "--output", help="'-' writes the records to stdout instead of the stream.", metavar="-"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="Summary as table or json."),
    skew: str = typer.Option(None, "--skew", help="Start with traffic diverted to this station.", metavar="STATION"),
    drop: bool = typer.Option(False, "--drop", help="With --skew: the station reports nothing (a failed sensor)."),
) -> None:
    """Stream weighted toll records into the delivery stream, as the Kinesis Data Generator did."""
    app = app_context(ctx)
    if output is not None and output != "-":
        raise UsageError(f"--output takes only '-' (stdout), not {output!r}")
    to_stdout = output == "-"
    as_json = output_format is SummaryFormat.json
    if to_stdout and as_json:
        raise UsageError("--output - writes records to stdout, so --format json cannot: use one of them")
    if rate is not None and rate_profile is not None:
        raise UsageError("give --rate or --rate-profile, not both")
    options = GenerateOptions(
        rate=DEFAULT_RATE if rate is None else rate,
        count=count,
        duration=parse_duration(duration) if duration is not None else None,
        seed=seed,
        template_path=template,
        backfill=backfill,
        start=parse_start(start) if start is not None else None,
        rate_profile_path=rate_profile,
        skew_station=skew,
        drop=drop,
    )
    if sample is not None:
        records = sample_records(options, sample)
        sys.stdout.write(records.decode("utf-8"))
        sys.stdout.flush()
        return
    backend = app.backend
    sink = StreamSink() if to_stdout else None
    destination = "stdout" if to_stdout else f"the {backend.name} delivery stream"
    show_progress = not quiet and not as_json and app.err_console.is_terminal
    with stop_on_signals() as stop:
        if show_progress:
            with Live(console=app.err_console, refresh_per_second=4, transient=True) as live:
                summary = run_generation(
                    backend, options, on_progress=lambda p: live.update(_progress_view(p)), should_stop=stop.is_set, sink=sink
                )
        else:
            summary = run_generation(backend, options, should_stop=stop.is_set, sink=sink)
    if as_json:
        print_json(summary)
    elif not quiet:
        _render_summary(app.err_console if to_stdout else app.console, summary, destination)
    if summary.failed:
        raise typer.Exit(int(ExitStatus.FAILURE))


def skew(
    ctx: typer.Context,
    station: str = typer.Option(None, "--station", help="Divert traffic to this station (the workshop's second template)."),
    drop: bool = typer.Option(False, "--drop", help="Instead, the station reports nothing: a failed sensor."),
    reset: bool = typer.Option(False, "--reset", help="Back to the template's weights."),
    template: Path = typer.Option(None, "--template", help="Check the station against this KDG template.", metavar="FILE"),
    output_format: SummaryFormat = typer.Option(SummaryFormat.table, "--format", help="table or json."),
) -> None:
    """Change the traffic of a running (or the next) `toll generate`: it applies within a second."""
    app = app_context(ctx)
    if reset and (station or drop):
        raise UsageError("--reset takes no --station or --drop")
    if not reset and not station:
        raise UsageError("give --station STATION (with --drop for a failed sensor) or --reset")
    spec = load_template(template) if template else default_spec()
    field = spec.station_field
    if field is None:
        raise UsageError("the template has no weighted station field (its second field) to skew")
    backend = app.backend
    if reset:
        existed = reset_skew(backend)
        weights = field.weights
        payload: dict[str, Any] = {"station": None, "mode": "none", "changed": existed}
        message = "Traffic is back to the template's weights." if existed else "No skew was set; nothing changed."
    else:
        check_station(station, field.data)
        backend.require_ledger()
        pattern = skewed_spec().station_field
        assert pattern is not None
        weights = skewed_weights(
            field.data, field.weights, SkewState(station, "drop" if drop else "divert"), pattern.data, pattern.weights
        )
        state = write_skew(backend, station, drop=drop)
        payload = {**state.to_json(), "changed": True}
        message = (
            f"Sensor at {station} now reports nothing." if drop else f"Traffic now diverts to {station}."
        ) + " A running `toll generate` applies this within a second."
    total = sum(weights)
    payload["weights"] = dict(zip(field.data, weights))
    if output_format is SummaryFormat.json:
        print_json(payload)
        return
    app.console.print(message)
    table = Table("station", "weight", "share", box=None, pad_edge=False)
    for name, weight in zip(field.data, weights):
        table.add_row(literal(name), f"{weight:g}", f"{weight / total:6.1%}")
    app.console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(skew)
