"""KDG templates: the workshop's two templates, moment.js dates, helpers, and bad templates."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

from tollcli.errors import UsageError
from tollcli.generator import RecordFactory
from tollcli.kdg import (
    DateField,
    FakerField,
    NumberField,
    UniformChoice,
    WeightedChoice,
    clean_template,
    compile_moment,
    default_spec,
    format_second,
    parse_template,
    skewed_spec,
    workshop_spec,
)
from tollcli.paths import read_template

STATIONS = ("183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South")
AT = datetime(2026, 11, 28, 8, 44, 31, 123000, tzinfo=timezone.utc).timestamp()


def render(template: str, seed: int = 1, times: list[float] | None = None) -> list[str]:
    factory = RecordFactory(parse_template(template), seed=seed)
    chunk = factory.make_chunk(np.asarray(times or [AT]))
    return chunk.lines.decode().splitlines()


def test_workshop_templates_parse_with_their_weights() -> None:
    first, second = workshop_spec(), skewed_spec()
    for spec in (first, second):
        assert isinstance(spec.fields[0], DateField)
        assert spec.station_field is not None and spec.station_field.data == STATIONS
        plates = spec.fields[2]
        assert isinstance(plates, WeightedChoice) and len(plates.data) == 10
    assert first.station_field.weights == (0.1,) * 8 + (0.09, 0.01)
    assert second.station_field.weights == (0.02, 0.04, 0.05, 0.06, 0.02, 0.02, 0.02, 0.02, 0.02, 0.1)


def test_a_template_pasted_with_indentation_makes_the_same_records() -> None:
    text = read_template("kdg", "workshop.txt")
    indented = "\n".join("    " + line for line in text.splitlines())
    assert clean_template(indented) == clean_template(text)
    assert render(indented) == render(text)
    (line,) = render(text)
    _date, toll, user = line.split(",")
    assert toll in STATIONS and re.fullmatch(r"[A-Z0-9]{5,7}", user)


def test_date_now_is_iso_with_offset_and_date_utc_ends_in_z() -> None:
    (local,) = render("{{date.now}}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", local)
    assert render("{{date.utc}}") == ["2026-11-28T08:44:31Z"]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("YYYY-MM-DD HH:mm:ss.SSS", "2026-11-28 08:44:31.123"),
        ("DD/MM/YY h:mm a", "28/11/26 8:44 am"),
        ("dddd, MMMM Do YYYY", "Saturday, November 28th 2026"),
        ("x", "1795855471123"),
        ("X", "1795855471"),
        ("[at] HH[h]", "at 08h"),
        ("YYYY-MM-DDTHH:mm:ssZ", "2026-11-28T08:44:31+00:00"),
        ("S SS", "1 12"),
    ],
)
def test_moment_formats(fmt: str, expected: str) -> None:
    assert render(f'{{{{date.utc("{fmt}")}}}}') == [expected]


def test_format_second_renders_each_token_kind() -> None:
    moment = datetime(2026, 1, 5, 15, 4, 5, tzinfo=timezone.utc)
    (piece,) = compile_moment("ddd MMM D Qo kk ZZ")
    assert format_second(piece.tokens, moment) == "Mon Jan 5 1st 15 +0000"


def test_default_spec_keeps_the_workshop_weights_with_millisecond_utc_dates() -> None:
    spec = default_spec()
    assert spec.station_field == workshop_spec().station_field
    chunk = RecordFactory(spec, seed=5).make_chunk(np.asarray([AT]))
    assert re.fullmatch(rb"2026-11-28T08:44:31\.123Z,[^,]+,[^,]+\n", chunk.lines)


def test_random_helpers_and_faker_helpers() -> None:
    spec = parse_template(
        '{{random.number({"min": 5, "max": 7})}};{{random.number(3)}};{{random.arrayElement(["a", "b"])}};'
        '{{random.number({"min": 0, "max": 1, "precision": 0.25})}};{{name.firstName}};{{random.uuid}};{{internet.email}}'
    )
    assert isinstance(spec.fields[0], NumberField) and isinstance(spec.fields[2], UniformChoice)
    assert isinstance(spec.fields[4], FakerField) and spec.fields[4].method == "first_name"
    lines = RecordFactory(spec, seed=3).make_chunk(AT + np.arange(200) / 10).lines.decode().splitlines()
    assert len(lines) == 200
    for line in lines:
        low, top, letter, quarter, first, uid, email = line.split(";")
        assert 5 <= int(low) <= 7 and 0 <= int(top) <= 3 and letter in {"a", "b"}
        assert quarter in {"0.00", "0.25", "0.50", "0.75", "1.00"}
        assert first and re.fullmatch(r"[0-9a-f-]{36}", uid) and "@" in email


def test_values_never_break_a_record_across_lines() -> None:
    lines = render("{{address.address}}|x", times=[AT] * 20)
    assert len(lines) == 20 and all(line.endswith("|x") for line in lines)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{date.now", "never closed"),
        ("{{date.now}}}}", "closes no field"),
        ('{{random.weightedArrayElement({"weights": [1, -1], "data": ["a", "b"]})}}', "negative weight"),
        ('{{random.weightedArrayElement({"weights": [0, 0], "data": ["a", "b"]})}}', "all zero"),
        ('{{random.weightedArrayElement({"weights": [1], "data": ["a", "b"]})}}', "1 weights for 2 data"),
        ('{{random.weightedArrayElement({"weights": ["x", 1], "data": ["a", "b"]})}}', "must be a number"),
        ("{{hacker.phrase}}", "unsupported helper 'hacker.phrase'"),
        ('{{random.number({"min": 5, "max": 1})}}', "below min"),
        ("{{random.arrayElement([])}}", "non-empty list"),
        ("{{date.now(5)}}", "format string"),
        ("   \n  ", "empty"),
    ],
)
def test_bad_templates_are_usage_errors_naming_the_problem(template: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_template(template)
