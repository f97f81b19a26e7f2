"""`toll dashboard`: the workshop's QuickSight step as one offline HTML file.

    backend.query(Athena SQL)  -> DashboardData (traffic per station over time, station totals,
    backend.read_alerts()          top plates, anomaly scores with threshold and alerts)
                               -> render_dashboard(): inline SVG drawn here, in Python
                               -> templates/dashboard/dashboard.html (CSS and a little JS inline)

The page loads nothing: a Content-Security-Policy forbids every fetch, so it works offline and
a test can prove it. Its small script highlights a series from the legend and writes a status
element (`#status`: errors counted by `window.onerror` and CSP violations, series drawn per chart)
that a headless browser's DOM dump reveals. All SQL is Athena's dialect, so the same code reads
DuckDB on the local backend and Athena on AWS.

The anomaly chart draws a window's score only once the forest gives scores: windows scored while
it warmed up (their rows' explanation says so, `rcf.WARMING_UP`) are a shaded band, not a line at 0.
"""

from __future__ import annotations

import html
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from tollcli.anomaly.alerts import usual_text
from tollcli.config import DEFAULT_THRESHOLD, TABLE_NAME, WARMING_UP
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.state import atomic_write_bytes
from tollcli.units import counted, instant_seconds

if TYPE_CHECKING:
    from tollcli.backends.base import Backend

SCORES_TABLE = "anomaly_scores"
TOP_PLATES = 10
# Tableau 10: distinct, colour-blind friendlier than a rainbow.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
# (the longest span drawn at this resolution, seconds per point, characters of the ISO date kept)
RESOLUTIONS = ((45 * 60, 10, 18), (36 * 3600, 60, 16), (math.inf, 3600, 13))


@dataclass
class WindowScore:
    """One scored window: the highest station score, and the stations it alerted on."""

    start: float
    label: str
    score: float
    vehicles: int
    alert_stations: list[str] = field(default_factory=list)
    warming_up: bool = False  # scored before the forest gave scores: there is no score to draw


@dataclass
class DashboardData:
    backend: str
    generated_at: str
    records: int = 0
    first_event: str | None = None
    last_event: str | None = None
    bucket_seconds: int = 60
    traffic: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # station -> [(epoch, records)]
    totals: list[tuple[str, int]] = field(default_factory=list)  # busiest first
    plates: list[tuple[str, int]] = field(default_factory=list)  # most active first
    scores: list[WindowScore] | None = None  # None: no anomaly app deployed
    threshold: float = DEFAULT_THRESHOLD
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class DashboardResult:
    path: Path
    records: int
    charts: dict[str, int]  # chart -> series drawn
    alerts: int
    notes: list[str]


# data -------------------------------------------------------------------------------------------
def _rows(backend: Backend, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in backend.query(sql).rows]


def parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO date or a prefix of one (`2026-11-03T10:0` is a 10 s bucket), as
    `units.instant_seconds` reads it once the prefix is completed; None if it is not one."""
    value = str(text).strip().replace(" ", "T")
    if not value.endswith("Z"):  # hour, 10-minute, minute and 10-second prefixes (a bucket never keeps the Z)
        value += {13: ":00:00", 15: "0:00", 16: ":00", 18: "0"}.get(len(value), "")  # to a whole second: read fastest
    return instant_seconds(value)


def choose_resolution(first: str | None, last: str | None) -> tuple[int, int]:
    """(seconds per point, ISO characters kept) so a chart has tens to hundreds of points."""
    start, end = parse_time(first or ""), parse_time(last or "")
    span = (end - start) if start is not None and end is not None else math.inf
    for longest, seconds, chars in RESOLUTIONS:
        if span <= longest:
            return seconds, chars
    return RESOLUTIONS[-1][1:]


def _as_bool(value: object) -> bool:
    return value is True or str(value).strip().lower() in {"true", "1", "t"}


def collect_dashboard_data(backend: Backend) -> DashboardData:
    """Everything the page shows, read with Athena SQL through the backend (and its alert log)."""
    backend.require_ledger()
    data = DashboardData(backend=backend.name, generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    table = TABLE_NAME
    overview = _rows(backend, f'SELECT count(*), min("date"), max("date") FROM {table}')
    if overview:
        data.records = int(overview[0][0] or 0)
        data.first_event, data.last_event = overview[0][1], overview[0][2]
    if data.records:
        data.bucket_seconds, chars = choose_resolution(data.first_event, data.last_event)
        unparsed = 0
        totals: dict[str, int] = {}
        for bucket, station, count in _rows(
            backend,
            f'SELECT substr("date", 1, {chars}) AS bucket, "toll" AS station, count(*) AS records '
            f"FROM {table} GROUP BY 1, 2 ORDER BY 1, 2",
        ):
            totals[str(station)] = totals.get(str(station), 0) + int(count)  # the totals need no query of their own
            moment = parse_time(str(bucket))
            if moment is None:
                unparsed += int(count)
                continue
            data.traffic.setdefault(str(station), []).append((moment, int(count)))
        if unparsed:
            data.notes.append(f"{unparsed:,} records have a date that is not ISO-8601: left out of the traffic chart")
        data.totals = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        data.plates = [
            (str(p), int(n))
            for p, n in _rows(
                backend,
                f'SELECT "user" AS plate, count(*) AS records FROM {table} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_PLATES}',
            )
        ]
    threshold = backend.deployed_anomaly_threshold()
    if threshold is not None:  # an anomaly app is deployed
        data.scores = _collect_scores(backend)
        data.alerts = backend.read_alerts()
        data.threshold = float(data.alerts[0]["threshold"]) if data.alerts else threshold
    return data


def _collect_scores(backend: Backend) -> list[WindowScore]:
    by_window: dict[str, WindowScore] = {}
    for start, station, vehicles, score, alert, explanation in _rows(
        backend,
        f"SELECT window_start, station, vehicle_count, anomaly_score, alert, explanation FROM {SCORES_TABLE} "
        "ORDER BY window_start, station",
    ):
        moment = parse_time(str(start))
        if moment is None:
            continue
        window = by_window.get(str(start))
        if window is None:
            window = by_window[str(start)] = WindowScore(start=moment, label=str(start), score=0.0, vehicles=0, warming_up=True)
        window.warming_up = window.warming_up and explanation == WARMING_UP
        window.score = max(window.score, float(score or 0.0))
        window.vehicles += int(vehicles or 0)
        if _as_bool(alert):
            window.alert_stations.append(str(station))
    return sorted(by_window.values(), key=lambda w: w.start)


# captions: the workshop's questions, answered from the data ---------------------------------------
def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "0%"


def _clock(epoch: float, *, with_date: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S" if moment.second else "%H:%M")


def traffic_caption(data: DashboardData) -> str:
    if not data.traffic:
        return "No records yet: run `toll generate` and build the dashboard again."
    surges = []
    for station, points in data.traffic.items():
        counts = [n for _t, n in points]
        if len(counts) < 4:
            continue
        usual = statistics.median(counts)
        peak_at, peak = max(points, key=lambda p: p[1])
        if usual > 0 and peak >= 2 * usual:
            surges.append((peak / usual, station, peak_at, usual, peak))
    unit = f"{data.bucket_seconds} s" if data.bucket_seconds < 60 else f"{data.bucket_seconds // 60} min"
    base = f"Records per station per {unit}, {counted(len(data.traffic), 'station')}."
    if not surges:
        return base + " Traffic is steady: no station leaves its usual band."
    ratio, station, peak_at, usual, peak = max(surges)
    return (
        base + f" {station} surges to {peak:,} per {unit} at {_clock(peak_at)} UTC, {ratio:.1f}x its usual {usual:,.0f}:"
        " the traffic diverted to one station that the anomaly app should flag."
    )


def totals_caption(data: DashboardData) -> str:
    if not data.totals:
        return "No records yet."
    (busiest, most), (quietest, least) = data.totals[0], data.totals[-1]
    mean = data.records / len(data.totals)
    text = (
        f"Which is the busiest toll station? {busiest}, with {most:,} of {data.records:,} records ({_share(most, data.records)})."
    )
    if least < 0.7 * mean:
        text += (
            f" Which station reports less traffic? {quietest}: {least:,} records, {least / mean:.0%} of the average"
            " station, the suspect in the sensor-failure report."
        )
    else:
        text += f" The quietest, {quietest} ({least:,}), is within the usual spread: no station looks silent."
    return text


def plates_caption(data: DashboardData) -> str:
    if not data.plates:
        return "No records yet."
    top_count = data.plates[0][1]
    leaders = [p for p, n in data.plates if n == top_count]
    who = leaders[0] if len(leaders) == 1 else " and ".join(leaders) + " (a tie)"
    share = _share(top_count, data.records)
    return f"Who is the most active user by license plate? {who}, with {top_count:,} trips ({share} of all)."


def scores_caption(data: DashboardData) -> str:
    if data.scores is None:
        return "No anomaly app is deployed: run `toll deploy`, then `toll generate`, to score traffic in 10 s windows."
    if not data.scores:
        return "The anomaly app is deployed but has scored no window yet: send traffic with `toll generate`."
    alerted = [w for w in data.scores if w.alert_stations]
    normal = [w.score for w in data.scores if not w.alert_stations and not w.warming_up]
    warming = sum(w.warming_up for w in data.scores)
    usual = f"normal windows score around {statistics.median(normal):.2f}" if normal else "no window has a score yet"
    text = f"Is the traffic anomalous right now? {counted(len(data.scores), 'window')} scored; {usual}."
    if warming:
        text += f" The first {warming:,} warmed the forest up (shaded: no score yet)."
    if not alerted:
        return text + f" No window went above the threshold of {data.threshold:g}: no alerts."
    stations = sorted({s for w in alerted for s in w.alert_stations})
    return text + (
        f" {counted(len(alerted), 'window')} went above the threshold of {data.threshold:g}"
        f" from {_clock(alerted[0].start)} UTC, alerting on {', '.join(stations)}."
    )


# SVG ----------------------------------------------------------------------------------------------
WIDTH, HEIGHT = 640, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 14, 30


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _time_axis(start: float, end: float, to_x: Callable[[float], float], plot_bottom: float) -> list[str]:
    span = max(end - start, 1.0)
    step = next((s for s in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400) if span / s <= 7), 86400 * 7)
    first = math.ceil(start / step) * step
    parts = []
    with_date = span > 86400
    tick = first
    while tick <= end:
        x = to_x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{MARGIN_TOP}" x2="{x:.1f}" y2="{plot_bottom:.1f}"/>')
        label = _clock(tick, with_date=with_date)
        parts.append(f'<text x="{x:.1f}" y="{plot_bottom + 16:.1f}" text-anchor="middle">{label}</text>')
        tick += step
    return parts


def line_chart(
    series: Sequence[tuple[str, str, list[tuple[float, float]]]],
    *,
    y_label: str,
    threshold: float | None = None,
    marks: Sequence[tuple[float, float, str]] = (),
    domain: tuple[float, float] | None = None,
    bands: Sequence[tuple[float, float, str]] = (),
) -> str:
    """Lines over time: `series` is (name, colour, [(epoch, value)]); `marks` are (epoch, value, label)
    dots; `bands` are (start, end, label) spans of time shaded behind the lines."""
    points = [p for _n, _c, pts in series for p in pts]
    if not points and not (bands and domain):
        return f'<svg viewBox="0 0 {WIDTH} {HEIGHT // 3}" role="img"><text x="10" y="30" class="empty">No data yet.</text></svg>'
    start, end = domain or (min(t for t, _ in points), max(t for t, _ in points))
    if end == start:
        end = start + 1
    top_value = max([v for _, v in points] + ([threshold * 1.15] if threshold else []), default=1.0)
    ticks = nice_ticks(top_value)
    plot_right, plot_bottom = WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM

    def to_x(t: float) -> float:
        return MARGIN_LEFT + (t - start) / (end - start) * (plot_right - MARGIN_LEFT)

    def to_y(v: float) -> float:
        return plot_bottom - v / ticks[-1] * (plot_bottom - MARGIN_TOP)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_esc(y_label)} over time">']
    for band_start, band_end, label in bands:
        left, right = max(to_x(band_start), MARGIN_LEFT), min(to_x(band_end), plot_right)
        parts.append(
            f'<rect class="band" x="{left:.1f}" y="{MARGIN_TOP}" width="{max(right - left, 1.0):.1f}" '
            f'height="{plot_bottom - MARGIN_TOP:.1f}"><title>{_esc(label)}</title></rect>'
            f'<text class="band-label" x="{(left + right) / 2:.1f}" y="{MARGIN_TOP + 14}" text-anchor="middle">'
            f"{_esc(label)}</text>"
        )
    for tick in ticks:
        y = to_y(tick)
        parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    parts.extend(_time_axis(start, end, to_x, plot_bottom))
    parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" y1="{plot_bottom}" x2="{plot_right}" y2="{plot_bottom}"/>')
    parts.append(
        f'<text x="12" y="{(MARGIN_TOP + plot_bottom) / 2:.0f}" transform="rotate(-90 12 {(MARGIN_TOP + plot_bottom) / 2:.0f})" '
        f'text-anchor="middle">{_esc(y_label)}</text>'
    )
    for name, colour, pts in series:
        path = " ".join(f"{'M' if i == 0 else 'L'}{to_x(t):.1f},{to_y(v):.1f}" for i, (t, v) in enumerate(sorted(pts)))
        parts.append(
            f'<path class="series line" data-series="{_esc(name)}" stroke="{colour}" d="{path}">'
            f"<title>{_esc(name)}</title></path>"
        )
    if threshold is not None:
        y = to_y(threshold)
        parts.append(f'<line class="threshold" x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{MARGIN_LEFT + 4}" y="{y - 5:.1f}" class="alert-label">threshold {threshold:g}</text>')
    labelled: set[str] = set()
    for t, v, label in marks:
        x, y = to_x(t), to_y(v)
        parts.append(f'<circle class="alert-mark" cx="{x:.1f}" cy="{y:.1f}" r="4.5"><title>{_esc(label)}</title></circle>')
        station = label.split(":")[0]
        if station not in labelled:  # name each alerted station once, at its first alert
            labelled.add(station)
            parts.append(f'<text class="alert-label" x="{x - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{_esc(station)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, int]], *, colour: str, highlight: dict[str, str] | None = None) -> str:
    """Horizontal bars, largest first: one series; `highlight` colours chosen bars."""
    if not bars:
        return f'<svg viewBox="0 0 {WIDTH} {HEIGHT // 3}" role="img"><text x="10" y="30" class="empty">No data yet.</text></svg>'
    row, label_width = 24, 80
    height = MARGIN_TOP + row * len(bars) + 8
    top = max(n for _, n in bars) or 1
    usable = WIDTH - label_width - 90
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" role="img"><g class="series" data-series="records">']
    for i, (label, value) in enumerate(bars):
        y = MARGIN_TOP + i * row
        width = max(1.0, value / top * usable)
        fill = (highlight or {}).get(label, colour)
        parts.append(
            f'<text class="bar-label" x="{label_width - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" rx="2" fill="{fill}">'
            f"<title>{_esc(label)}: {value:,}</title></rect>"
            f'<text x="{label_width + width + 6:.1f}" y="{y + row / 2 + 4:.1f}">{value:,}</text>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def _legend(names: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<li data-series="{_esc(n)}"><i style="background:{c}"></i>{_esc(n)}</li>' for n, c in names)
    return f'<ul class="legend">{items}</ul>'


def _figure(key: str, question: str, answer: str, body: str, series: int, step: str, extra: str = "") -> str:
    return (
        f'<figure class="chart" data-chart="{key}" data-expected-series="{series}">'
        f"<h2>{_esc(question)}</h2><figcaption class='answer'>{_esc(answer)}</figcaption>"
        f"{body}{extra}<p class='step'>{_esc(step)}</p></figure>"
    )


def station_colours(data: DashboardData) -> dict[str, str]:
    names = sorted(set(data.traffic) | {s for s, _ in data.totals})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def expected_series(data: DashboardData) -> dict[str, int]:
    """How many series each chart must draw for this data: what a browser test checks."""
    return {
        "traffic": len(data.traffic),
        "totals": 1 if data.totals else 0,
        "plates": 1 if data.plates else 0,
        "anomaly": 1 if any(not w.warming_up for w in data.scores or []) else 0,
    }


def render_dashboard(data: DashboardData) -> str:
    colours = station_colours(data)
    expected = expected_series(data)
    traffic_series = [(s, colours[s], [(t, float(n)) for t, n in pts]) for s, pts in sorted(data.traffic.items())]
    figures = [
        _figure(
            "traffic",
            "How much traffic does each station see over time?",
            traffic_caption(data),
            line_chart(traffic_series, y_label="records", domain=time_domain(data)),
            expected["traffic"],
            "Section 1, Generate Sample Data / Monitoring tab: toll generate --rate 100",
            _legend([(s, colours[s]) for s, _c, _p in traffic_series]),
        ),
        _figure(
            "totals",
            "Which is the busiest toll station, and which reports less traffic?",
            totals_caption(data),
            bar_chart(data.totals, colour="#4e79a7", highlight=_ends(data.totals)),
            expected["totals"],
            "Section 1, Can you answer? questions 1 and 3: toll query busiest / toll query quiet",
        ),
        _figure(
            "plates",
            f"Who is the most active user by license plate? (top {TOP_PLATES})",
            plates_caption(data),
            bar_chart(data.plates, colour="#59a14f", highlight={data.plates[0][0]: "#2f7d32"} if data.plates else None),
            expected["plates"],
            "Section 1, Can you answer? question 2: toll query most-active",
        ),
        _anomaly_figure(data, expected["anomaly"]),
    ]
    span = ""
    if data.first_event and data.last_event:
        span = f", events {_esc(data.first_event)} to {_esc(data.last_event)}"
    notes = "".join(f"<br>{_esc(n)}" for n in data.notes)
    return Template(read_template("dashboard", "dashboard.html")).substitute(
        title="Analyticon toll-road dashboard",
        subtitle=f"{data.records:,} records on the {_esc(data.backend)} backend{span}."
        f" Built {_esc(data.generated_at)} by toll dashboard.",
        charts="\n".join(figures),
        footer="The workshop's QuickSight step, offline: every chart is drawn into this file; it loads nothing." + notes,
    )


def time_domain(data: DashboardData) -> tuple[float, float] | None:
    """The span of the traffic and the scores together, so the time charts line up."""
    moments = [t for pts in data.traffic.values() for t, _ in pts] + [w.start for w in data.scores or []]
    return (min(moments), max(moments)) if moments else None


def _ends(totals: list[tuple[str, int]]) -> dict[str, str]:
    if len(totals) < 2:
        return {}
    return {totals[0][0]: "#2b5d8a", totals[-1][0]: "#e15759"}


def warm_up_bands(windows: list[WindowScore]) -> list[tuple[float, float, str]]:
    """Each run of warming-up windows as one span, from its first window's start to the start of
    the window after it (or its last window's start plus one window's width at the end)."""
    bands: list[tuple[float, float, str]] = []
    width = min((b.start - a.start for a, b in itertools.pairwise(windows) if b.start > a.start), default=10.0)
    run_start: float | None = None
    for i, window in enumerate(windows):
        if window.warming_up and run_start is None:
            run_start = window.start
        if run_start is not None and (i + 1 == len(windows) or not windows[i + 1].warming_up):
            end = windows[i + 1].start if i + 1 < len(windows) else window.start + width
            bands.append((run_start, end, "warming up"))
            run_start = None
    return bands


def _vehicles(alert: dict[str, Any]) -> str:
    """An alert's count with its usual one: `275 (usually 11.5)`; alerts from before the baseline: `275`."""
    count = f"{int(alert.get('vehicle_count') or 0):,}"
    usual = alert.get("baseline_count")
    return count if usual is None else f"{count} (usually {usual_text(float(usual))})"


def _anomaly_figure(data: DashboardData, series: int) -> str:
    windows = data.scores or []
    scored = [w for w in windows if not w.warming_up]
    line = [("window score", "#4e79a7", [(w.start, w.score) for w in scored])] if scored else []
    marks = [(w.start, w.score, f"{', '.join(w.alert_stations)}: {w.score:.2f} at {w.label}") for w in scored if w.alert_stations]
    threshold = data.threshold if windows else None
    body = line_chart(
        line, y_label="anomaly score", threshold=threshold, marks=marks, domain=time_domain(data), bands=warm_up_bands(windows)
    )
    rows = "".join(
        f"<tr><td>{_esc(a.get('window_start', ''))}</td><td>{_esc(a.get('station', ''))}</td><td>{_esc(_vehicles(a))}</td>"
        f"<td>{float(a.get('anomaly_score', 0)):.2f}</td><td>{_esc(a.get('explanation') or '')}</td></tr>"
        for a in data.alerts[:12]
    )
    hidden = len(data.alerts) - 12
    more = f"<p class='step'>... and {hidden} more: toll alerts lists them all.</p>" if hidden > 0 else ""
    table = (
        f"<table class='alerts'><tr><th>window</th><th>station</th><th>vehicles</th><th>score</th><th>explanation</th></tr>"
        f"{rows}</table>{more}"
        if rows
        else ""
    )
    return _figure(
        "anomaly",
        "Is the traffic anomalous? Random Cut Forest score per 10 s window",
        scores_caption(data),
        body,
        series,
        "Section 2, Record Analysis, Simulating Anomalies and Alerting: toll deploy, toll skew, toll alerts",
        table,
    )


# the command ------------------------------------------------------------------------------------
def check_output_path(out: Path) -> Path:
    """Refuse a path we cannot write before querying anything."""
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name such as {out / 'toll-dashboard.html'}")
    if not out.parent.exists():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def write_dashboard(backend: Backend, out: Path) -> DashboardResult:
    """Query the backend, render the page and write it to `out` (atomically)."""
    check_output_path(out)
    data = collect_dashboard_data(backend)
    page = render_dashboard(data)
    try:
        atomic_write_bytes(out, page.encode("utf-8"))
        out.chmod(0o644)  # a page to share, not a secret (the temporary file was 0600)
    except OSError as exc:
        raise TollError(f"cannot write the dashboard to {out}: {exc.strerror}") from None
    charts = expected_series(data)
    return DashboardResult(path=out, records=data.records, charts=charts, alerts=len(data.alerts), notes=data.notes)
