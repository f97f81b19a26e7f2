"""moment.js 2.17.1's `format()` language (the version the KDG's page loads), English locale.

`compile_moment` expands the localized tokens (`LT`, `LTS`, `L`..`LLLL`, `l`..`llll`) as moment's
`expandFormat` does, then splits the format with moment's own token regular expression
(`formattingTokens`), so brackets, backslashes and unknown letters behave as they do there.
The result is a list of pieces the generator renders column-wise: "second" pieces (tokens that
change at most once a second, rendered once per distinct second), "fraction" pieces (`S`..`SSSSSSSSS`)
and "epoch_ms" (`x`). A literal is kept as `[text]`; any other token names a `SECOND_TOKENS` entry.

Zones: `date.now` is moment's local mode, so `Z`/`ZZ` print the machine's offset at that instant
(half-hour zones and DST included); `z`/`zz` print nothing in local mode (moment 2.17 has no zone
names without moment-timezone) and `UTC` / `Coordinated Universal Time` in UTC mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# moment 2.17.1: `formattingTokens` and `localFormattingTokens`, verbatim.
FORMATTING_TOKENS = re.compile(
    r"(\[[^\[]*\])|(\\)?([Hh]mm(ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?|Qo?|YYYYYY|YYYYY|YYYY|YY|"
    r"gg(ggg?)?|GG(GGG?)?|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?|.)",
    re.S,
)
LOCAL_FORMATTING_TOKENS = re.compile(r"(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})")
# The English locale's long date formats (moment's `defaultLongDateFormat`); `l`.. are derived.
LONG_DATE_FORMATS = {
    "LTS": "h:mm:ss A",
    "LT": "h:mm A",
    "L": "MM/DD/YYYY",
    "LL": "MMMM D, YYYY",
    "LLL": "MMMM D, YYYY h:mm A",
    "LLLL": "dddd, MMMM D, YYYY h:mm A",
}
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# moment's default format, in local mode and in UTC mode.
DEFAULT_LOCAL = "YYYY-MM-DDTHH:mm:ssZ"
DEFAULT_UTC = "YYYY-MM-DDTHH:mm:ss[Z]"


def _long_date(token: str) -> str:
    if token in LONG_DATE_FORMATS:
        return LONG_DATE_FORMATS[token]
    # moment: the lowercase forms are the uppercase ones with months and weekdays shortened.
    upper = LONG_DATE_FORMATS[token.upper()]
    return re.sub(r"MMMM|MM|DD|dddd", lambda m: m.group(0)[1:], upper)


def expand_format(fmt: str) -> str:
    """moment's `expandFormat`: replace localized tokens, up to five rounds."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if match.group(1) or match.group(2):
            return whole
        return _long_date(match.group(3))

    for _ in range(5):
        if not LOCAL_FORMATTING_TOKENS.search(fmt):
            break
        expanded = LOCAL_FORMATTING_TOKENS.sub(replace, fmt)
        if expanded == fmt:
            break
        fmt = expanded
    return fmt


def ordinal(n: int) -> str:
    """The English locale's ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if (n % 100) // 10 == 1 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _offset(dt: datetime, sep: str) -> str:
    delta = dt.utcoffset()
    minutes = round(delta.total_seconds() / 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{sep}{minutes % 60:02d}"


def _weekday(dt: datetime | date) -> int:
    return (dt.weekday() + 1) % 7  # moment: Sunday is 0


def _hour12(dt: datetime) -> int:
    return dt.hour % 12 or 12


def _locale_week(dt: datetime) -> tuple[int, int]:
    """(week-year, week) in the English locale: weeks start on Sunday; week 1 holds 1 January."""
    day = dt.date() if isinstance(dt, datetime) else dt
    start = day - timedelta(days=_weekday(day))

    def first_week_start(year: int) -> date:
        jan1 = date(year, 1, 1)
        return jan1 - timedelta(days=_weekday(jan1))

    if start >= first_week_start(day.year + 1):
        return day.year + 1, 1
    return day.year, (start - first_week_start(day.year)).days // 7 + 1


def _year_y(year: int) -> str:
    return str(year) if year <= 9999 else f"+{year}"


def _signed(year: int, width: int) -> str:
    sign = "-" if year < 0 else "+"
    return f"{sign}{abs(year):0{width}d}"


SECOND_TOKENS: dict[str, Callable[[datetime], str]] = {
    "M": lambda d: str(d.month),
    "Mo": lambda d: ordinal(d.month),
    "MM": lambda d: f"{d.month:02d}",
    "MMM": lambda d: MONTHS[d.month - 1][:3],
    "MMMM": lambda d: MONTHS[d.month - 1],
    "Q": lambda d: str((d.month - 1) // 3 + 1),
    "Qo": lambda d: ordinal((d.month - 1) // 3 + 1),
    "D": lambda d: str(d.day),
    "Do": lambda d: ordinal(d.day),
    "DD": lambda d: f"{d.day:02d}",
    "DDD": lambda d: str(d.timetuple().tm_yday),
    "DDDo": lambda d: ordinal(d.timetuple().tm_yday),
    "DDDD": lambda d: f"{d.timetuple().tm_yday:03d}",
    "d": lambda d: str(_weekday(d)),
    "do": lambda d: ordinal(_weekday(d)),
    "dd": lambda d: WEEKDAYS[_weekday(d)][:2],
    "ddd": lambda d: WEEKDAYS[_weekday(d)][:3],
    "dddd": lambda d: WEEKDAYS[_weekday(d)],
    "e": lambda d: str(_weekday(d)),
    "E": lambda d: str(d.isoweekday()),
    "w": lambda d: str(_locale_week(d)[1]),
    "wo": lambda d: ordinal(_locale_week(d)[1]),
    "ww": lambda d: f"{_locale_week(d)[1]:02d}",
    "W": lambda d: str(d.isocalendar()[1]),
    "Wo": lambda d: ordinal(d.isocalendar()[1]),
    "WW": lambda d: f"{d.isocalendar()[1]:02d}",
    "Y": lambda d: _year_y(d.year),
    "YY": lambda d: f"{d.year % 100:02d}",
    "YYYY": lambda d: f"{d.year:04d}",
    "YYYYY": lambda d: f"{d.year:05d}",
    "YYYYYY": lambda d: _signed(d.year, 6),
    "gg": lambda d: f"{_locale_week(d)[0] % 100:02d}",
    "gggg": lambda d: f"{_locale_week(d)[0]:04d}",
    "ggggg": lambda d: f"{_locale_week(d)[0]:05d}",
    "GG": lambda d: f"{d.isocalendar()[0] % 100:02d}",
    "GGGG": lambda d: f"{d.isocalendar()[0]:04d}",
    "GGGGG": lambda d: f"{d.isocalendar()[0]:05d}",
    "a": lambda d: "am" if d.hour < 12 else "pm",
    "A": lambda d: "AM" if d.hour < 12 else "PM",
    "H": lambda d: str(d.hour),
    "HH": lambda d: f"{d.hour:02d}",
    "h": lambda d: str(_hour12(d)),
    "hh": lambda d: f"{_hour12(d):02d}",
    "k": lambda d: str(d.hour or 24),
    "kk": lambda d: f"{d.hour or 24:02d}",
    "hmm": lambda d: f"{_hour12(d)}{d.minute:02d}",
    "hmmss": lambda d: f"{_hour12(d)}{d.minute:02d}{d.second:02d}",
    "Hmm": lambda d: f"{d.hour}{d.minute:02d}",
    "Hmmss": lambda d: f"{d.hour}{d.minute:02d}{d.second:02d}",
    "m": lambda d: str(d.minute),
    "mm": lambda d: f"{d.minute:02d}",
    "s": lambda d: str(d.second),
    "ss": lambda d: f"{d.second:02d}",
    "X": lambda d: str(int(d.timestamp())),
    "Z": lambda d: _offset(d, ":"),
    "ZZ": lambda d: _offset(d, ""),
}


@dataclass(frozen=True)
class MomentPiece:
    """A run of a compiled format: `kind` is "second" (formatted once per second of event
    time), "fraction" (digits of the millisecond, `width` long) or "epoch_ms" (`x`)."""

    kind: str
    tokens: tuple[str, ...] = ()
    width: int = 0


def _literal(match: str) -> str:
    """moment's `removeFormattingTokens`: a bracketed text loses its brackets, else backslashes go."""
    if re.search(r"\[[\s\S]", match):
        return re.sub(r"^\[|\]$", "", match)
    return match.replace("\\", "")


# moment 2.17 without moment-timezone: no zone name in local mode; UTC mode names UTC.
ZONE_NAMES = {"z": ("", "UTC"), "zz": ("", "Coordinated Universal Time")}


def tokenize(fmt: str, *, utc: bool = False) -> list[str]:
    """Token names and `[literal]`s, as moment's `makeFormatFunction` splits a format."""
    out: list[str] = []
    for match in FORMATTING_TOKENS.finditer(expand_format(fmt)):
        whole = match.group(0)
        if whole in ZONE_NAMES:
            out.append(f"[{ZONE_NAMES[whole][utc]}]")
        elif whole in SECOND_TOKENS or re.fullmatch(r"S{1,9}|x", whole):
            out.append(whole)
        else:
            out.append(f"[{_literal(whole)}]")
    return out


def compile_moment(fmt: str, *, utc: bool = False) -> tuple[MomentPiece, ...]:
    """Split a moment.js format into pieces that can each be rendered column-wise."""
    pieces: list[MomentPiece] = []
    run: list[str] = []
    for token in tokenize(fmt, utc=utc):
        if token.startswith("S") or token == "x":
            if run:
                pieces.append(MomentPiece("second", tuple(run)))
            run = []
            pieces.append(MomentPiece("epoch_ms") if token == "x" else MomentPiece("fraction", width=len(token)))
        else:
            run.append(token)
    if run:
        pieces.append(MomentPiece("second", tuple(run)))
    return tuple(pieces)


def is_literal_token(token: str) -> bool:
    return token.startswith("[") and token.endswith("]") and len(token) >= 2


def format_second(tokens: tuple[str, ...], moment: datetime) -> str:
    """Render the second-level tokens (and literals) of a format for one instant."""
    return "".join(token[1:-1] if is_literal_token(token) else SECOND_TOKENS[token](moment) for token in tokens)


STRFTIME = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "MMMM": "%B", "dddd": "%A"}


def strftime_pattern(tokens: tuple[str, ...]) -> str | None:
    """The same rendering as a `strftime` pattern (much faster), or None when it has no equivalent."""
    out = []
    for token in tokens:
        if token in STRFTIME:
            out.append(STRFTIME[token])
        elif is_literal_token(token):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            return None
    return "".join(out)


def format_fraction(milliseconds: int, width: int) -> str:
    """`S`..`SSSSSSSSS`: moment truncates the millisecond to 1-2 digits or pads it with zeros."""
    digits = f"{milliseconds:03d}"
    return digits[:width] if width <= 3 else digits + "0" * (width - 3)


def format_instant(fmt: str, moment: datetime, *, utc: bool = False) -> str:
    """A whole format for one instant (tests and samples); the generator renders column-wise."""
    out = []
    for piece in compile_moment(fmt or (DEFAULT_UTC if utc else DEFAULT_LOCAL), utc=utc):
        if piece.kind == "second":
            out.append(format_second(piece.tokens, moment))
        elif piece.kind == "fraction":
            out.append(format_fraction(moment.microsecond // 1000, piece.width))
        else:
            out.append(str(int(moment.timestamp() * 1000)))
    return "".join(out)
