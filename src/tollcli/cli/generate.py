"""`toll generate` and `toll skew`: the Kinesis Data Generator's page, from the terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, Group

from tollcli.cli.common import SummaryFormat, app_context, print_json, quiet_option, suggested_toll, summary_format_option
from tollcli.config import DEFAULT_RATE
from tollcli.errors import ExitStatus, Interrupted, UsageError
from tollcli.oscompat import handling_stop_signals, interrupt_signals
from tollcli.paths import read_user_file, template_path
from tollcli.render import bar, literal
from tollcli.shipped import resolve_file, shipped_names
from tollcli.skew import SkewState, check_station, reset_skew, skewed_weights, write_skew
from tollcli.units import DURATION_HELP, counted, format_duration, parse_duration, parse_instant

if TYPE_CHECKING:
    from rich.table import Table

    from tollcli.generator import GenerateProgress, GenerateSummary


class StopRequest(threading.Event):
    """Set by the first Ctrl-C (or SIGTERM); remembers which signal it was."""

    signum: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Ctrl-C (or SIGTERM) asks the run to stop, flush and report; a second Ctrl-C aborts.

    Exit status: a run stopped by a signal exits 128 + its number (130 after Ctrl-C, 143 after
    SIGTERM), as every toll command does, after the summary of what it delivered."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum in interrupt_signals():
            raise Interrupted(signum)
        stop.signum = signum
        stop.set()

    with handling_stop_signals(request_stop):
        yield stop


def _station_table(console: Console, per_station: dict[str, int], total: int) -> Table:
    from rich.table import Table  # lazy: rich.table takes ~4 ms to import, which `toll --help` need not pay

    table = Table("station", "records", "share", box=None, pad_edge=False)
    for station, count in per_station.items():
        share = count / total if total else 0.0
        table.add_row(literal(station), f"{count:,}", f"{share:6.1%} " + bar(console, round(share * 40)))
    return table


def _progress_view(console: Console, progress: GenerateProgress, *, open_ended: bool) -> Group:
    line = (
        f"[bold]{progress.generated:,}[/] records generated, {progress.accepted:,} delivered, "
        f"{progress.rate:,.1f}/s, {progress.elapsed:,.1f} s elapsed" + (" (Ctrl-C to stop)" if open_ended else "")
    )
    return Group(line, _station_table(console, progress.per_station, progress.generated))


def _event_span(summary: GenerateSummary) -> float:
    if not summary.first_event or not summary.last_event:
        return 0.0
    span = (parse_instant(summary.last_event) - parse_instant(summary.first_event)).total_seconds()
    return span * summary.generated / (summary.generated - 1) if summary.generated > 1 else span  # N records, N intervals


def _render_summary(console: Console, summary: GenerateSummary, destination: str) -> None:
    records = counted(summary.records, "record")
    if summary.backfill:
        # the rate that matters is the event-time rate asked for; how fast it was written is a footnote
        span = _event_span(summary)
        rate = f" at {summary.generated / span:,.1f} records/s" if span > 0 else ""
        console.print(
            f"Backfilled [bold]{records}[/] into {destination}: {format_duration(round(span, 3))} of event time{rate}, "
            f"written in {summary.elapsed_s:,.1f} s (stopped by {summary.stopped_by})."
        )
    else:
        console.print(
            f"Delivered [bold]{records}[/] to {destination} in {summary.elapsed_s:,.1f} s "
            f"({summary.achieved_rate:,.1f}/s; stopped by {summary.stopped_by})."
        )
    details = f"{counted(summary.objects, 'object')}, retried {summary.retried:,}, failed {summary.failed:,}"
    if summary.first_event:
        details += f"; event time {summary.first_event} .. {summary.last_event}"
    console.print(details)
    if summary.skew:
        console.print(literal(f"skew: {summary.skew['mode']} {summary.skew['station']}"))
    if summary.per_station:
        console.print(_station_table(console, summary.per_station, summary.generated))
    for note in summary.notes:
        console.print(note, style="yellow", markup=False)


def generate(
    ctx: typer.Context,
    rate: float = typer.Option(None, "--rate", help=f"Records per second (default {DEFAULT_RATE:g}).", show_default=False),
    count: int = typer.Option(None, "--count", help="Stop after exactly N records delivered."),
    duration: str = typer.Option(None, "--duration", help=f"Stop after this long: {DURATION_HELP}.", metavar="DURATION"),
    seed: int = typer.Option(None, "--seed", help="Seed the draws: with --backfill --start, output repeats byte for byte."),
    template: str = typer.Option(
        None,
        "--template",
        help="A KDG record template (as pasted into the KDG): a FILE, or a shipped NAME: "
        f"{', '.join(shipped_names('template'))}.",
        metavar="FILE|NAME",
    ),
    show_template: bool = typer.Option(
        False,
        "--show-template",
        help="Print the template (the workshop's, or --template's) and send nothing; with --rate-profile, print the "
        "rate profile instead (a shipped NAME's CSV, to copy and change).",
    ),
    backfill: bool = typer.Option(False, "--backfill", help="Event time advances at --rate; write as fast as possible."),
    start: str = typer.Option(
        None,
        "--start",
        help="Backfill's first event time, ISO-8601 (default: just after the home's last event time, "
        "or so that the backfill ends now in a home without data).",
        metavar="ISO",
    ),
    sample: int = typer.Option(None, "--sample", help="Print N records from the template and send nothing.", metavar="N"),
    rate_profile: str = typer.Option(
        None,
        "--rate-profile",
        help="CSV of [day,]hour,rate[,noise]: the rate over the day (and week), UTC. A FILE, or a shipped NAME: "
        f"{', '.join(shipped_names('rate-profile'))}.",
        metavar="FILE|NAME",
    ),
    smooth: bool = typer.Option(False, "--smooth", help="With --rate-profile: change the rate linearly between hours."),
    output: str = typer.Option(None, "--output", help="'-' writes the records to stdout instead of the stream.", metavar="-"),
    quiet: bool = quiet_option(),
    output_format: SummaryFormat = summary_format_option("Summary as table or json."),
    skew: str = typer.Option(None, "--skew", help="Start with traffic diverted to this station.", metavar="STATION"),
    drop: bool = typer.Option(False, "--drop", help="With --skew: the station reports nothing (a failed sensor)."),
) -> None:
    """Stream weighted toll records into the delivery stream, as the Kinesis Data Generator did."""
    # lazy: the generator and the delivery stream load numpy and the KDG (~80 ms to import), rich.live ~1 ms;
    # importing them here keeps `toll --help` fast
    from rich.live import Live

    from tollcli.generator import GenerateOptions, load_rate_profile, run_generation, sample_records, signal_name
    from tollcli.stream_sink import StreamSink

    app = app_context(ctx)
    if output is not None and output != "-":
        raise UsageError(f"--output takes only '-' (stdout), not {output!r}")
    to_stdout = output == "-"
    as_json = output_format is SummaryFormat.json
    if to_stdout and as_json:
        raise UsageError("--output - writes records to stdout, so --format json cannot: use one of them")
    if rate is not None and rate_profile is not None:
        raise UsageError("give --rate or --rate-profile, not both")
    if smooth and rate_profile is None:
        raise UsageError("--smooth smooths a --rate-profile: give one")
    options = GenerateOptions(
        rate=DEFAULT_RATE if rate is None else rate,
        count=count,
        duration=parse_duration(duration, option="--duration") if duration is not None else None,
        seed=seed,
        template_path=resolve_file("template", template) if template is not None else None,
        backfill=backfill,
        start=parse_instant(start, option="--start") if start is not None else None,
        rate_profile_path=resolve_file("rate-profile", rate_profile) if rate_profile is not None else None,
        smooth=smooth,
        skew_station=skew,
        drop=drop,
    )
    if show_template:
        if options.template_path is not None and options.rate_profile_path is not None:
            raise UsageError("--show-template prints one file: give --template or --rate-profile, not both")
        if options.rate_profile_path is not None:
            load_rate_profile(options.rate_profile_path)  # a FILE given here is printed only if it is a rate profile
            path, option = options.rate_profile_path, "--rate-profile"
        else:
            path, option = options.template_path or template_path("kdg", "workshop.txt"), "--template"
        sys.stdout.write(read_user_file(Path(path), option))
        sys.stdout.flush()
        return
    if sample is not None:
        records = sample_records(options, sample)
        sys.stdout.write(records.decode("utf-8"))
        sys.stdout.flush()
        return
    backend = app.backend
    sink = StreamSink() if to_stdout else None
    destination = "stdout" if to_stdout else f"the {backend.name} delivery stream"
    show_progress = not quiet and not as_json and app.err_console.is_terminal
    open_ended = options.count is None and options.duration is None

    def warn(message: str) -> None:  # before anything is sent, whatever --quiet or --format say
        app.err_console.print(message, style="yellow", markup=False)

    with stop_on_signals() as stop:
        if show_progress:
            live = Live(console=app.err_console, refresh_per_second=4, transient=True)
            with live:
                summary = run_generation(
                    backend,
                    options,
                    on_progress=lambda p: live.update(_progress_view(app.err_console, p, open_ended=open_ended)),
                    should_stop=stop.is_set,
                    sink=sink,
                    on_warning=warn,
                )
                live.update("")  # the last live table goes with it: only the final one stays
        else:
            summary = run_generation(backend, options, should_stop=stop.is_set, sink=sink, on_warning=warn)
    if summary.stopped_by == "stop request" and stop.signum is not None:
        summary.stopped_by = signal_name(stop.signum)
    if as_json:
        print_json(summary)
    elif not quiet:
        _render_summary(app.err_console if to_stdout else app.console, summary, destination)
    if summary.failed:
        raise typer.Exit(int(ExitStatus.FAILURE))
    if stop.signum is not None:  # the summary is out; the status says a signal stopped it
        raise typer.Exit(128 + stop.signum)


def skew(
    ctx: typer.Context,
    station: str = typer.Option(None, "--station", help="Divert traffic to this station (the workshop's second template)."),
    drop: bool = typer.Option(False, "--drop", help="Instead, the station reports nothing: a failed sensor."),
    reset: bool = typer.Option(False, "--reset", help="Back to the template's weights."),
    template: str = typer.Option(
        None, "--template", help="Check the station against this KDG template (a FILE or a shipped NAME).", metavar="FILE|NAME"
    ),
    output_format: SummaryFormat = summary_format_option(),
) -> None:
    """Change the traffic of a running (or the next) `toll generate`: it applies within a second."""
    # lazy: the KDG's template engine loads numpy (~70 ms to import), rich.table ~4 ms; importing them here keeps
    # `toll --help` fast
    from rich.table import Table

    from tollcli.kdg import default_spec, load_template, skewed_spec

    app = app_context(ctx)
    if reset and (station or drop):
        raise UsageError("--reset takes no --station or --drop")
    if not reset and not station:
        raise UsageError("give --station STATION (with --drop for a failed sensor) or --reset")
    spec = load_template(resolve_file("template", template)) if template else default_spec()
    field = spec.station_field
    if field is None:
        raise UsageError("the template has no weighted station field (its second field) to skew")
    backend = app.backend
    if reset:
        existed = reset_skew(backend)
        weights = field.weights
        payload: dict[str, Any] = {"station": None, "mode": "none", "changed": existed}
        where = Path(app.settings.home).resolve()
        message = (
            f"Traffic in {where} is back to the template's weights."
            if existed
            else f"No skew was set in {where}; nothing changed."
        )
    else:
        check_station(station, field.data)
        backend.require_ledger()
        pattern = skewed_spec().station_field
        assert pattern is not None
        weights = skewed_weights(
            field.data, field.weights, SkewState(station, "drop" if drop else "divert"), pattern.data, pattern.weights
        )
        state = write_skew(backend, station, drop=drop)
        payload = {**state.to_json(), "changed": True, "home": str(Path(app.settings.home).resolve())}
        message = (
            (f"Sensor at {station} now reports nothing" if drop else f"Traffic now diverts to {station}")
            + f" in {Path(app.settings.home).resolve()}: a `{suggested_toll(app)} generate` (running, or the next) "
            "applies it within a second; a generate on another home does not see it."
        )
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
