"""The differential corpus: Athena queries against the toll table, each with Athena's answer.

The expected answers are computed here in Python from the lake's own lines, following Trino's
documented semantics (Trino documentation, "Functions and operators": integer division truncates,
decimal results keep Trino's scale and round half up, the session zone is UTC, day_of_week is ISO,
date_diff counts whole units, regexp_extract is NULL without a match, concat and greatest are NULL
when an argument is NULL, unnamed columns are _col0, _col1, ...). They are never computed by DuckDB.
Values are compared as Athena prints them (timestamps `2026-11-28 23:20:00.000 UTC`, arrays
`[a, b]`, maps `{k=v}`); a float is compared to 9 significant digits.

`UNSUPPORTED` lists the Athena queries the local engine declares it cannot run, with why: they must
fail with "not supported by the local engine (Athena has it): ..." and exit 2.

Run as a script (`python tests/athena_corpus.py HOME`) it answers every query of the corpus on the
local engine and prints the answers as JSON: tests/test_athena_corpus.py runs it under several TZ.
"""

from __future__ import annotations

import calendar
import json
import math
import random
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

T = "lab_toll_data_stream"
STATIONS = ["183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South"]
WEIGHTS = [0.1] * 8 + [0.09, 0.01]
PLATES = ["6LD7N", "JQ3QZ5", "J80DP4", "T4OFLD", "AECZV8", "EDMTT", "ULORSTX", "XHRRET", "UMC6IZ", "XSUEJA"]
START = datetime(2026, 11, 28, 23, 20, tzinfo=timezone.utc)  # crosses midnight UTC: 11-28 and 11-29
RECORDS = 600
STEP_MS = 7919


def lake_lines() -> list[str]:
    """The lake's lines, as the delivery stream writes them."""
    rng = random.Random(15)
    lines = []
    for i in range(RECORDS):
        moment = START + timedelta(milliseconds=i * STEP_MS)
        date = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines.append(f"{date},{rng.choices(STATIONS, weights=WEIGHTS)[0]},{rng.choice(PLATES)}\n")
    return lines


@dataclass(frozen=True)
class Rec:
    date: str
    toll: str
    user: str

    @property
    def t(self) -> datetime:
        return datetime.fromisoformat(self.date.replace("Z", "+00:00"))


def records(lines: list[str]) -> list[Rec]:
    return [Rec(*line.rstrip("\n").split(",")) for line in lines]


# --- Trino's semantics, in Python ------------------------------------------------------------


def ts(moment: datetime) -> str:
    """A timestamp with time zone as Athena prints it (UTC session)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def naive(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def half_up(value: Decimal | float | int, scale: int) -> str:
    """Trino's decimal rounding (HALF_UP) to `scale` digits, printed as Athena prints a decimal."""
    quantum = Decimal(1).scaleb(-scale)
    return str(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def int_div(a: int, b: int) -> int:
    """Trino's integer division truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def dround(value: float, digits: int = 0) -> float:
    """Trino's round(double, n): half away from zero."""
    factor = 10**digits
    return math.copysign(math.floor(abs(value) * factor + 0.5) / factor, value)


def text(value: Any) -> Any:
    """The Athena printing of a plain value; floats are kept for an approximate comparison."""
    if value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return ts(value) if value.tzinfo else naive(value)
    return str(value)


def rows(*items: Any) -> list[list[Any]]:
    return [[text(v) for v in (item if isinstance(item, tuple) else (item,))] for item in items]


def by_count(values: list[str]) -> list[tuple[str, int]]:
    """(value, count), most first, then by value: ORDER BY 2 DESC, 1."""
    return sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))


def iso_week_day(moment: datetime) -> int:
    return moment.isoweekday()


def whole_units(start: datetime, end: datetime, unit: str) -> int:
    """Trino's date_diff: Joda-Time's field difference (whole units; a month ending on its last day counts)."""
    if end < start:
        return -whole_units(end, start, unit)
    per = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}
    if unit in per:
        return int((end - start) // timedelta(milliseconds=1)) // per[unit]
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day == calendar.monthrange(end.year, end.month)[1] and start.day > end.day:
        start = start.replace(day=end.day)  # Joda: the subtrahend's day is clamped to the minuend month's last day
    if (end.day, end.timetz() if end.tzinfo else end.time()) < (start.day, start.timetz() if start.tzinfo else start.time()):
        months -= 1
    return months // {"month": 1, "quarter": 3, "year": 12}[unit]


# --- the corpus ---------------------------------------------------------------------------------

Expect = Callable[[list[Rec]], list[list[Any]]]


@dataclass(frozen=True)
class Case:
    sql: str
    expect: Expect
    columns: tuple[str, ...] | None = None  # checked when given


CASES: list[Case] = []


def case(sql: str, columns: tuple[str, ...] | None = None) -> Callable[[Expect], Expect]:
    def add(expect: Expect) -> Expect:
        CASES.append(Case(" ".join(sql.split()), expect, columns))
        return expect

    return add


def constant(sql: str, *values: Any, columns: tuple[str, ...] | None = None) -> None:
    """A query whose answer does not depend on the lake (a literal expression)."""
    CASES.append(Case(" ".join(sql.split()), lambda _r, v=values: rows(tuple(v)), columns))


# aggregates and arithmetic
case(f"SELECT count(*) FROM {T}", ("_col0",))(lambda r: rows(len(r)))
case(f"SELECT count(*) / 1000 FROM {T}")(lambda r: rows(int_div(len(r), 1000)))
case(f"SELECT count(*) / 7 FROM {T}")(lambda r: rows(int_div(len(r), 7)))
case(f"SELECT -count(*) / 7 FROM {T}")(lambda r: rows(int_div(-len(r), 7)))
case(f"SELECT count(*) % 7 FROM {T}")(lambda r: rows(len(r) % 7))
case(f"SELECT count(*) / 7.0 FROM {T}")(lambda r: rows(half_up(Decimal(len(r)) / 7, 1)))
case(f"SELECT 100.0 * count(*) / 7 FROM {T}")(lambda r: rows(half_up(Decimal(100 * len(r)) / 7, 1)))
case(f"SELECT count(*) / 7e0 FROM {T}")(lambda r: rows(len(r) / 7))
case(f"SELECT CAST(count(*) AS double) / 7 FROM {T}")(lambda r: rows(len(r) / 7))
case(f"SELECT count(*) * 1.25 FROM {T}")(lambda r: rows(half_up(len(r) * Decimal("1.25"), 2)))
case(f"SELECT count(DISTINCT toll) AS stations FROM {T}", ("stations",))(lambda r: rows(len({x.toll for x in r})))
case(f'SELECT count(DISTINCT "user") FROM {T}')(lambda r: rows(len({x.user for x in r})))
case(f"SELECT approx_distinct(toll) FROM {T}")(lambda r: rows(len({x.toll for x in r})))
case(f"SELECT count_if(toll = 'TX45') FROM {T}")(lambda r: rows(sum(x.toll == "TX45" for x in r)))
case(f"SELECT sum(CASE WHEN toll LIKE 'Exit%' THEN 1 ELSE 0 END) FROM {T}")(
    lambda r: rows(sum(x.toll.startswith("Exit") for x in r))
)
case(f"SELECT min(date), max(date) FROM {T}")(lambda r: rows((min(x.date for x in r), max(x.date for x in r))))
case(f"SELECT min(toll), max(toll) FROM {T}")(lambda r: rows((min(x.toll for x in r), max(x.toll for x in r))))
case(f"SELECT toll, count(*) AS n FROM {T} GROUP BY toll ORDER BY n DESC, toll")(lambda r: rows(*by_count([x.toll for x in r])))
case(f'SELECT "user", count(*) FROM {T} GROUP BY "user" ORDER BY 2 DESC, 1 LIMIT 3', ("user", "_col1"))(
    lambda r: rows(*by_count([x.user for x in r])[:3])
)
case(f"SELECT toll FROM {T} GROUP BY toll HAVING count(*) > 60 ORDER BY toll")(
    lambda r: rows(*sorted(k for k, n in Counter(x.toll for x in r).items() if n > 60))
)
case(f"SELECT avg(length(toll)) FROM {T}")(lambda r: rows(statistics.fmean(len(x.toll) for x in r)))
case(f'SELECT sum(length("user")) FROM {T}')(lambda r: rows(sum(len(x.user) for x in r)))
case(f"SELECT toll, round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share FROM {T} GROUP BY toll ORDER BY toll")(
    lambda r: rows(*[(k, half_up(Decimal(100 * n) / len(r), 1)) for k, n in sorted(Counter(x.toll for x in r).items())])
)
case(
    f"SELECT toll, round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share FROM {T} GROUP BY toll ORDER BY toll"
)(lambda r: rows(*[(k, dround(100 * n / len(r), 2)) for k, n in sorted(Counter(x.toll for x in r).items())]))
case(f"SELECT toll, count(*) * 100 / (SELECT count(*) FROM {T}) AS pct FROM {T} GROUP BY toll ORDER BY toll")(
    lambda r: rows(*[(k, int_div(n * 100, len(r))) for k, n in sorted(Counter(x.toll for x in r).items())])
)
case(f"SELECT max_by(toll, date), min_by(toll, date) FROM {T}")(
    lambda r: rows((max(r, key=lambda x: x.date).toll, min(r, key=lambda x: x.date).toll))
)
case(f"SELECT arbitrary(toll) IS NOT NULL FROM {T}")(lambda r: rows(True))
case(f"SELECT bool_or(toll = '35South'), bool_and(length(toll) > 3) FROM {T}")(
    lambda r: rows((any(x.toll == "35South" for x in r), all(len(x.toll) > 3 for x in r)))
)
case(f'SELECT stddev_samp(length("user")) FROM {T}')(lambda r: rows(statistics.stdev(len(x.user) for x in r)))
case(f'SELECT variance(length("user")) FROM {T}')(lambda r: rows(statistics.variance(len(x.user) for x in r)))
case(f"SELECT count(*) FROM {T} WHERE toll IN ('TX45', 'TX290')")(lambda r: rows(sum(x.toll in ("TX45", "TX290") for x in r)))
case(f"SELECT count(*) FROM {T} WHERE toll NOT IN ('TX45') AND \"user\" <> 'EDMTT'")(
    lambda r: rows(sum(x.toll != "TX45" and x.user != "EDMTT" for x in r))
)
case(f"SELECT count(*) FROM {T} WHERE toll BETWEEN 'A' AND 'F'")(lambda r: rows(sum("A" <= x.toll <= "F" for x in r)))

# dates and times (the session zone is UTC)
case(f"SELECT hour(from_iso8601_timestamp(date)) AS h, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.hour for x in r).items()))
)
case(f"SELECT date(from_iso8601_timestamp(date)) AS d, count(*) AS n FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.date().isoformat() for x in r).items()))
)
case(f"SELECT CAST(from_iso8601_timestamp(date) AS date) AS d, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.date().isoformat() for x in r).items()))
)
case(f"SELECT day(from_iso8601_timestamp(date)) AS d, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.day for x in r).items()))
)
case(f"SELECT day_of_week(from_iso8601_timestamp(date)) AS d, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(iso_week_day(x.t) for x in r).items()))
)
case(f"SELECT dow(from_iso8601_timestamp(date)) AS d, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(iso_week_day(x.t) for x in r).items()))
)
case(f"SELECT day_of_month(from_iso8601_timestamp(min(date))) FROM {T}")(lambda r: rows(min(x.t for x in r).day))
case(f"SELECT day_of_year(from_iso8601_timestamp(max(date))), doy(from_iso8601_timestamp(min(date))) FROM {T}")(
    lambda r: rows((max(x.t for x in r).timetuple().tm_yday, min(x.t for x in r).timetuple().tm_yday))
)
case(f"SELECT year(from_iso8601_timestamp(min(date))), month(from_iso8601_timestamp(min(date))) FROM {T}")(
    lambda r: rows((min(x.t for x in r).year, min(x.t for x in r).month))
)
case(f"SELECT minute(from_iso8601_timestamp(min(date))), second(from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows((min(x.t for x in r).minute, max(x.t for x in r).second))
)
case(f"SELECT millisecond(from_iso8601_timestamp(max(date))) FROM {T}")(lambda r: rows(max(x.t for x in r).microsecond // 1000))
case(f"SELECT sum(millisecond(from_iso8601_timestamp(date))) FROM {T}")(lambda r: rows(sum(x.t.microsecond // 1000 for x in r)))
case(f"SELECT quarter(from_iso8601_timestamp(min(date))), week(from_iso8601_timestamp(min(date))) FROM {T}")(
    lambda r: rows(((min(x.t for x in r).month - 1) // 3 + 1, min(x.t for x in r).isocalendar()[1]))
)
case(f"SELECT min(from_iso8601_timestamp(date)) FROM {T}")(lambda r: rows(min(x.t for x in r)))
case(f"SELECT max(from_iso8601_timestamp(date)) AS last_seen FROM {T}", ("last_seen",))(lambda r: rows(max(x.t for x in r)))
case(f"SELECT date_trunc('hour', from_iso8601_timestamp(date)) AS h, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.replace(minute=0, second=0, microsecond=0) for x in r).items()))
)
case(f"SELECT date_trunc('day', from_iso8601_timestamp(date)) AS d, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.replace(hour=0, minute=0, second=0, microsecond=0) for x in r).items()))
)
case(f"SELECT date_trunc('minute', from_iso8601_timestamp(min(date))) FROM {T}")(
    lambda r: rows(min(x.t for x in r).replace(second=0, microsecond=0))
)
case(f"SELECT to_iso8601(from_iso8601_timestamp(min(date))) FROM {T}")(lambda r: rows(min(x.date for x in r)))
case(f"SELECT to_iso8601(date(from_iso8601_timestamp(max(date)))) FROM {T}")(
    lambda r: rows(max(x.t for x in r).date().isoformat())
)
case(f"SELECT date_format(from_iso8601_timestamp(min(date)), '%Y-%m-%d %H:%i:%s') FROM {T}")(
    lambda r: rows(min(x.t for x in r).strftime("%Y-%m-%d %H:%M:%S"))
)
case(f"SELECT date_format(from_iso8601_timestamp(date), '%H:00') AS h, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.strftime("%H:00") for x in r).items()))
)
case(f"SELECT format_datetime(from_iso8601_timestamp(max(date)), 'yyyy-MM-dd HH:mm:ss.SSS') FROM {T}")(
    lambda r: rows(max(x.date for x in r).replace("T", " ").rstrip("Z"))
)
case(f"SELECT format_datetime(from_iso8601_timestamp(min(date)), 'dd/MM/yy') FROM {T}")(
    lambda r: rows(min(x.t for x in r).strftime("%d/%m/%y"))
)
case(f"SELECT to_unixtime(from_iso8601_timestamp(min(date))) FROM {T}")(lambda r: rows(min(x.t for x in r).timestamp()))
case(f"SELECT from_unixtime(to_unixtime(from_iso8601_timestamp(min(date)))) FROM {T}")(lambda r: rows(min(x.t for x in r)))
case(f"SELECT date_add('hour', 2, from_iso8601_timestamp(min(date))) FROM {T}")(
    lambda r: rows(min(x.t for x in r) + timedelta(hours=2))
)
case(f"SELECT date_add('day', -1, date(from_iso8601_timestamp(min(date)))) FROM {T}")(
    lambda r: rows((min(x.t for x in r).date() - timedelta(days=1)).isoformat())
)
case(f"SELECT from_iso8601_timestamp(min(date)) + INTERVAL '30' MINUTE FROM {T}")(
    lambda r: rows(min(x.t for x in r) + timedelta(minutes=30))
)
case(f"SELECT date_diff('second', from_iso8601_timestamp(min(date)), from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows(whole_units(min(x.t for x in r), max(x.t for x in r), "second"))
)
case(f"SELECT date_diff('minute', from_iso8601_timestamp(min(date)), from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows(whole_units(min(x.t for x in r), max(x.t for x in r), "minute"))
)
case(f"SELECT date_diff('hour', from_iso8601_timestamp(min(date)), from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows(whole_units(min(x.t for x in r), max(x.t for x in r), "hour"))
)
case(f"SELECT date_diff('day', from_iso8601_timestamp(min(date)), from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows(whole_units(min(x.t for x in r), max(x.t for x in r), "day"))
)
case(f"SELECT date_diff('millisecond', from_iso8601_timestamp(min(date)), from_iso8601_timestamp(max(date))) FROM {T}")(
    lambda r: rows(whole_units(min(x.t for x in r), max(x.t for x in r), "millisecond"))
)
constant(
    "SELECT date_diff('hour', TIMESTAMP '2026-01-01 10:59:00', TIMESTAMP '2026-01-01 11:00:00')",
    whole_units(datetime(2026, 1, 1, 10, 59), datetime(2026, 1, 1, 11), "hour"),
)
constant("SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00')", 0)
constant(
    "SELECT date_diff('month', DATE '2026-01-31', DATE '2026-02-28')",
    whole_units(datetime(2026, 1, 31), datetime(2026, 2, 28), "month"),
)
constant(
    "SELECT date_diff('month', DATE '2026-01-15', DATE '2026-02-14')",
    whole_units(datetime(2026, 1, 15), datetime(2026, 2, 14), "month"),
)
constant(
    "SELECT date_diff('year', DATE '2025-06-01', DATE '2026-05-31')",
    whole_units(datetime(2025, 6, 1), datetime(2026, 5, 31), "year"),
)
constant(
    "SELECT date_diff('day', DATE '2026-03-01', DATE '2026-02-01')",
    whole_units(datetime(2026, 3, 1), datetime(2026, 2, 1), "day"),
)
constant("SELECT transform(ARRAY[1, 2], x -> x * 10), filter(ARRAY[1, 2, 3], x -> x > 1)", "[10, 20]", "[2, 3]")
case(f"SELECT count(*) FROM {T} WHERE from_iso8601_timestamp(date) >= from_iso8601_timestamp('2026-11-29T00:00:00Z')")(
    lambda r: rows(sum(x.t >= datetime(2026, 11, 29, tzinfo=timezone.utc) for x in r))
)
case(f"SELECT count(*) FROM {T} WHERE from_iso8601_timestamp(date) < TIMESTAMP '2026-11-29 00:00:00 UTC'")(
    lambda r: rows(sum(x.t < datetime(2026, 11, 29, tzinfo=timezone.utc) for x in r))
)
case(f"SELECT count(*) FROM {T} WHERE date(from_iso8601_timestamp(date)) = DATE '2026-11-29'")(
    lambda r: rows(sum(x.t.date().isoformat() == "2026-11-29" for x in r))
)
case(f"SELECT count(*) FROM {T} WHERE date >= '2026-11-29'")(lambda r: rows(sum(x.date >= "2026-11-29" for x in r)))
case(f"SELECT count(*) FROM {T} WHERE try(from_iso8601_timestamp(date)) IS NOT NULL")(lambda r: rows(len(r)))
case(f"SELECT count(*) FROM {T} WHERE hour(from_iso8601_timestamp(date)) = 0")(lambda r: rows(sum(x.t.hour == 0 for x in r)))
constant("SELECT hour(from_iso8601_timestamp('2026-11-28T08:00:00Z'))", 8)
constant("SELECT date_parse('2026-11-27 10:05', '%Y-%m-%d %H:%i')", datetime(2026, 11, 27, 10, 5))
constant("SELECT parse_datetime('2026-11-27 10:05', 'yyyy-MM-dd HH:mm')", datetime(2026, 11, 27, 10, 5, tzinfo=timezone.utc))
constant("SELECT from_unixtime(0)", datetime(1970, 1, 1, tzinfo=timezone.utc))
constant("SELECT to_unixtime(from_iso8601_timestamp('2026-01-01T00:00:01.500Z'))", 1767225601.5)
constant("SELECT from_iso8601_date('2026-11-28')", "2026-11-28")
constant("SELECT day_of_week(DATE '2026-11-29'), day_of_year(DATE '2026-02-01')", 7, 32)
constant("SELECT last_day_of_month(DATE '2026-02-10')", "2026-02-28")
constant("SELECT CAST('2026-11-28 08:00:00' AS timestamp)", datetime(2026, 11, 28, 8))

# strings and regular expressions
case(f"SELECT DISTINCT upper(toll) FROM {T} ORDER BY 1")(lambda r: rows(*sorted({x.toll.upper() for x in r})))
case(f'SELECT DISTINCT lower("user") AS u FROM {T} ORDER BY u')(lambda r: rows(*sorted({x.user.lower() for x in r})))
case(f"SELECT DISTINCT length(toll) FROM {T} ORDER BY 1")(lambda r: rows(*sorted({len(x.toll) for x in r})))
case(f"SELECT DISTINCT substr(toll, 1, 2) FROM {T} ORDER BY 1")(lambda r: rows(*sorted({x.toll[:2] for x in r})))
case(f'SELECT DISTINCT substr("user", 3) FROM {T} ORDER BY 1')(lambda r: rows(*sorted({x.user[2:] for x in r})))
case(f"SELECT DISTINCT concat(toll, '-', \"user\") FROM {T} WHERE toll = '35South' ORDER BY 1")(
    lambda r: rows(*sorted({f"{x.toll}-{x.user}" for x in r if x.toll == "35South"}))
)
case(f"SELECT DISTINCT toll || '/' || substr(\"user\", 1, 1) FROM {T} WHERE toll = 'TX45' ORDER BY 1")(
    lambda r: rows(*sorted({f"{x.toll}/{x.user[0]}" for x in r if x.toll == "TX45"}))
)
case(f"SELECT DISTINCT replace(toll, 'Exit', 'X') FROM {T} ORDER BY 1")(
    lambda r: rows(*sorted({x.toll.replace("Exit", "X") for x in r}))
)
case(f"SELECT DISTINCT strpos(toll, 'X') FROM {T} ORDER BY 1")(lambda r: rows(*sorted({x.toll.find("X") + 1 for x in r})))
case(f"SELECT DISTINCT reverse(toll) FROM {T} WHERE toll LIKE 'TX%' ORDER BY 1")(
    lambda r: rows(*sorted({x.toll[::-1] for x in r if x.toll.startswith("TX")}))
)
case(f"SELECT DISTINCT lpad(toll, 8, '*'), rpad(toll, 8, '.') FROM {T} WHERE toll = 'TX45'")(
    lambda r: rows(("****TX45", "TX45...."))
)
case(f"SELECT DISTINCT trim('  ' || toll || '  ') FROM {T} WHERE toll = 'SH130'")(lambda r: rows("SH130"))
case(f"SELECT DISTINCT split_part(date, 'T', 1) FROM {T} ORDER BY 1")(lambda r: rows(*sorted({x.date.split("T")[0] for x in r})))
case(f"SELECT DISTINCT regexp_replace(toll, '[0-9]', '#') FROM {T} ORDER BY 1")(
    lambda r: rows(*sorted({re.sub("[0-9]", "#", x.toll) for x in r}))
)
case(f"SELECT DISTINCT regexp_replace(toll, '([A-Za-z]+)([0-9]+)', '$2-$1') FROM {T} ORDER BY 1")(
    lambda r: rows(*sorted({re.sub("([A-Za-z]+)([0-9]+)", r"\2-\1", x.toll) for x in r}))
)
case(f"SELECT DISTINCT toll, regexp_extract(toll, '[0-9]+') FROM {T} ORDER BY 1")(
    lambda r: rows(*sorted({(x.toll, (re.search("[0-9]+", x.toll) or [None])[0]) for x in r}))
)
case(f"SELECT DISTINCT toll, regexp_extract(toll, '^([A-Z]+)([0-9]+)$', 2) FROM {T} ORDER BY 1")(
    lambda r: rows(*sorted({(x.toll, m.group(2) if (m := re.search("^([A-Z]+)([0-9]+)$", x.toll)) else None) for x in r}))
)
case(f"SELECT count(*) FROM {T} WHERE regexp_like(toll, '^TX')")(lambda r: rows(sum(bool(re.search("^TX", x.toll)) for x in r)))
case(f"SELECT count(*) FROM {T} WHERE regexp_like(\"user\", '[0-9]')")(
    lambda r: rows(sum(bool(re.search("[0-9]", x.user)) for x in r))
)
case(f"SELECT count(*) FROM {T} WHERE \"user\" LIKE '%Z%'")(lambda r: rows(sum("Z" in x.user for x in r)))
case(f"SELECT count(*) FROM {T} WHERE toll LIKE '35_____'")(
    lambda r: rows(sum(re.fullmatch("35.....", x.toll) is not None for x in r))
)
case(f"SELECT DISTINCT regexp_extract_all(toll, '[0-9]') FROM {T} WHERE toll = 'SH130'")(lambda r: rows("[1, 3, 0]"))
case(f"SELECT DISTINCT starts_with(toll, 'Exit') FROM {T} WHERE toll = 'Exit66'")(lambda r: rows(True))
constant("SELECT regexp_extract('no digits', '[0-9]+')", None)
constant("SELECT regexp_replace('a1b22c333', '[0-9]+', '')", "abc")
constant("SELECT length(''), '' = '', concat('a', NULL, 'b')", 0, True, None)
constant("SELECT chr(65), codepoint('A'), upper('tx45')", "A", 65, "TX45")
constant("SELECT substr('TX290', -3), substr('TX290', 2, 2)", "290", "X2")
constant("SELECT split_part('a,b,c', ',', 2), split_part('a,b', ',', 5)", "b", None)

# casts and numbers
constant("SELECT CAST(2.5 AS bigint), CAST(-2.5 AS bigint), CAST(3.49 AS integer)", 3, -3, 3)
constant("SELECT CAST(2.5e0 AS bigint), CAST(-2.5e0 AS bigint), CAST(3.5e0 AS integer)", 3, -3, 4)
constant("SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3", 3, -3, 1, -1)
constant("SELECT 100.0 * 7 / 3, 1.0 / 3, 10.00 / 4", "233.3", "0.3", "2.50")
constant("SELECT 1.5 * 1.5, 0.1 + 0.25, 2.50 - 1", "2.25", "0.35", "1.50")
constant("SELECT round(2.5), round(-2.5), round(2.345, 2)", "3", "-3", "2.350")
constant("SELECT round(2.5e0), round(1.005e0, 2), truncate(2.7e0)", 3.0, 1.0, 2.0)
constant("SELECT floor(-1.5e0), ceil(1.2e0), abs(-3), sign(-2)", -2.0, 2.0, 3, -1)
constant("SELECT CAST('42' AS integer) + 1, TRY_CAST('x42' AS integer)", 43, None)
constant("SELECT CAST(7 AS double) / 2, 7 / 2e0", 3.5, 3.5)
constant("SELECT power(2, 10), sqrt(16e0), mod(17, 5)", 1024.0, 4.0, 2)
constant("SELECT greatest(1, 5, 3), least(4, 2, 8), greatest(1, NULL, 3)", 5, 2, None)
constant("SELECT CAST(1 AS boolean), CAST(0 AS boolean)", True, False)

# windows
case(f"SELECT toll, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS r FROM {T} GROUP BY toll ORDER BY r, toll")(
    lambda r: rows(
        *[(k, n, 1 + sum(m > n for m in Counter(x.toll for x in r).values())) for k, n in by_count([x.toll for x in r])]
    )
)
case(f"SELECT toll, row_number() OVER (ORDER BY count(*) DESC, toll) AS rn FROM {T} GROUP BY toll ORDER BY rn")(
    lambda r: rows(*[(k, i + 1) for i, (k, _) in enumerate(by_count([x.toll for x in r]))])
)
case(f"SELECT toll, dense_rank() OVER (ORDER BY length(toll)) AS dr FROM {T} GROUP BY toll ORDER BY dr, toll")(
    lambda r: rows(
        *sorted(
            ((k, sorted({len(t) for t in {x.toll for x in r}}).index(len(k)) + 1) for k in {x.toll for x in r}),
            key=lambda kv: (kv[1], kv[0]),
        )
    )
)
case(
    f"SELECT h, n, sum(n) OVER (ORDER BY h) AS running FROM (SELECT hour(from_iso8601_timestamp(date)) AS h, count(*) AS n "
    f"FROM {T} GROUP BY 1) ORDER BY h"
)(
    lambda r: rows(
        *[
            (h, n, sum(m for g, m in Counter(x.t.hour for x in r).items() if g <= h))
            for h, n in sorted(Counter(x.t.hour for x in r).items())
        ]
    )
)
case(
    f"SELECT h, n - lag(n) OVER (ORDER BY h) AS change FROM (SELECT hour(from_iso8601_timestamp(date)) AS h, count(*) AS n "
    f"FROM {T} GROUP BY 1) ORDER BY h"
)(
    lambda r: rows(
        *[
            (h, None if i == 0 else n - sorted(Counter(x.t.hour for x in r).items())[i - 1][1])
            for i, (h, n) in enumerate(sorted(Counter(x.t.hour for x in r).items()))
        ]
    )
)
case(
    f"SELECT toll, first_value(date) OVER (PARTITION BY toll ORDER BY date) AS first_seen FROM {T} "
    f"WHERE toll IN ('TX45', '35South') GROUP BY toll, date ORDER BY date LIMIT 1"
)(lambda r: rows(min(((x.toll, x.date) for x in r if x.toll in ("TX45", "35South")), key=lambda kv: kv[1])))
case(
    f"SELECT toll, n FROM (SELECT toll, count(*) AS n, ntile(2) OVER (ORDER BY count(*) DESC, toll) AS half "
    f"FROM {T} GROUP BY toll) WHERE half = 1 ORDER BY n DESC, toll"
)(lambda r: rows(*by_count([x.toll for x in r])[:5]))
case(
    f'SELECT "user", toll, n FROM (SELECT "user", toll, count(*) AS n, row_number() OVER (PARTITION BY "user" '
    f"ORDER BY count(*) DESC, toll) AS rn FROM {T} GROUP BY 1, 2) WHERE rn = 1 ORDER BY 1"
)(
    lambda r: rows(
        *[
            (
                u,
                *min(
                    ((t, n) for (uu, t), n in Counter((x.user, x.toll) for x in r).items() if uu == u),
                    key=lambda kv: (-kv[1], kv[0]),
                ),
            )
            for u in sorted({x.user for x in r})
        ]
    )
)
case(
    f"SELECT count(*) FROM (SELECT date, lead(date) OVER (ORDER BY date) AS next FROM {T}) "
    f"WHERE date_diff('millisecond', from_iso8601_timestamp(date), from_iso8601_timestamp(next)) = {STEP_MS}"
)(lambda r: rows(len(r) - 1))

# arrays and maps
case(f"SELECT cardinality(array_agg(DISTINCT toll)) FROM {T}")(lambda r: rows(len({x.toll for x in r})))
case(f"SELECT array_agg(DISTINCT toll ORDER BY toll) FROM {T}")(
    lambda r: rows("[" + ", ".join(sorted({x.toll for x in r})) + "]")
)
case(f'SELECT array_join(array_agg(DISTINCT "user" ORDER BY "user"), \',\') FROM {T}')(
    lambda r: rows(",".join(sorted({x.user for x in r})))
)
case(f"SELECT contains(array_agg(toll), '35South') FROM {T}")(lambda r: rows(any(x.toll == "35South" for x in r)))
case(f"SELECT element_at(histogram(toll), 'TX45') FROM {T}")(lambda r: rows(sum(x.toll == "TX45" for x in r)))
case(f"SELECT histogram(toll)['SH130'] FROM {T}")(lambda r: rows(sum(x.toll == "SH130" for x in r)))
case(f'SELECT cardinality(histogram("user")) FROM {T}')(lambda r: rows(len({x.user for x in r})))
case(f"SELECT array_sort(map_keys(histogram(toll))) FROM {T}")(lambda r: rows("[" + ", ".join(sorted({x.toll for x in r})) + "]"))
case(f"SELECT element_at(map_agg(toll, n), '183A') FROM (SELECT toll, count(*) AS n FROM {T} GROUP BY toll)")(
    lambda r: rows(sum(x.toll == "183A" for x in r))
)
case(f"SELECT element_at(split(min(date), 'T'), 1) FROM {T}")(lambda r: rows(min(x.date for x in r).split("T")[0]))
case(f"SELECT cardinality(split(max(date), ':')) FROM {T}")(lambda r: rows(3))
case(f"SELECT count(*) FROM {T} CROSS JOIN UNNEST(split(date, ':')) AS t(part)")(lambda r: rows(3 * len(r)))
case(
    f"SELECT part, count(*) FROM {T} CROSS JOIN UNNEST(split(date, 'T')) AS t(part) WHERE part LIKE '2026%' GROUP BY 1 ORDER BY 1"
)(lambda r: rows(*sorted(Counter(x.date.split("T")[0] for x in r).items())))
constant("SELECT ARRAY[1, 2, 3], cardinality(ARRAY['a', 'b'])", "[1, 2, 3]", 2)
constant("SELECT element_at(ARRAY[10, 20, 30], 2), element_at(ARRAY[10, 20, 30], -1), ARRAY[10, 20][1]", 20, 30, 10)
constant("SELECT array_max(ARRAY[3, 9, 1]), array_min(ARRAY[3, 9, 1]), array_position(ARRAY[5, 6], 6)", 9, 1, 2)
constant("SELECT array_distinct(ARRAY[1, 1, 2]), array_join(ARRAY['x', 'y'], '-')", "[1, 2]", "x-y")
constant("SELECT MAP(ARRAY['a', 'b'], ARRAY[1, 2])", "{a=1, b=2}")
constant("SELECT element_at(MAP(ARRAY['a'], ARRAY[1]), 'a'), cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", 1, 2)
constant("SELECT sequence(1, 4)", "[1, 2, 3, 4]")
constant("SELECT x FROM UNNEST(ARRAY[3, 1, 2]) AS t(x) ORDER BY x DESC LIMIT 1", 3, columns=("x",))
constant("SELECT contains(ARRAY['a', 'b'], 'b'), slice(ARRAY[1, 2, 3, 4], 2, 2)", True, "[2, 3]")

# CTEs, subqueries, joins with VALUES
case(f"WITH s AS (SELECT toll, count(*) AS n FROM {T} GROUP BY toll) SELECT max(n) - min(n) FROM s")(
    lambda r: rows(max(Counter(x.toll for x in r).values()) - min(Counter(x.toll for x in r).values()))
)
case(
    f"WITH s AS (SELECT toll, count(*) AS n FROM {T} GROUP BY toll) "
    "SELECT toll FROM s WHERE n = (SELECT max(n) FROM s) ORDER BY 1"
)(lambda r: rows(*sorted(k for k, n in Counter(x.toll for x in r).items() if n == max(Counter(x.toll for x in r).values()))))
case(
    f"SELECT c.city, count(*) AS n FROM {T} AS d JOIN (VALUES ('TX45', 'Austin'), ('TX290', 'Houston')) AS c(code, city) "
    "ON d.toll = c.code GROUP BY c.city ORDER BY c.city"
)(
    lambda r: rows(
        *sorted(Counter({"TX45": "Austin", "TX290": "Houston"}[x.toll] for x in r if x.toll in ("TX45", "TX290")).items())
    )
)
case(
    f"SELECT c.code, count(d.toll) FROM (VALUES 'TX45', 'NOWHERE') AS c(code) LEFT JOIN {T} AS d ON d.toll = c.code "
    "GROUP BY c.code ORDER BY c.code"
)(lambda r: rows(("NOWHERE", 0), ("TX45", sum(x.toll == "TX45" for x in r))))
case(f"SELECT count(*) FROM {T} WHERE toll IN (SELECT code FROM (VALUES 'SH130', '183A') AS v(code))")(
    lambda r: rows(sum(x.toll in ("SH130", "183A") for x in r))
)
case(f'SELECT count(*) FROM (SELECT DISTINCT toll, "user" FROM {T})')(lambda r: rows(len({(x.toll, x.user) for x in r})))
case(f"SELECT toll FROM {T} UNION SELECT 'ZZZ' ORDER BY 1 DESC LIMIT 2")(lambda r: rows("ZZZ", max(x.toll for x in r)))
case(f"SELECT count(*) FROM (SELECT toll FROM {T} INTERSECT SELECT 'TX45')")(lambda r: rows(1))
case(f"SELECT count(*) FROM (SELECT toll FROM {T} EXCEPT SELECT 'TX45')")(lambda r: rows(len({x.toll for x in r}) - 1))
case(
    f"SELECT a.toll, b.toll FROM (SELECT toll, count(*) AS n FROM {T} GROUP BY toll) a "
    f"JOIN (SELECT toll, count(*) AS n FROM {T} GROUP BY toll) b ON a.n = b.n AND a.toll < b.toll ORDER BY 1, 2"
)(
    lambda r: rows(
        *sorted(
            (a, b)
            for a, n in Counter(x.toll for x in r).items()
            for b, m in Counter(x.toll for x in r).items()
            if n == m and a < b
        )
    )
)
case("VALUES 2, 3", ("_col0",))(lambda r: rows(2, 3))
constant("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(n, s) WHERE n = 2", 2, "b", columns=("n", "s"))
constant("SELECT sum(x) FROM (VALUES 1, 2, 3) AS t(x)", 6)

# NULL handling
constant("SELECT NULL, coalesce(NULL, 'x'), nullif('a', 'a'), nullif('a', 'b')", None, "x", None, "a")
constant("SELECT count(x), count(*) FROM (VALUES 1, NULL, 3) AS t(x)", 2, 3)
constant("SELECT sum(x), avg(x), max(x) FROM (VALUES CAST(NULL AS integer)) AS t(x)", None, None, None)
constant("SELECT '' IS NULL, NULL IS NULL, concat('', 'a')", False, True, "a")
constant("SELECT CASE WHEN NULL THEN 1 ELSE 2 END, if(NULL, 1, 2), if(1 < 2, 'y')", 2, 2, "y")
constant("SELECT NULL = NULL, NULL AND false, NULL OR true", None, False, True)
constant("SELECT coalesce(regexp_extract('abc', 'x'), 'none')", "none")
case(f"SELECT count(nullif(toll, 'TX45')) FROM {T}")(lambda r: rows(sum(x.toll != "TX45" for x in r)))
case(f"SELECT count(CASE WHEN toll = '35South' THEN 1 END) FROM {T}")(lambda r: rows(sum(x.toll == "35South" for x in r)))
constant("SELECT x FROM (VALUES 'a', NULL, 'b') AS t(x) ORDER BY x NULLS FIRST LIMIT 1", None, columns=("x",))

# time zones: UTC (all our data) answers as Trino does; another zone is refused (see UNSUPPORTED)
constant(
    "SELECT from_iso8601_timestamp('2026-11-28T23:30:00+00:00'), hour(from_iso8601_timestamp('2026-11-28T23:30:00Z'))",
    datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc),
    23,
)
constant("SELECT to_iso8601(from_iso8601_timestamp('2026-11-28T23:30:00.250Z'))", "2026-11-28T23:30:00.250Z")
constant("SELECT timestamp '2026-12-01 00:00:00 UTC' AT TIME ZONE 'UTC'", datetime(2026, 12, 1, tzinfo=timezone.utc))
constant("SELECT with_timezone(timestamp '2026-12-01 06:00:00', 'UTC')", datetime(2026, 12, 1, 6, tzinfo=timezone.utc))
constant("SELECT from_unixtime(86400, 'UTC')", datetime(1970, 1, 2, tzinfo=timezone.utc))
constant("""SELECT json_extract_scalar('{"a": {"b": 7}}', '$.a.b')""", "7")  # JSONPath: still answered
constant("SELECT from_unixtime(1700000000)", datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc))  # an integer: no overflow
case(f"SELECT hour(from_iso8601_timestamp(date) AT TIME ZONE 'UTC') AS h, count(*) FROM {T} GROUP BY 1 ORDER BY 1")(
    lambda r: rows(*sorted(Counter(x.t.hour for x in r).items()))
)
case(f"SELECT count(*) FROM {T} WHERE try(from_iso8601_timestamp(date)) >= timestamp '2026-11-29 00:00:00 UTC'")(
    lambda r: rows(sum(x.t >= datetime(2026, 11, 29, tzinfo=timezone.utc) for x in r))
)

# typeof() in Trino's type names
constant("SELECT typeof(1), typeof('abc'), typeof(1.5), typeof(1e0)", "integer", "varchar(3)", "decimal(2,1)", "double")
constant("SELECT typeof(3000000000), typeof(true), typeof(0.25)", "bigint", "boolean", "decimal(2,2)")
case(f"SELECT typeof(toll), typeof(count(*)), typeof(from_iso8601_timestamp(min(date))) FROM {T} GROUP BY toll LIMIT 1")(
    lambda r: rows(("varchar", "bigint", "timestamp(3) with time zone"))
)

# catalog statements
case("SHOW TABLES", ("tab_name",))(lambda r: rows(T))
case("SHOW TABLES IN toll", ("tab_name",))(lambda r: rows(T))
case("SHOW TABLES IN toll 'lab*'", ("tab_name",))(lambda r: rows(T))
case("SHOW DATABASES", ("database_name",))(lambda r: rows("toll"))
case("SHOW SCHEMAS", ("database_name",))(lambda r: rows("toll"))
case(f"SHOW COLUMNS FROM {T}", ("field",))(lambda r: rows("date", "toll", "user"))
case(f"SHOW COLUMNS IN toll.{T}", ("field",))(lambda r: rows("date", "toll", "user"))
case(f"DESCRIBE {T}", ("col_name", "data_type", "comment"))(
    lambda r: rows(("date", "string", ""), ("toll", "string", ""), ("user", "string", ""))
)
case(f"SELECT count(*) FROM awsdatacatalog.toll.{T}")(lambda r: rows(len(r)))
case(f"SELECT count(*) FROM toll.{T}")(lambda r: rows(len(r)))

# What the local engine declares it cannot do (each must say so, exit 2), and why.
UNSUPPORTED: dict[str, str] = {
    "SHOW PARTITIONS lab_toll_data_stream": "the local table has no partitions to list (Athena: Hive metastore)",
    "SHOW TBLPROPERTIES lab_toll_data_stream": "table properties live in the Glue catalog, not in the ledger",
    "SHOW VIEWS": "the local engine keeps no views",
    "SHOW FUNCTIONS": "the local engine cannot list Trino's function catalog",
    "SELECT soundex(toll) FROM lab_toll_data_stream": "DuckDB has no soundex",
    "SELECT approx_most_frequent(3, toll, 100) FROM lab_toll_data_stream": "DuckDB has no approx_most_frequent",
    "SELECT human_readable_seconds(90)": "DuckDB has no human_readable_seconds",
    "SELECT word_stem('running')": "DuckDB has no word_stem",
    "SELECT url_extract_host('https://example.com/x')": "DuckDB has no URL functions",
    "SELECT format_datetime(current_timestamp, 'ww')": "a Joda pattern letter the translation does not map (week of year)",
    # Trino: 2026-11-28 23:30:00.000 +05:30, 23, 2026-11-28T23:30:00.000+05:30; DuckDB's TIMESTAMPTZ keeps no zone
    "SELECT from_iso8601_timestamp('2026-11-28T23:30:00+05:30')": "the zone is kept by Trino; DuckDB keeps the instant only",
    "SELECT hour(from_iso8601_timestamp('2026-11-28T23:30:00+05:30'))": "hour() reads the kept zone (23 in Trino)",
    "SELECT to_iso8601(from_iso8601_timestamp('2026-11-28T23:30:00+05:30'))": "prints the kept zone (+05:30 in Trino)",
    # Trino: 2026-11-30 18:00:00.000 America/Chicago
    "SELECT timestamp '2026-12-01 00:00:00 UTC' AT TIME ZONE 'America/Chicago'": "a zone other than UTC (DuckDB keeps no zone)",
    "SELECT timestamp '2026-12-01 00:00:00 America/Chicago'": "a timestamp literal with a zone other than UTC",
    "SELECT at_timezone(current_timestamp, 'Asia/Kolkata')": "a zone other than UTC",
    "SELECT from_unixtime(0, 5, 30)": "an offset other than UTC",
    "SELECT ST_Point(1, 2)": "DuckDB has geometry only in its spatial extension, which the local engine does not load",
    "SELECT reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s)": "sqlglot cannot write reduce's output function for DuckDB",
    "SELECT typeof(upper('abc'))": "Trino tracks the varchar length (varchar(3)); DuckDB does not",
    # DuckDB reads Trino's SQL/JSON path ('lax $.a') as its own JSONPath and finds nothing (NULL, false)
    """SELECT json_query('{"a": [1]}', 'lax $.a')""": "Trino's SQL/JSON path language (modes, wrappers, ON ERROR)",
    """SELECT json_value('{"a": 1}', 'lax $.a')""": "Trino's SQL/JSON path language",
    """SELECT json_exists('{"a": 1}', 'strict $.a')""": "Trino's SQL/JSON path language",
}


def answer_all(home: Path) -> dict[str, Any]:
    """Every corpus query and every declared-unsupported one on the local engine, as Athena prints them."""
    from tollcli.athena_values import athena_rows
    from tollcli.backends.local import LocalBackend
    from tollcli.config import Settings
    from tollcli.errors import TollError, UsageError

    backend = LocalBackend(Settings(home=home))
    answers: dict[str, Any] = {}
    for sql in [c.sql for c in CASES] + list(UNSUPPORTED):
        try:
            result = backend.query(sql)
            answers[sql] = {"columns": result.columns, "rows": [list(r) for r in athena_rows(result.rows)]}
        except (UsageError, TollError) as exc:
            answers[sql] = {"error": str(exc), "usage": isinstance(exc, UsageError)}
    return answers


if __name__ == "__main__":
    json.dump(answer_all(Path(sys.argv[1])), sys.stdout)
