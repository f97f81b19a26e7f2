"""The toll record generator: what the Kinesis Data Generator did, without losing a record.

Pipeline: a `GeneratorSpec` (from a KDG template, the `kdg` package) -> `kdg.factory.RecordFactory`,
which builds a whole chunk of records at once with numpy (weighted draws by binary search over
cumulative weights; dates formatted once per second of event time; bytes scattered into one buffer) ->
`run_generation`, which paces chunks from a monotonic clock (record i is due at start + i/R, so
the rate never drifts), or in `backfill` writes them as fast as possible while event time
advances at the rate -> the backend's sink, then the anomaly feed. The summary counts what the
sink accepted, so it always equals the records delivered.
"""

from __future__ import annotations

import csv
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from tollcli.config import DEFAULT_RATE
from tollcli.errors import Interrupted, TollError, UsageError
from tollcli.kdg import (
    GeneratorSpec,
    default_spec,
    load_template,
    skewed_spec,
)
from tollcli.kdg.factory import MAX_CHUNK, RecordFactory
from tollcli.paths import read_user_file
from tollcli.skew import SkewState, SkewWatcher, check_station, read_skew, skewed_weights
from tollcli.state import (
    EVENT_TIME_FILE,
    EVENT_TIME_KIND,
    Resource,
    atomic_write_json,
    event_time_path,
    read_last_event,
)
from tollcli.units import format_duration, format_instant, plural

if TYPE_CHECKING:
    from tollcli.backends.base import Backend, RecordSink

MIN_TICK = 0.05  # realtime: records are handed over at most this long after they are due
MAX_TICK = 0.1  # realtime: how often stop requests, skew changes and progress are looked at
SKEW_POLL = 0.5  # seconds between looks at the skew file (a change applies within a second)
PROGRESS_EVERY = 0.25


# ---------------------------------------------------------------------------------------------
# Rate: constant, or a profile of the day


DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # the KDG's getDay()


@dataclass(frozen=True)
class RateProfile:
    """Mean records per second for each hour of each day of the week (UTC), with relative noise:
    the KDG's periodic mode. `week[d * 24 + h]` is (rate, noise) for day d (0 = Sunday) and hour h;
    `smooth` moves the rate linearly from one hour's to the next's over the hour, as the KDG's
    "smoothing" does."""

    week: tuple[tuple[float, float], ...]  # 168 (rate, noise) pairs
    smooth: bool = False

    @property
    def rates(self) -> tuple[float, ...]:
        """Sunday's 24 hourly rates (every day's, for a profile without a day column)."""
        return tuple(rate for rate, _ in self.week[:24])

    @property
    def mean_rate(self) -> float:
        return sum(rate for rate, _ in self.week) / len(self.week)

    def at(self, minute: int) -> tuple[float, float]:
        """(rate, noise) for a UTC minute since the epoch (1970-01-01 was a Thursday)."""
        hour = minute // 60
        slot = ((hour // 24 + 4) % 7) * 24 + hour % 24
        rate, noise = self.week[slot]
        if not self.smooth:
            return rate, noise
        next_rate, next_noise = self.week[(slot + 1) % len(self.week)]
        portion = (minute % 60) / 60
        return rate + (next_rate - rate) * portion, noise + (next_noise - noise) * portion


def _day(cell: str) -> int | None:
    text = cell.strip().lower()
    if text.isdigit() and int(text) <= 6:
        return int(text)
    for number, name in enumerate(DAY_NAMES):
        if len(text) >= 3 and name.startswith(text):
            return number
    return None


def load_rate_profile(path: Path, *, smooth: bool = False) -> RateProfile:
    """Read `hour,rate[,noise]` rows, or `day,hour,rate[,noise]` rows (day 0-6 from Sunday, or a name
    such as Mon); a row without a day applies to every day. Hours not listed keep the rate of the
    hour before (across days and around the week)."""
    text = read_user_file(path, "rate profile").lstrip("\ufeff")  # a spreadsheet's UTF-8 BOM
    listed: dict[int, tuple[float, float]] = {}
    rows = [row for row in csv.reader(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))]
    with_day = False
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if number == 1 and cells and cells[0].lower() in {"hour", "day"}:
            with_day = cells[0].lower() == "day"
            continue
        day = _day(cells[0]) if cells else None
        has_day = with_day or (day is not None and not cells[0].strip().isdigit())
        try:
            if has_day:
                if day is None:
                    raise ValueError(cells[0])
                cells = cells[1:]
            hour, rate = int(cells[0]), float(cells[1])
            noise = float(cells[2]) if len(cells) > 2 and cells[2] else 0.0
        except (ValueError, IndexError):
            shape = "day,hour,rate[,noise]" if has_day else "hour,rate[,noise]"
            # the row itself is not quoted: the file could be anything the user can read (e.g. a secret)
            raise UsageError(f"rate profile {path}: row {number} is not {shape} (numbers)") from None
        if not 0 <= hour <= 23 or not math.isfinite(rate) or rate < 0 or not math.isfinite(noise) or noise < 0:
            raise UsageError(f"rate profile {path}: row {number} needs an hour 0-23, a rate >= 0 and noise >= 0")
        for d in [day] if has_day and day is not None else range(7):
            listed[d * 24 + hour] = (rate, noise)
    if not listed or all(rate == 0 for rate, _ in listed.values()):
        raise UsageError(f"rate profile {path} lists no hour with a rate above 0")
    week = []
    last = listed[max(listed)]
    for slot in range(7 * 24):
        last = listed.get(slot, last)
        week.append(last)
    return RateProfile(week=tuple(week), smooth=smooth)


class Schedule:
    """When each record is due, as an offset in seconds from the run's start.

    Piecewise constant rates over whole UTC minutes (a constant rate is one endless piece);
    C(t), the records due by offset t, is piecewise linear and record i is at C^-1(i)."""

    def __init__(self, *, start: float, rate: float, profile: RateProfile | None = None, seed: int | None = None) -> None:
        self.start = start
        self.rate = rate
        self.profile = profile
        self._noise_seed = (
            seed if seed is not None else int(cast(int, np.random.SeedSequence().entropy) % (2**32))
        )  # an int when none is given
        self._offsets: list[float] = [0.0]  # piece starts (offsets)
        self._counts: list[float] = [0.0]  # C at piece starts
        self._rates: list[float] = []

    def _minute_rate(self, minute: int) -> float:
        assert self.profile is not None
        mean, noise = self.profile.at(minute)
        if noise <= 0 or mean <= 0:
            return mean
        wobble = np.random.default_rng([self._noise_seed, minute % (2**32)]).standard_normal()
        return max(0.0, mean * (1.0 + noise * float(wobble)))

    def _extend(self, *, until_count: float | None = None, until_offset: float | None = None) -> None:
        """Add pieces until C reaches `until_count` or the pieces reach `until_offset`."""
        while (until_count is not None and self._counts[-1] <= until_count) or (
            until_offset is not None and self._offsets[-1] <= until_offset
        ):
            begin = self._offsets[-1]
            absolute = self.start + begin
            minute = math.floor(absolute / 60)
            end = (minute + 1) * 60 - self.start
            if end - begin < 1e-9:
                end += 60
            rate = self._minute_rate(minute)
            self._rates.append(rate)
            self._offsets.append(end)
            self._counts.append(self._counts[-1] + rate * (end - begin))
            if len(self._rates) > 10_000_000:
                raise TollError("the rate profile produces no records")

    def offsets(self, first: int, count: int) -> np.ndarray:
        """Offsets of records first .. first+count-1."""
        index = np.arange(first, first + count, dtype=np.float64)
        if self.profile is None:
            return index / self.rate
        self._extend(until_count=float(first + count))
        counts = np.asarray(self._counts)
        piece = np.searchsorted(counts, index, side="right") - 1
        piece = np.minimum(piece, len(self._rates) - 1)
        rates = np.asarray(self._rates)[piece]
        return np.asarray(self._offsets)[piece] + (index - counts[piece]) / rates

    def offset_of(self, record: int) -> float:
        return float(self.offsets(record, 1)[0])

    def count_at(self, offset: float) -> float:
        """C(offset): records due by then, as a real number."""
        if self.profile is None:
            return offset * self.rate
        self._extend(until_offset=offset)
        piece = int(np.searchsorted(np.asarray(self._offsets), offset, side="right")) - 1
        return self._counts[piece] + self._rates[piece] * (offset - self._offsets[piece])

    def due_by(self, offset: float) -> int:
        """Records whose offset is <= `offset`."""
        return math.floor(self.count_at(offset) + 1e-9) + 1

    def before(self, offset: float) -> int:
        """Records whose offset is < `offset`."""
        return max(0, math.ceil(self.count_at(offset) - 1e-9))


# ---------------------------------------------------------------------------------------------
# Options, parsing helpers and the run loop


# ---------------------------------------------------------------------------------------------
# Where a home's event time stands: a backfill continues after it
#
# Every run that delivers into a home records the last event time it delivered in
# `<home>/event-time.json` (in the ledger, so teardown removes it). A later `--backfill` without
# `--start` starts just after it instead of ending "now": typed by hand, the workshop's backfills then
# follow one another in event time as `toll workshop` lines them up, and the anomaly app, whose
# windows close by event time, counts none of them late.
#
# The price: backfills typed after the first one end after now, so the home's event time runs ahead
# of the clock. A live run's records carry the clock's time, so until the clock catches up they fall
# in windows the anomaly app has closed (late: not scored), and `--last` queries end at now. So a
# backfill that ends ahead of the clock says by how much (`ahead_of_clock_note`), a live run in such
# a home warns before it sends anything (`live_run_behind_note`), and its late-records note says why.

# Event time this far ahead of the clock is not worth a word (a backfill "ending now" ends a hair after).
AHEAD_TOLERANCE_S = 1.0


def record_last_event(backend: Backend, last_event: float) -> None:
    """Remember `last_event` (if later than what is recorded) for the next backfill in this home."""
    home = Path(backend.settings.home)
    known = read_last_event(home)
    if known is not None and known >= last_event:
        return
    ledger = backend.load_ledger()
    if ledger is None:
        return
    path = event_time_path(home)
    if ledger.find(EVENT_TIME_KIND, EVENT_TIME_FILE) is None:
        ledger.record(Resource(kind=EVENT_TIME_KIND, name=EVENT_TIME_FILE, settings={"path": str(path)}))
    atomic_write_json(path, {"last_event": format_instant(last_event), "last_event_epoch": last_event})


def ahead_of_clock(last_event: float | None, now: float) -> float:
    """Seconds by which `last_event` is ahead of `now` (0 if it is not, or by a negligible margin)."""
    if last_event is None or last_event - now <= AHEAD_TOLERANCE_S:
        return 0.0
    return last_event - now


def ahead_of_clock_note(last_event: float, ahead: float) -> str:
    """What a backfill that ended ahead of the clock says in its summary."""
    lead = format_duration(round(ahead))
    return (
        f"event time here now runs {lead} ahead of the clock (up to {format_instant(last_event)}): "
        "a live `toll generate` in this "
        f"home is late for the anomaly app, and not scored, until the clock catches up in {lead}; to avoid that, give "
        "a backfill --start so that it ends before now"
    )


def live_run_behind_note(last_event: float, ahead: float) -> str:
    """What a live run says before it starts in a home whose event time is ahead of the clock."""
    lead = format_duration(round(ahead))
    return (
        f"this home's event time runs {lead} ahead of the clock (a backfill delivered up to {format_instant(last_event)}): "
        f"this live run's records carry the clock's time, so the anomaly app counts them late and does not score "
        f"them until the clock catches up in {lead} (continue with `toll generate --backfill` instead, or wait)"
    )


@dataclass
class GenerateOptions:
    """Everything `toll generate` (and `toll workshop`) can ask of the generator."""

    rate: float = DEFAULT_RATE
    count: int | None = None
    duration: float | None = None  # seconds
    seed: int | None = None
    template_path: Path | None = None
    spec: GeneratorSpec | None = None  # a parsed template (wins over template_path)
    backfill: bool = False
    start: datetime | None = None  # backfill's first event time; default now minus the run's length
    rate_profile_path: Path | None = None
    rate_profile: RateProfile | None = None
    smooth: bool = False  # with a rate profile: move linearly between hours (the KDG's smoothing)
    skew_station: str | None = None  # start skewed towards (or, with drop, without) this station
    drop: bool = False
    watch_skew: bool = True  # follow `toll skew` while running


@dataclass
class GenerateProgress:
    generated: int
    accepted: int
    elapsed: float
    rate: float
    per_station: dict[str, int]


@dataclass
class GenerateSummary:
    records: int  # accepted by the sink: equals the records delivered
    generated: int
    retried: int
    failed: int
    objects: int
    elapsed_s: float
    target_rate: float | None
    achieved_rate: float
    per_station: dict[str, int]
    stopped_by: str  # count, duration, Ctrl-C, SIGTERM, stop request (should_stop), output closed
    backfill: bool
    first_event: str | None = None
    last_event: str | None = None
    skew: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)  # said with the summary
    warnings: list[str] = field(default_factory=list)  # said before the run sent anything (`on_warning`)
    continued_after: str | None = None  # a backfill that continued after the home's last event time
    ahead_of_clock_s: float = 0.0  # how far the home's last event time ran ahead of the clock when the run ended
    late_records: int = 0  # records the anomaly app counted late (their window had closed): not scored
    api_calls: int = 0  # AWS: PutRecordBatch / PutRecords calls, resends included
    firehose_records: int = 0  # AWS: records the stream accepted, many lines each: Firehose's billing units


@dataclass
class PreparedRun:
    """Options checked and resolved; nothing has been written yet."""

    options: GenerateOptions
    spec: GeneratorSpec
    profile: RateProfile | None
    limit: int | None  # records to send, when known up front
    start: float | None  # backfill start (epoch seconds)
    continued_after: float | None = None  # the home's last event time this backfill continues after


# Firehose's Direct PUT quota per stream in its largest regions; a higher rate is a typo that fills disks.
MAX_RATE = 500_000


def prepare(options: GenerateOptions, *, last_event: float | None = None) -> PreparedRun:
    """Check every option (UsageError on bad input) before anything is opened or written.

    A backfill starts at `--start`; else just after `last_event` (the home's last event time, when it
    holds data); else so that it ends now."""
    if not isinstance(options.rate, (int, float)) or not math.isfinite(options.rate) or options.rate <= 0:
        raise UsageError(f"--rate must be a number above 0, not {options.rate}")
    if options.rate > MAX_RATE:
        raise UsageError(f"--rate {options.rate:g} is above {MAX_RATE:,} records/s, a Firehose stream's Direct PUT quota")
    if options.count is not None and options.count < 1:
        raise UsageError(f"--count must be at least 1, not {options.count}")
    if options.seed is not None and options.seed < 0:
        raise UsageError(f"--seed must be 0 or more, not {options.seed}")  # numpy's generators refuse negative seeds
    if options.duration is not None and (not math.isfinite(options.duration) or options.duration <= 0):
        raise UsageError("--duration must be above 0")
    if options.count is not None and options.duration is not None:
        raise UsageError("give --count or --duration, not both")
    if options.start is not None and not options.backfill:
        raise UsageError("--start sets backfill's event time: add --backfill")
    if options.backfill and options.count is None and options.duration is None:
        raise UsageError("--backfill needs --count or --duration (it runs as fast as it can)")
    if options.drop and not options.skew_station:
        raise UsageError("--drop needs --skew STATION")
    spec = options.spec or (load_template(options.template_path) if options.template_path else default_spec())
    profile = options.rate_profile or (
        load_rate_profile(options.rate_profile_path, smooth=options.smooth) if options.rate_profile_path else None
    )
    if options.skew_station is not None:
        station = spec.station_field
        if station is None:
            raise UsageError("--skew needs a template whose second field is a weighted station list")
        check_station(options.skew_station, station.data)
    limit: int | None = options.count
    start: float | None = None
    continued_after: float | None = None
    if options.backfill:
        mean_rate = profile.mean_rate if profile else options.rate
        length = options.duration if options.duration is not None else (options.count or 0) / mean_rate
        if options.start is not None:
            start = options.start.timestamp()
        elif last_event is not None:
            start, continued_after = last_event + 1 / mean_rate, last_event
        else:
            start = time.time() - length
    return PreparedRun(options=options, spec=spec, profile=profile, limit=limit, start=start, continued_after=continued_after)


def sample_records(options: GenerateOptions, count: int) -> bytes:
    """`count` records from the template, as the KDG's "Test template" shows them."""
    if count < 1:
        raise UsageError(f"--sample must be at least 1, not {count}")
    run = prepare(options)
    factory = RecordFactory(run.spec, seed=options.seed)
    _apply_skew(factory, _initial_skew(options, None))
    start = run.start if run.start is not None else time.time()
    schedule = Schedule(start=start, rate=options.rate, profile=run.profile, seed=options.seed)
    return factory.make_chunk(start + schedule.offsets(0, count)).lines


def _initial_skew(options: GenerateOptions, home: Path | None) -> SkewState | None:
    if options.skew_station:
        return SkewState(station=options.skew_station, mode="drop" if options.drop else "divert")
    if home is not None and options.watch_skew:
        return read_skew(home)
    return None


def _apply_skew(factory: RecordFactory, state: SkewState | None) -> str | None:
    """Re-weight the station field; a note when the state names a station we do not have."""
    if factory.station_index is None:
        return None if state is None else "skew ignored: the template has no weighted station field"
    if state is not None and state.station not in factory.stations:
        return f"skew ignored: {state.station} is not a station of this template"
    pattern = skewed_spec().station_field
    assert pattern is not None
    try:
        weights = skewed_weights(factory.stations, factory.template_station_weights, state, pattern.data, pattern.weights)
    except UsageError as exc:
        return f"skew ignored: {exc.message}"
    factory.set_station_weights(weights)
    return None


def run_generation(
    backend: Backend,
    options: GenerateOptions,
    *,
    on_progress: Callable[[GenerateProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sink: RecordSink | None = None,
    on_alert: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Generate and deliver records until the count, the duration, or a stop request.

    Opens `backend.open_sink(realtime=not backfill)` (or uses `sink`, e.g. stdout, in which case
    no anomaly feed is opened) and hands each chunk to the sink, then to the anomaly feed, whose
    alerts go to `on_alert` (default: stderr). What the run must say before it sends anything (a
    live run in a home whose event time is ahead of the clock) goes to `on_warning` and into the
    summary's `warnings`. The sink is flushed and the feed closed however the run ends, Ctrl-C
    included."""
    own_sink = sink is None
    delivers_home = own_sink and backend is not None
    last_known = read_last_event(Path(backend.settings.home)) if delivers_home else None
    run = prepare(options, last_event=last_known if options.backfill else None)
    home = Path(backend.settings.home) if backend is not None and options.watch_skew else None
    factory = RecordFactory(run.spec, seed=options.seed)
    skew_state = _initial_skew(options, home)
    notes: list[str] = []
    note = _apply_skew(factory, skew_state)
    if note:
        notes.append(note)
    watcher = SkewWatcher(home) if home is not None else None
    if run.continued_after is not None:
        notes.append(
            f"this home already holds records up to {format_instant(run.continued_after)}: the backfill continued after them "
            "(give --start to choose its event time)"
        )

    warnings: list[str] = []
    behind = 0.0 if options.backfill else ahead_of_clock(last_known, time.time())
    if last_known is not None and behind:
        warnings.append(live_run_behind_note(last_known, behind))
        if on_warning is not None:
            on_warning(warnings[-1])

    if sink is None:  # (own_sink)
        sink = backend.open_sink(realtime=not options.backfill)
    try:
        feed = backend.open_anomaly_feed(on_alert=on_alert, bulk=options.backfill) if (own_sink and backend is not None) else None
    except BaseException:
        if own_sink:
            sink.close()  # nothing written yet: it only lets go (a local live stream's mark on the home, too)
        raise

    clock = time.monotonic
    began = clock()
    wall_start = time.time()
    start = run.start if options.backfill else wall_start
    assert start is not None
    schedule = Schedule(start=start, rate=options.rate, profile=run.profile, seed=options.seed)
    limit = run.limit
    if options.duration is not None:
        limit = schedule.before(options.duration)
    generated = 0
    stopped_by = "Ctrl-C"
    first_event: float | None = None
    last_event: float | None = None
    last_skew_poll = began
    last_progress = began

    def send(count: int) -> None:
        nonlocal generated, first_event, last_event
        while count > 0:
            size = min(count, factory.chunk_records)
            times = start + schedule.offsets(generated, size)
            chunk = factory.make_chunk(times, tally=False)
            sink.write(chunk)
            factory.tally()
            if feed is not None:
                feed.consume(chunk)
            if first_event is None:
                first_event = float(times[0])
            last_event = float(times[-1])
            generated += size
            count -= size

    def housekeeping(now: float) -> None:
        nonlocal last_skew_poll, last_progress, skew_state
        if watcher is not None and now - last_skew_poll >= SKEW_POLL:
            last_skew_poll = now
            if watcher.changed():
                skew_state = watcher.current()
                message = _apply_skew(factory, skew_state)
                if message and message not in notes:
                    notes.append(message)
        sink.poll()
        if on_progress is not None and now - last_progress >= PROGRESS_EVERY:
            last_progress = now
            on_progress(_progress(now))

    def _progress(now: float) -> GenerateProgress:
        elapsed = max(now - began, 1e-9)
        return GenerateProgress(generated, sink.stats.accepted, elapsed, generated / elapsed, factory.per_station())

    try:
        if options.backfill:
            assert limit is not None
            while generated < limit:
                if should_stop is not None and should_stop():
                    stopped_by = "stop request"
                    break
                send(min(MAX_CHUNK, limit - generated))
                housekeeping(clock())
            else:
                stopped_by = "count" if options.count is not None else "duration"
        else:
            while True:
                if should_stop is not None and should_stop():
                    stopped_by = "stop request"
                    break
                now = clock()
                due = schedule.due_by(now - began)
                if limit is not None:
                    due = min(due, limit)
                if due > generated:
                    send(due - generated)
                if limit is not None and generated >= limit:
                    # a run of N records at R/s lasts N/R seconds, like the schedule says
                    end_at = options.duration if options.duration is not None else schedule.offset_of(limit)
                    _sleep_until(began + end_at, clock, should_stop)
                    stopped_by = "count" if options.count is not None else "duration"
                    break
                housekeeping(clock())
                next_due = began + schedule.offset_of(generated)
                now = clock()
                time.sleep(min(MAX_TICK, max(MIN_TICK, next_due - now)))
    except KeyboardInterrupt as exc:
        stopped_by = signal_name(exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    except BrokenPipeError:
        stopped_by = "output closed"
    finally:
        try:
            sink.close()
        finally:
            try:
                if feed is not None:
                    feed.close()
            finally:
                if delivers_home and last_event is not None and sink.stats.accepted:
                    try:
                        record_last_event(backend, last_event)
                    except OSError:
                        pass  # a full disk already fails the run; the next backfill then starts as in a new home
    elapsed = max(clock() - began, 1e-9)
    stats = sink.stats
    late = feed.late_records if feed is not None else 0
    if late:
        if options.backfill:
            why = "a backfill should start after the home's last event"
        elif behind:
            why = "a live run's records carry the clock's time, and this home's event time was ahead of it"
        else:
            why = "a live run's records carry the clock's time: something had delivered later event times here"
        notes.append(
            f"the anomaly app counted {late:,} {plural(late, 'record')} late: their event time fell in windows it had "
            f"already closed, so it left them out of its scores ({why})"
        )
    # the home's event time: the later of what it held and what this backfill delivered
    home_last = max((t for t in (last_known, last_event if stats.accepted else None) if t is not None), default=None)
    ahead = ahead_of_clock(home_last, time.time()) if delivers_home else 0.0
    if options.backfill and home_last is not None and ahead:  # a live run warned at its start
        notes.append(ahead_of_clock_note(home_last, ahead))
    return GenerateSummary(
        records=stats.accepted,
        generated=generated,
        retried=stats.retried,
        failed=stats.failed,
        objects=stats.objects,
        elapsed_s=round(elapsed, 3),
        target_rate=None if run.profile else options.rate,
        achieved_rate=round(stats.accepted / elapsed, 1),
        per_station=factory.per_station(),
        stopped_by=stopped_by,
        backfill=options.backfill,
        first_event=format_instant(first_event) if first_event is not None else None,
        last_event=format_instant(last_event) if last_event is not None else None,
        skew=skew_state.to_json() if skew_state is not None else None,
        notes=notes,
        warnings=warnings,
        continued_after=format_instant(run.continued_after) if run.continued_after is not None else None,
        ahead_of_clock_s=round(ahead, 3),
        late_records=late,
        api_calls=stats.api_calls,
        firehose_records=stats.stream_records,
    )


def signal_name(signum: int) -> str:
    """How a summary names the signal that stopped a run."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _sleep_until(deadline: float, clock: Callable[[], float], should_stop: Callable[[], bool] | None) -> None:
    while True:
        left = deadline - clock()
        if left <= 0 or (should_stop is not None and should_stop()):
            return
        time.sleep(min(left, MAX_TICK))
