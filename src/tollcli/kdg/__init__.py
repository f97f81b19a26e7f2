"""Kinesis Data Generator (KDG) templates, parsed into a generator spec.

A KDG template is faker.js moustache text: literals with `{{module.method(argument)}}` fields.
Reading follows the KDG's page (`getCleanedTemplate` then `faker.fake`): a leading BOM and the
surrounding whitespace go (JavaScript's `trim()`), line feeds are removed (only them: the spaces
next to a line break stay), the first `{{current.timestamp}}` becomes `{{date.now}}`, and each record
is one line. A field's argument is one value: `JSON.parse` of the text between the parentheses, or
that text as a string. `parse_template` returns a `GeneratorSpec`: an immutable list of parts that
`factory.RecordFactory` turns into records column-wise.

Fields: `date.now` / `date.utc` / `date.simTime` (moment.js 2.17 formats, `kdg.moment`; event time),
`random.weightedArrayElement` (the KDG's), `random.arrayElement` and `random.number` (drawn as codes
into tables), and every other faker.js 3.1 helper (`kdg.fakerjs`, drawn in bulk). Anything else is a
`UsageError` naming the helper.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tollcli.errors import UsageError
from tollcli.kdg.fakerjs import Draw, JsValue, compile_helper, js_string, parse_argument
from tollcli.kdg.moment import (
    DEFAULT_LOCAL,
    DEFAULT_UTC,
    MomentPiece,
    compile_moment,
    format_fraction,
    format_second,
    is_literal_token,
    strftime_pattern,
)
from tollcli.paths import read_template, read_user_file

__all__ = [
    "MomentPiece",
    "compile_moment",
    "format_fraction",
    "format_second",
    "is_literal_token",
    "strftime_pattern",
]

WORKSHOP_TEMPLATE = ("kdg", "workshop.txt")
SKEWED_TEMPLATE = ("kdg", "skewed.txt")
# Our default record date: UTC with milliseconds, e.g. 2026-11-28T08:44:31.123Z.
DEFAULT_DATE_FORMAT = "YYYY-MM-DDTHH:mm:ss.SSS[Z]"
# moment.js `format()` without arguments, in local mode and in UTC mode.
MOMENT_DEFAULT_LOCAL = DEFAULT_LOCAL
MOMENT_DEFAULT_UTC = DEFAULT_UTC
# JavaScript's `String.prototype.trim()` whitespace (it includes the BOM, U+FEFF).
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class DateField:
    """`date.now` and `date.simTime` (local time with offset) or `date.utc`, in a moment.js format."""

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
    """Any other faker.js helper, with its argument as written (`argument` is the text between the
    parentheses; `kdg.fakerjs` reads it as faker.fake does and draws the values in bulk)."""

    helper: str
    argument: str = ""

    def draw(self) -> Draw:
        return compile_helper(self.helper, _argument(self.argument))


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
        part = None if index is None else self.parts[index]
        return part if isinstance(part, WeightedChoice) else None  # (station_part_index found one)

    def with_station_weights(self, weights: list[float] | tuple[float, ...]) -> GeneratorSpec:
        index = self.station_part_index
        if index is None:
            raise UsageError("this template has no weighted station field (the second field) to skew")
        field = self.parts[index]
        assert isinstance(field, WeightedChoice)
        parts = list(self.parts)
        parts[index] = WeightedChoice(data=field.data, weights=tuple(float(w) for w in weights))
        return replace(self, parts=tuple(parts))


# ---------------------------------------------------------------------------------------------
# Template scanning


def clean_template(text: str) -> str:
    """The KDG's `getCleanedTemplate`: `trim()` (which also drops a BOM), remove the line feeds
    (a browser's text box has only LF: CR LF and CR count as one), and rewrite the first
    `{{current.timestamp}}` to `{{date.now}}`."""
    text = text.lstrip("\ufeff").strip(JS_WHITESPACE)
    text = text.replace("\r\n", "").replace("\r", "").replace("\n", "")
    return text.replace("{{current.timestamp}}", "{{date.now}}", 1)


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


def _argument(raw: str) -> JsValue:
    """faker.fake's argument: JSON, else the text itself; an empty string means none."""
    value = parse_argument(raw.strip())
    return None if value == "" else value


def _as_text(value: JsValue) -> str:
    """A data value as the KDG prints it (JavaScript's `String()`); null prints as `null` there."""
    return "null" if value is None else js_string(value)


def _number(helper: str, value: JsValue, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"template: {helper} {what} must be a number, not {value!r}")
    return float(value)


def _weighted(helper: str, args: list[JsValue]) -> WeightedChoice:
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


def _random_number(raw: str, args: JsValue) -> NumberField | FakerField:
    """`random.number`: a table of codes when the range is plain (integer multiples of `precision`,
    max >= min >= ..., max >= 0, under 2**31 steps), else faker.js's own arithmetic per record
    (fractional min, negative max, huge max, NaN, Infinity, text arguments)."""
    options = {"max": args} if isinstance(args, (int, float)) and not isinstance(args, bool) else args
    if options is None:
        options = {}
    if isinstance(options, dict):
        values = [options.get("min", 0), options.get("max", 99999), options.get("precision", 1)]
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if len(numbers) == 3:
            minimum, maximum, precision = numbers
            if precision > 0 and maximum >= 0 and maximum >= minimum:
                low, high = minimum / precision, maximum / precision
                if low.is_integer() and high.is_integer() and high - low < 2**31:
                    return NumberField(minimum=minimum, maximum=maximum, precision=precision)
    return FakerField(helper="random.number", argument=raw)


DATE_HELPERS = {"date.now": False, "date.utc": True, "date.simTime": False}


def _parse_field(expression: str) -> Field:
    match = re.fullmatch(r"\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*(?:\((.*)\))?\s*", expression, re.S)
    if match is None:
        raise UsageError(f"template: cannot read the field {{{{{expression.strip()[:60]}}}}}")
    helper, raw = match.group(1), (match.group(2) or "").strip()
    args = _argument(raw)
    if helper in DATE_HELPERS:
        utc = DATE_HELPERS[helper]
        if args is not None and not isinstance(args, str):
            raise UsageError(f"template: {helper} takes a moment.js format string")
        fmt = args or (MOMENT_DEFAULT_UTC if utc else MOMENT_DEFAULT_LOCAL)
        return DateField(format=fmt, utc=utc)
    if helper == "random.weightedArrayElement":  # the KDG's default when called without an argument
        return _weighted(helper, [args if args is not None else {"weights": [0.5, 0.5], "data": ["dog", "cat"]}])
    if helper == "random.arrayElement" and isinstance(args, list) and args:
        return UniformChoice(data=tuple(_as_text(d) for d in args))
    if helper == "random.number":
        return _random_number(raw, args)
    field = FakerField(helper=helper, argument=raw)
    try:  # an unknown helper, a missing argument or an impossible one fails here, before any record
        field.draw().values(random.Random(0), 1, np.zeros(1))
    except UsageError as error:
        if helper in str(error):
            raise
        raise UsageError(f"template: {helper}({raw[:60]}): {error}") from None
    return field


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
