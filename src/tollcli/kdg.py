"""Kinesis Data Generator (KDG) templates, parsed into a generator spec.

A KDG template is faker.js moustache text: literals with `{{helper(args)}}` fields. The KDG
strips the template's line breaks and appends `\\n` to each record; we do the same, and also drop
the indentation around each line break, so a template pasted from an indented list (as in the
workshop's page) does not put spaces into every field. `parse_template` returns a
`GeneratorSpec`: an immutable list of parts that `generator.RecordFactory` turns into records.

Supported: `date.now` / `date.utc` (optionally with a moment.js format),
`random.weightedArrayElement`, `random.arrayElement`, `random.number`, `random.uuid`,
`random.boolean`, and faker helpers that map onto Python Faker (`name.firstName`, ...).
Anything else is a `UsageError` naming the helper.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tollcli.errors import UsageError
from tollcli.paths import read_template, read_user_file

WORKSHOP_TEMPLATE = ("kdg", "workshop.txt")
SKEWED_TEMPLATE = ("kdg", "skewed.txt")
# Our default record date: UTC with milliseconds, e.g. 2026-11-28T08:44:31.123Z.
DEFAULT_DATE_FORMAT = "YYYY-MM-DDTHH:mm:ss.SSS[Z]"
# moment.js `format()` without arguments, in local mode and in UTC mode.
MOMENT_DEFAULT_LOCAL = "YYYY-MM-DDTHH:mm:ssZ"
MOMENT_DEFAULT_UTC = "YYYY-MM-DDTHH:mm:ss[Z]"


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class DateField:
    """`date.now` (local time with offset) or `date.utc`, formatted with moment.js tokens."""

    format: str
    utc: bool


@dataclass(frozen=True)
class WeightedChoice:
    data: tuple[str, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class UniformChoice:
    data: tuple[str, ...]


@dataclass(frozen=True)
class NumberField:
    """faker.js `random.number`: a whole multiple of `precision` in [minimum, maximum]."""

    minimum: float
    maximum: float
    precision: float = 1.0


@dataclass(frozen=True)
class FakerField:
    """A faker.js helper mapped onto a Python Faker method, called once per record."""

    helper: str
    method: str
    kwargs: tuple[tuple[str, Any], ...] = ()


Field = DateField | WeightedChoice | UniformChoice | NumberField | FakerField
Part = Literal | Field


@dataclass(frozen=True)
class GeneratorSpec:
    """What one record is made of, in order; `source` is the template text."""

    parts: tuple[Part, ...]
    source: str = ""

    @property
    def fields(self) -> list[Field]:
        return [p for p in self.parts if not isinstance(p, Literal)]

    @property
    def station_part_index(self) -> int | None:
        """Index in `parts` of the toll station: a weighted field in the record's second field."""
        fields = [i for i, p in enumerate(self.parts) if not isinstance(p, Literal)]
        if len(fields) >= 2 and isinstance(self.parts[fields[1]], WeightedChoice):
            return fields[1]
        return None

    @property
    def station_field(self) -> WeightedChoice | None:
        index = self.station_part_index
        return None if index is None else self.parts[index]  # type: ignore[return-value]

    def with_station_weights(self, weights: list[float] | tuple[float, ...]) -> GeneratorSpec:
        index = self.station_part_index
        if index is None:
            raise UsageError("this template has no weighted station field (the second field) to skew")
        field = self.parts[index]
        assert isinstance(field, WeightedChoice)
        parts = list(self.parts)
        parts[index] = WeightedChoice(data=field.data, weights=tuple(float(w) for w in weights))
        return replace(self, parts=tuple(parts))


# faker.js helper -> Python Faker method, where the snake_case name alone would be wrong.
FAKER_ALIASES = {
    "name.findName": "name",
    "name.jobTitle": "job",
    "internet.ip": "ipv4",
    "internet.mac": "mac_address",
    "internet.color": "hex_color",
    "internet.avatar": "image_url",
    "address.zipCode": "zipcode",
    "address.stateAbbr": "state_abbr",
    "address.streetAddress": "street_address",
    "address.secondaryAddress": "secondary_address",
    "company.companyName": "company",
    "company.companySuffix": "company_suffix",
    "phone.phoneNumber": "phone_number",
    "phone.phoneNumberFormat": "phone_number",
    "lorem.words": "words",
    "random.word": "word",
    "random.words": "words",
    "random.uuid": "uuid4",
    "random.boolean": "pybool",
    "random.locale": "locale",
    "vehicle.vrm": "license_plate",
    "finance.amount": "pricetag",
    "commerce.department": "word",
    "system.fileName": "file_name",
    "system.mimeType": "mime_type",
}
FAKER_NAMESPACES = {"name", "internet", "address", "company", "lorem", "phone", "random", "vehicle", "finance", "system", "date"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _faker_method(helper: str) -> str | None:
    from faker import Faker

    method = FAKER_ALIASES.get(helper)
    if method is None:
        namespace, _, name = helper.partition(".")
        if namespace not in FAKER_NAMESPACES or not name or "." in name:
            return None
        method = _snake(name)
    try:
        attribute = getattr(Faker(), method)
    except AttributeError:
        return None
    return method if callable(attribute) else None


# ---------------------------------------------------------------------------------------------
# Template scanning


def clean_template(text: str) -> str:
    """Strip line breaks (with the indentation around them), as the KDG strips newlines."""
    return re.sub(r"[ \t]*\r?\n[ \t]*", "", text).strip()


def _find_field_end(text: str, start: int) -> int:
    """Index just past the `}}` closing the field that opens at `start` (which holds `{{`)."""
    depth = 0
    quote: str | None = None
    i = start + 2
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([{":
            if depth == 0 and text.startswith("{{", i):
                raise UsageError(f"template: '{{{{' at character {i + 1} opens a field inside another field")
            depth += 1
        elif char in ")]}":
            if depth == 0 and text.startswith("}}", i):
                return i + 2
            if depth == 0:
                raise UsageError(f"template: unbalanced {char!r} at character {i + 1}")
            depth -= 1
        i += 1
    raise UsageError(f"template: the field opened at character {start + 1} is never closed with '}}}}'")


def _parse_args(helper: str, raw: str) -> list[Any]:
    raw = raw.strip()
    if not raw:
        return []
    try:
        return list(json.loads(f"[{raw}]"))
    except ValueError:
        pass
    try:
        value = ast.literal_eval(f"({raw},)")
        return list(value)
    except (ValueError, SyntaxError):
        raise UsageError(f"template: cannot read the arguments of {helper}: {raw[:60]}") from None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _number(helper: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"template: {helper} {what} must be a number, not {value!r}")
    return float(value)


def _weighted(helper: str, args: list[Any]) -> WeightedChoice:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise UsageError(f'template: {helper} takes one object {{"weights": [...], "data": [...]}}')
    weights, data = args[0].get("weights"), args[0].get("data")
    if not isinstance(weights, list) or not isinstance(data, list) or not data:
        raise UsageError(f'template: {helper} needs a "weights" list and a non-empty "data" list')
    if len(weights) != len(data):
        raise UsageError(f"template: {helper} has {len(weights)} weights for {len(data)} data values")
    numbers = [_number(helper, w, "weight") for w in weights]
    if any(w < 0 for w in numbers):
        raise UsageError(f"template: {helper} has a negative weight ({min(numbers)})")
    if sum(numbers) <= 0:
        raise UsageError(f"template: {helper} weights are all zero")
    return WeightedChoice(data=tuple(_as_text(d) for d in data), weights=tuple(numbers))


def _random_number(helper: str, args: list[Any]) -> NumberField:
    minimum, maximum, precision = 0.0, 99999.0, 1.0  # faker.js defaults
    if len(args) == 1 and isinstance(args[0], dict):
        options = args[0]
        minimum = _number(helper, options.get("min", minimum), "min")
        maximum = _number(helper, options.get("max", maximum), "max")
        precision = _number(helper, options.get("precision", precision), "precision")
    elif len(args) == 1:
        maximum = _number(helper, args[0], "max")
    elif len(args) == 2:
        minimum, maximum = (_number(helper, a, "bound") for a in args)
    elif args:
        raise UsageError(f"template: {helper} takes a maximum or an object with min, max and precision")
    if maximum < minimum:
        raise UsageError(f"template: {helper} max {maximum:g} is below min {minimum:g}")
    if precision <= 0:
        raise UsageError(f"template: {helper} precision must be above 0")
    return NumberField(minimum=minimum, maximum=maximum, precision=precision)


def _parse_field(expression: str) -> Field:
    match = re.fullmatch(r"\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*(?:\((.*)\))?\s*", expression, re.S)
    if match is None:
        raise UsageError(f"template: cannot read the field {{{{{expression.strip()[:60]}}}}}")
    helper, raw_args = match.group(1), match.group(2)
    args = _parse_args(helper, raw_args or "")
    if helper in {"date.now", "date.utc"}:
        utc = helper == "date.utc"
        if args and not isinstance(args[0], str):
            raise UsageError(f"template: {helper} takes a moment.js format string")
        fmt = args[0] if args else (MOMENT_DEFAULT_UTC if utc else MOMENT_DEFAULT_LOCAL)
        compile_moment(fmt)  # fail early on a format we cannot render
        return DateField(format=fmt, utc=utc)
    if helper == "random.weightedArrayElement":
        return _weighted(helper, args)
    if helper == "random.arrayElement":
        if len(args) != 1 or not isinstance(args[0], list) or not args[0]:
            raise UsageError(f"template: {helper} takes one non-empty list")
        return UniformChoice(data=tuple(_as_text(d) for d in args[0]))
    if helper == "random.number":
        return _random_number(helper, args)
    method = _faker_method(helper)
    if method is None:
        raise UsageError(
            f"template: unsupported helper {helper!r} (supported: date.now, date.utc, random.weightedArrayElement, "
            "random.arrayElement, random.number, and faker helpers such as name.firstName)"
        )
    kwargs: tuple[tuple[str, Any], ...] = ()
    if method == "words" and args and isinstance(args[0], int):
        kwargs = (("nb", args[0]),)
    return FakerField(helper=helper, method=method, kwargs=kwargs)


def parse_template(text: str) -> GeneratorSpec:
    """A KDG template's text as a spec; bad templates raise `UsageError` naming the problem."""
    cleaned = clean_template(text)
    if not cleaned:
        raise UsageError("template is empty")
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(cleaned):
        if cleaned.startswith("{{", i):
            end = _find_field_end(cleaned, i)
            if literal:
                parts.append(Literal("".join(literal)))
                literal = []
            parts.append(_parse_field(cleaned[i + 2 : end - 2]))
            i = end
            continue
        if cleaned.startswith("}}", i):
            raise UsageError(f"template: '}}}}' at character {i + 1} closes no field")
        literal.append(cleaned[i])
        i += 1
    if literal:
        parts.append(Literal("".join(literal)))
    return GeneratorSpec(parts=tuple(parts), source=text)


def load_template(path: Path) -> GeneratorSpec:
    return parse_template(read_user_file(path, "template"))


def workshop_spec() -> GeneratorSpec:
    """The workshop's template, exactly as the KDG would run it."""
    return parse_template(read_template(*WORKSHOP_TEMPLATE))


def skewed_spec() -> GeneratorSpec:
    """The workshop's second template (traffic diverted to 35South)."""
    return parse_template(read_template(*SKEWED_TEMPLATE))


def default_spec() -> GeneratorSpec:
    """The workshop's stations, plates and weights, with dates in UTC to the millisecond."""
    spec = workshop_spec()
    parts = tuple(DateField(format=DEFAULT_DATE_FORMAT, utc=True) if isinstance(p, DateField) else p for p in spec.parts)
    return replace(spec, parts=parts)


# ---------------------------------------------------------------------------------------------
# moment.js formats

MOMENT_TOKEN = re.compile(
    r"\[[^\[\]]*\]|\\.|Mo|MMMM|MMM|MM|M|Do|DDDo|DDDD|DDD|DD|D|do|dddd|ddd|dd|d|wo|ww|w|Wo|WW|W|Qo|Q|"
    r"YYYYYY|YYYY|YY|Y|gggg|gg|GGGG|GG|e|E|a|A|hh|h|HH|H|kk|k|mm|m|ss|s|S{1,9}|x|X|zz|z|ZZ|Z|.",
    re.S,
)
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


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _offset(dt: datetime, sep: str) -> str:
    delta = dt.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{sep}{minutes % 60:02d}"


def _weekday(dt: datetime) -> int:
    return (dt.weekday() + 1) % 7  # moment: Sunday is 0


def _hour12(dt: datetime) -> int:
    return dt.hour % 12 or 12


SECOND_TOKENS: dict[str, Callable[[datetime], str]] = {
    "M": lambda d: str(d.month),
    "Mo": lambda d: _ordinal(d.month),
    "MM": lambda d: f"{d.month:02d}",
    "MMM": lambda d: MONTHS[d.month - 1][:3],
    "MMMM": lambda d: MONTHS[d.month - 1],
    "Q": lambda d: str((d.month - 1) // 3 + 1),
    "Qo": lambda d: _ordinal((d.month - 1) // 3 + 1),
    "D": lambda d: str(d.day),
    "Do": lambda d: _ordinal(d.day),
    "DD": lambda d: f"{d.day:02d}",
    "DDD": lambda d: str(d.timetuple().tm_yday),
    "DDDo": lambda d: _ordinal(d.timetuple().tm_yday),
    "DDDD": lambda d: f"{d.timetuple().tm_yday:03d}",
    "d": lambda d: str(_weekday(d)),
    "do": lambda d: _ordinal(_weekday(d)),
    "dd": lambda d: WEEKDAYS[_weekday(d)][:2],
    "ddd": lambda d: WEEKDAYS[_weekday(d)][:3],
    "dddd": lambda d: WEEKDAYS[_weekday(d)],
    "e": lambda d: str(_weekday(d)),
    "E": lambda d: str(d.isoweekday()),
    "w": lambda d: str(int(d.strftime("%U")) + 1),
    "wo": lambda d: _ordinal(int(d.strftime("%U")) + 1),
    "ww": lambda d: f"{int(d.strftime('%U')) + 1:02d}",
    "W": lambda d: str(d.isocalendar()[1]),
    "Wo": lambda d: _ordinal(d.isocalendar()[1]),
    "WW": lambda d: f"{d.isocalendar()[1]:02d}",
    "Y": lambda d: str(d.year),
    "YY": lambda d: f"{d.year % 100:02d}",
    "YYYY": lambda d: f"{d.year:04d}",
    "YYYYYY": lambda d: f"+{d.year:06d}",
    "gg": lambda d: f"{d.year % 100:02d}",
    "gggg": lambda d: f"{d.year:04d}",
    "GG": lambda d: f"{d.isocalendar()[0] % 100:02d}",
    "GGGG": lambda d: f"{d.isocalendar()[0]:04d}",
    "a": lambda d: "am" if d.hour < 12 else "pm",
    "A": lambda d: "AM" if d.hour < 12 else "PM",
    "H": lambda d: str(d.hour),
    "HH": lambda d: f"{d.hour:02d}",
    "h": lambda d: str(_hour12(d)),
    "hh": lambda d: f"{_hour12(d):02d}",
    "k": lambda d: str(d.hour or 24),
    "kk": lambda d: f"{d.hour or 24:02d}",
    "m": lambda d: str(d.minute),
    "mm": lambda d: f"{d.minute:02d}",
    "s": lambda d: str(d.second),
    "ss": lambda d: f"{d.second:02d}",
    "X": lambda d: str(int(d.timestamp())),
    "z": lambda d: d.tzname() or "",
    "zz": lambda d: d.tzname() or "",
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


def compile_moment(fmt: str) -> tuple[MomentPiece, ...]:
    """Split a moment.js format into pieces that can each be rendered column-wise."""
    pieces: list[MomentPiece] = []
    run: list[str] = []
    for token in MOMENT_TOKEN.findall(fmt):
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


def format_second(tokens: tuple[str, ...], moment: datetime) -> str:
    """Render the second-level tokens (and literals) of a format for one instant."""
    out = []
    for token in tokens:
        if token.startswith("[") and token.endswith("]") and len(token) >= 2:
            out.append(token[1:-1])
        elif token.startswith("\\") and len(token) == 2:
            out.append(token[1])
        else:
            render = SECOND_TOKENS.get(token)
            out.append(render(moment) if render else token)
    return "".join(out)


def is_literal_token(token: str) -> bool:
    """A token that renders as itself: `[text]`, an escaped character, or a non-token character."""
    if token.startswith("[") and token.endswith("]") and len(token) >= 2:
        return True
    if token.startswith("\\") and len(token) == 2:
        return True
    return token not in SECOND_TOKENS


STRFTIME = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "MMMM": "%B", "dddd": "%A"}


def strftime_pattern(tokens: tuple[str, ...]) -> str | None:
    """The same rendering as a `strftime` pattern (much faster), or None when it has no equivalent."""
    out = []
    for token in tokens:
        if token in STRFTIME:
            out.append(STRFTIME[token])
        elif is_literal_token(token):
            out.append(format_second((token,), datetime(2000, 1, 1)).replace("%", "%%"))
        else:
            return None
    return "".join(out)


def format_fraction(milliseconds: int, width: int) -> str:
    digits = f"{milliseconds:03d}"
    return digits[:width] if width <= 3 else digits + "0" * (width - 3)
