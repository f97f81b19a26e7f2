"""The workshop's three questions, written once in Athena's dialect, answered by any backend.

    run_question(backend, "busiest", since=..., limit=...)
        -> templates/sql/busiest.sql filled in -> backend.query(sql) -> QuestionResult

The question SQL is plain Athena (Trino) SQL: the AWS backend sends it to Athena unchanged, the
local backend translates it for DuckDB (`tollcli.backends.local.engine`). What is worked out here
from the rows (the quiet station against the median, shares, ranks) is the same on both.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, SupportsFloat, SupportsInt

from tollcli.backends.base import Backend
from tollcli.errors import UsageError
from tollcli.paths import read_template
from tollcli.units import format_instant, parse_duration, parse_instant

NO_LIMIT = 2_147_483_647  # Athena's INTEGER maximum: "no rank limit" inside the same SQL text

# A station is quiet when it has at most this share of the median station's records ...
QUIET_RATIO = 0.5
# ... and the shortfall is beyond Poisson noise (this many standard deviations of the median count).
QUIET_SIGMAS = 4.0


# ---------------------------------------------------------------------------------------------
# questions


@dataclass(frozen=True)
class Question:
    name: str
    template: str
    title: str
    label_column: str  # what the chart labels with


QUESTIONS: dict[str, Question] = {
    "busiest": Question("busiest", "busiest.sql", "Which is the busiest toll station?", "station"),
    "most-active": Question("most-active", "most_active.sql", "Who is the most active user by license plate?", "plate"),
    "quiet": Question("quiet", "quiet.sql", "Which toll station reports less traffic than it should?", "station"),
}


@dataclass
class QuestionResult:
    """A question's answer: rows to show, the SQL that produced them, and what was left out."""

    question: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    total_records: int
    skipped_rows: int = 0
    since: str | None = None
    until: str | None = None
    flagged: list[str] = field(default_factory=list)  # quiet: the stations named as outliers
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.total_records == 0

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "title": self.title,
            "since": self.since,
            "until": self.until,
            "total_records": self.total_records,
            "skipped_rows": self.skipped_rows,
            "flagged": self.flagged,
            "rows": self.records(),
            "notes": self.notes,
            "sql": self.sql,
        }


def check_question(name: str) -> Question:
    try:
        return QUESTIONS[name]
    except KeyError:
        raise UsageError(f"unknown question {name!r}: choose one of {', '.join(QUESTIONS)}") from None


def time_range(
    *, since: str | None = None, until: str | None = None, last: str | None = None, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """The --since/--until/--last options as a UTC range [start, end).

    `--last D` is the D before now and ends now: [now - D, now). Records whose event time is still
    ahead of the clock (a backfill that continued after a home's last event can write some) are
    not "the last D", so the range has an upper bound, and it takes no --until."""
    if last is not None and since is not None:
        raise UsageError("--last and --since both set the start: give one of them")
    if last is not None and until is not None:
        raise UsageError("--last ends now, so it takes no --until: give --since with --until instead")
    start = parse_instant(since, option="--since") if since is not None else None
    end = parse_instant(until, option="--until") if until is not None else None
    if last is not None:
        end = now or datetime.now(timezone.utc)
        start = end - timedelta(seconds=parse_duration(last, option="--last"))
    if start is not None and end is not None and start >= end:
        raise UsageError("the time range is empty: --since/--last must come before --until")
    return start, end


def time_filter_sql(since: datetime | None, until: datetime | None) -> str:
    """An Athena condition on the string column `date` ([since, until)), or `true`.

    `try(...)` makes a row whose date does not parse fall outside the range instead of failing the
    whole query on Athena (locally such rows are already left out and counted).
    """
    conditions = []
    if since is not None:
        conditions.append(f"try(from_iso8601_timestamp(\"date\")) >= from_iso8601_timestamp('{format_instant(since)}')")
    if until is not None:
        conditions.append(f"try(from_iso8601_timestamp(\"date\")) < from_iso8601_timestamp('{format_instant(until)}')")
    return " AND ".join(conditions) or "true"


def question_sql(name: str, *, since: datetime | None = None, until: datetime | None = None, limit: int | None = None) -> str:
    """The Athena SQL for a question, from its template under templates/sql/."""
    question = check_question(name)
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    body = _question_body(question.template)
    time_filter = time_filter_sql(since, until)
    range_count = "count(*)" if time_filter == "true" else f"count_if({time_filter})"
    return body.format(time_filter=time_filter, range_count=range_count, rank_limit=limit or NO_LIMIT).strip() + "\n"


@functools.cache
def _question_body(template: str) -> str:
    """A question's template without its comment lines (a shipped file: read once per process)."""
    text = read_template("sql", template)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def _as_int(value: str | SupportsInt | None) -> int:
    """A count as DuckDB (an int) or Athena (its text) gives it; NULL is 0."""
    return int(value) if value is not None else 0


def _as_float(value: str | SupportsFloat | None) -> float:
    """A number as DuckDB (a float or Decimal) or Athena (its text) gives it; NULL is 0."""
    return float(value) if value is not None else 0.0


def quiet_stations(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Each station against the median station, quietest first; `quiet` marks real outliers.

    The median is robust: one or two failing stations do not move it. A station is quiet when it
    has at most QUIET_RATIO of the median's records and the shortfall is more than QUIET_SIGMAS
    Poisson standard deviations, so random variation on small samples never names a station.
    """
    if not counts:
        return []
    median = float(statistics.median(counts.values()))
    noise = math.sqrt(median) if median > 0 else 0.0
    rows = []
    for station, records in sorted(counts.items(), key=lambda item: (item[1], item[0])):
        ratio = records / median if median > 0 else 1.0
        shortfall = median - records
        quiet = median > 0 and ratio <= QUIET_RATIO and shortfall > QUIET_SIGMAS * noise
        rows.append(
            {
                "station": station,
                "records": records,
                "median": median,
                "below_median_pct": round(100.0 * (1 - ratio), 1) if median > 0 else 0.0,
                "sigmas_below": round(shortfall / noise, 1) if noise > 0 else 0.0,
                "quiet": quiet,
            }
        )
    return rows


def run_question(
    backend: Backend,
    name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    strict: bool = False,
) -> QuestionResult:
    """Answer one of the workshop's questions on any backend."""
    question = check_question(name)
    sql = question_sql(name, since=since, until=until, limit=None if name == "quiet" else limit)
    result = backend.query(sql, strict=strict)
    answer = QuestionResult(
        question=name,
        title=question.title,
        columns=[],
        rows=[],
        sql=sql,
        total_records=0,
        skipped_rows=result.skipped_rows,
        since=format_instant(since) if since else None,
        until=format_instant(until) if until else None,
        notes=list(result.notes),
    )
    if name == "quiet":
        counts = {str(row[0]): _as_int(row[1]) for row in result.rows}
        stations = quiet_stations(counts)
        answer.total_records = sum(counts.values())
        answer.flagged = [row["station"] for row in stations if row["quiet"]]
        if limit is not None:
            stations = stations[:limit]
        answer.columns = ["station", "records", "median", "below_median_pct", "sigmas_below", "quiet"]
        answer.rows = [tuple(row[c] for c in answer.columns) for row in stations]
        if answer.total_records:
            if answer.flagged:
                worst = {row["station"]: row for row in quiet_stations(counts)}
                answer.notes.append(
                    "quiet: "
                    + ", ".join(f"{s} ({worst[s]['below_median_pct']:.0f}% below the median station)" for s in answer.flagged)
                )
            else:
                answer.notes.append("no station reports unusually little traffic")
    else:
        answer.columns = [question.label_column, "records", "share_pct", "rank"]
        answer.rows = [(str(r[0]), _as_int(r[1]), _as_float(r[2]), _as_int(r[3])) for r in result.rows]
        answer.total_records = _as_int(result.rows[0][4]) if result.rows else 0
    if answer.empty:
        answer.rows = []
        answer.notes.append("no data yet" + (" in this time range" if since or until else "") + ": run `toll generate`")
    return answer
