"""The one way every option reads a duration or an instant.

Durations (`--duration`, `--last`, `--window`, `--lateness`): one or more `<number><unit>` parts,
spaces allowed, case ignored: `90s`, `5m`, `5min`, `5 minutes`, `15 min`, `1h30m`, `1.5h`, `2d`,
`250ms`. A bare number is seconds (`--duration 5` is five seconds): the help of every option that
takes a duration says so (`DURATION_HELP`).

Instants (`--start`, `--since`, `--until`): ISO-8601 as Python reads it (`2026-11-28`,
`2026-11-28T08:00`, `2026-11-28T08:00:00.5Z`, `...+01:00`); without an offset it is UTC. An
option's text goes through `parse_instant` (bad text is a UsageError); a time read from data
(a record's date, a window's start, a bucket of the dashboard) through `instant_seconds`, which
reads the same texts and answers None for any other, so the caller decides what an unreadable
time means. Every time we write goes through `format_instant` (`2026-11-28T08:00:00.000Z`).

And counts: `counted(1, "alert")` is "1 alert", never "1 alerts".

Bad text is a `UsageError` naming the option and showing a spelling that works (exit 2).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from functools import lru_cache

from tollcli.errors import UsageError

UNIT_SECONDS: dict[str, float] = {}
for _names, _seconds in (
    (("ms", "msec", "msecs", "millisecond", "milliseconds"), 0.001),
    (("s", "sec", "secs", "second", "seconds"), 1.0),
    (("m", "min", "mins", "minute", "minutes"), 60.0),
    (("h", "hr", "hrs", "hour", "hours"), 3600.0),
    (("d", "day", "days"), 86400.0),
):
    for _name in _names:
        UNIT_SECONDS[_name] = _seconds

# re.ASCII: \d is 0-9 only (Arabic-Indic or full-width digits are no duration), as fromisoformat reads instants
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.ASCII)
DURATION_EXAMPLES = "e.g. 90s, 5m, 5min, 5 minutes, 1h30m"
DURATION_HELP = "90s, 5m, 5 minutes, 1h30m; a bare number is seconds"


def parse_duration(text: str, *, option: str = "the duration", allow_zero: bool = False) -> float:
    """Seconds in `text` (see the module docstring); a UsageError for anything else."""
    value = (text or "").strip().lower()
    total, at, parts = 0.0, 0, 0
    while at < len(value):
        match = _PART.match(value, at)
        if match is None or match.end() == at:
            break
        unit = match.group(2)
        if unit and unit not in UNIT_SECONDS:
            break
        if not unit and (parts or match.end() != len(value)):
            break  # only a lone number may leave out its unit ("1h30" is ambiguous)
        total += float(match.group(1)) * UNIT_SECONDS.get(unit, 1.0)
        at, parts = match.end(), parts + 1
    if not parts or at != len(value) or not math.isfinite(total):
        raise UsageError(f"cannot read {option}: the duration {text!r}; use {DURATION_EXAMPLES} (a bare number is seconds)")
    if total < 0 or (total == 0 and not allow_zero):
        raise UsageError(f"{option} {text!r} must be more than zero")
    return total


def _read_instant(text: str) -> datetime | None:
    """`text` as an aware datetime (ISO-8601; a Z or no offset is UTC), or None if it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"  # Python 3.10's fromisoformat does not read a Z
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_instant(text: str, *, option: str = "the time") -> datetime:
    """An ISO-8601 date or date-time as an aware UTC-or-offset datetime; without an offset it is UTC."""
    moment = _read_instant(text or "")
    if moment is None:
        raise UsageError(f"cannot read {option} {text!r}: use ISO-8601, e.g. 2026-11-28T08:00:00Z")
    return moment


_RECORD_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", re.ASCII)


@lru_cache(maxsize=1024)
def _second_start(second: str) -> int | None:
    """Epoch seconds of `YYYY-MM-DDTHH:MM:SS` (UTC); None for any other text, even one ISO-8601 reads."""
    moment = _read_instant(second) if _RECORD_SECOND.fullmatch(second) else None
    return None if moment is None else int(moment.timestamp())


def instant_seconds(text: str) -> float | None:
    """Epoch seconds of the instant in `text` as `parse_instant` reads it, or None if it is not one:
    for times read from data, whose caller decides what an unreadable one means.

    Replaying a bucket reads every record's date, and nearly every one is distinct (milliseconds);
    the records' own shape, `2026-11-28T08:00:00.123Z`, is read by position: its second parsed once
    per second (100 records share it), plus the milliseconds. The float is the one datetime's
    `timestamp()` gives (both are one correctly rounded division of the same whole number of
    milliseconds): ~15% less per record (bench/bench_instants.py). A naive whole second
    (`2026-11-28T08:00:10`, a dashboard bucket, 10 stations each) is read once per second too."""
    if len(text) == 24 and text[19] == "." and text[23] == "Z":
        millis = text[20:23]
        start = _second_start(text[:19])
        if start is not None and millis.isdigit() and millis.isascii():
            return (start * 1000 + int(millis)) / 1000
    elif len(text) == 19 and (start := _second_start(text)) is not None:  # a whole second (the dashboard's buckets)
        return float(start)
    moment = _read_instant(text)
    return None if moment is None else moment.timestamp()


def format_instant(moment: datetime | float, *, timespec: str = "milliseconds") -> str:
    """A time as the records carry it: UTC ISO-8601 with a Z (`2026-11-28T08:00:00.000Z`); `moment`
    is a datetime or epoch seconds. The one formatter every module uses. `timespec` is isoformat's
    (`"seconds"`: `2026-11-28T08:00:10Z`), or `"auto"`: seconds for a whole second, else
    milliseconds (`...08:00:10Z`, `...08:00:10.250Z`), as windows are named."""
    if not isinstance(moment, datetime):
        if timespec == "auto":
            timespec = "seconds" if float(moment).is_integer() else "milliseconds"
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif timespec == "auto":
        timespec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def format_duration(seconds: float) -> str:
    """A short human form: `45 s`, `5 min`, `1 h 30 min`."""
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs:
        parts.append(f"{secs} s")
    return " ".join(parts)


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`noun` as `count` of it needs: plural(1, "record") is "record", plural(2, "record") "records"."""
    return noun if count == 1 else (plural_form or noun + "s")


def counted(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 record`, `1,459 records`."""
    return f"{count:,} {plural(count, noun, plural_form)}"
