"""The one way every option reads a duration or an instant.

Durations (`--duration`, `--last`, `--window`, `--lateness`): one or more `<number><unit>` parts,
spaces allowed, case ignored: `90s`, `5m`, `5min`, `5 minutes`, `15 min`, `1h30m`, `1.5h`, `2d`,
`250ms`. A bare number is seconds (`--duration 5` is five seconds): the help of every option that
takes a duration says so (`DURATION_HELP`).

Instants (`--start`, `--since`, `--until`): ISO-8601 as Python reads it (`2026-11-28`,
`2026-11-28T08:00`, `2026-11-28T08:00:00.5Z`, `...+01:00`); without an offset it is UTC.

And counts: `counted(1, "alert")` is "1 alert", never "1 alerts".

Bad text is a `UsageError` naming the option and showing a spelling that works (exit 2).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

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

_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*")
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


def parse_instant(text: str, *, option: str = "the time") -> datetime:
    """An ISO-8601 date or date-time as an aware UTC-or-offset datetime; without an offset it is UTC."""
    value = (text or "").strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"cannot read {option} {text!r}: use ISO-8601, e.g. 2026-11-28T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_instant(moment: datetime | float, *, timespec: str = "milliseconds") -> str:
    """A time as the records carry it: UTC ISO-8601 with a Z (`2026-11-28T08:00:00.000Z`); `moment`
    is a datetime or epoch seconds. The one formatter every module uses."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
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
