"""KDG templates: the workshop's two templates, moment.js dates, helpers, and bad templates."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tollcli.errors import UsageError
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
from tollcli.kdg.factory import RecordFactory
from tollcli.kdg.fakerjs import helper_names
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


def test_a_template_is_read_as_the_kdg_reads_it() -> None:
    # Only line feeds go (the spaces next to them stay), then trim(), which also drops a BOM.
    assert clean_template("\ufeff  {{name.firstName}} \nLast\r\n x \n") == "{{name.firstName}} Last x"
    assert render("First \nLast") == ["First Last"]
    assert render("\ufeffa,{{random.number(1)}}\r\n") in (["a,0"], ["a,1"])
    # The KDG rewrites the first {{current.timestamp}} to {{date.now}}.
    assert clean_template("{{current.timestamp}}|{{current.timestamp}}") == "{{date.now}}|{{current.timestamp}}"
    (stamp,) = render("{{current.timestamp}}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", stamp)


def test_indentation_inside_a_field_changes_nothing_but_outside_it_stays_as_in_the_kdg() -> None:
    text = read_template("kdg", "workshop.txt")
    inside = "\n".join(line if line.startswith("{{") else "    " + line for line in text.splitlines())
    assert render(inside) == render(text)
    everywhere = "\n".join("    " + line for line in text.splitlines())
    (line,) = render(everywhere)
    _date, toll, user = line.split(",")
    assert toll.startswith("    ") and toll.strip() in STATIONS and user.startswith("    ")
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
    assert isinstance(spec.fields[4], FakerField) and spec.fields[4].helper == "name.firstName"
    lines = RecordFactory(spec, seed=3).make_chunk(AT + np.arange(200) / 10).lines.decode().splitlines()
    assert len(lines) == 200
    for line in lines:
        low, top, letter, quarter, first, uid, email = line.split(";")
        assert 5 <= int(low) <= 7 and 0 <= int(top) <= 3 and letter in {"a", "b"}
        assert quarter in {"0", "0.25", "0.5", "0.75", "1"}  # faker.js prints JavaScript numbers
        assert first and re.fullmatch(r"[0-9a-f-]{36}", uid) and "@" in email


def test_values_never_break_a_record_across_lines() -> None:
    lines = render("{{lorem.lines(4)}}|{{lorem.paragraphs}}|x", times=[AT] * 20)
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
        ("{{hacker.phrasing}}", "unsupported helper 'hacker.phrasing'"),
        ("{{toll.station}}", "faker.js has no module 'toll'"),
        ("{{address.nearbyGPSCoordinate}}", "needs an object"),
        ("{{name.format}}", "'name.format' (faker.js's name module has no such method)"),
        ("{{address.parse}}", "'address.parse' (faker.js's address module has no such method)"),
        ('{{internet.password("x")}}', "internet.password needs a finite number"),
        ("{{date.now(5)}}", "format string"),
        ("   \n  ", "empty"),
    ],
)
def test_bad_templates_are_usage_errors_naming_the_problem(template: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_template(template)


def test_random_number_follows_faker_js_arithmetic_without_tracebacks() -> None:
    times = [AT] * 300
    # max below min, fractional min: faker.js's floor(rand * (max + 1 - min) + min), not an error.
    assert set(render('{{random.number({"min": 5, "max": 1})}}', times=times)) == {"2", "3", "4"}
    assert set(render('{{random.number({"min": 0.5, "max": 3})}}', times=times)) == {"0", "1", "2", "3"}
    huge = render('{{random.number({"max": 1e20})}}', times=times)
    assert all(re.fullmatch(r"\d{1,21}", v) for v in huge) and max(int(v) for v in huge) > 10**18
    assert set(render("{{random.number(NaN)}}|{{random.number(Infinity)}}", times=times)) == {"NaN|NaN"}
    assert set(render("{{random.arrayElement([])}}", times=times)) == {"undefined"}


@pytest.mark.parametrize(
    ("template", "pattern"),
    [
        ("{{finance.amount}}", r"\d{1,4}\.\d\d"),
        ("{{date.month}}", r"January|February|March|April|May|June|July|August|September|October|November|December"),
        ('{{date.month({"abbr": true})}}', r"[A-Z][a-z]{2}"),
        ("{{internet.password(20)}}", r"\w{20}"),
        ("{{lorem.sentence(3)}}", r"[A-Z][a-z]* [a-z]+ [a-z]+\."),
        ("{{random.alphaNumeric}}", r"[0-9a-z]"),
        ("{{internet.ip}}", r"(\d{1,3}\.){3}\d{1,3}"),
        ("{{random.boolean}}", r"true|false"),
        ("{{hacker.abbreviation}}", r"[A-Z]{2,4}"),
        ("{{name.title}}", r"\w+ \w+ \w+"),
        ("{{date.past}}", r"\w{3} \w{3} \d\d \d{4} \d\d:\d\d:\d\d GMT[+-]\d{4} \(.*\)"),
        ("{{date.simTime}}", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"),
        ('{{date.now("")}}', r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"),
    ],
)
def test_faker_js_helpers_have_faker_js_shapes(template: str, pattern: str) -> None:
    values = render(template, times=[AT] * 200)
    bad = [v for v in values if not re.fullmatch(pattern, v)]
    assert not bad, bad[:5]


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a test's rendering in a given local time zone (TZ + tzset), restored afterwards."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("name", "instant", "expected"),
    [
        # A half-hour zone east of UTC: the sign is +, the clock is ahead.
        ("Asia/Kolkata", "2026-11-28T20:44:31.123Z", "2026-11-29T02:14:31+05:30 Sunday 2:14 AM +0530"),
        # New York across the November DST change (06:00Z): -04:00 then -05:00, the clock behind.
        ("America/New_York", "2026-11-01T05:59:59.000Z", "2026-11-01T01:59:59-04:00 Sunday 1:59 AM -0400"),
        ("America/New_York", "2026-11-01T06:00:00.000Z", "2026-11-01T01:00:00-05:00 Sunday 1:00 AM -0500"),
        # Adelaide (+09:30 / +10:30) across its October change (16:30Z).
        ("Australia/Adelaide", "2026-10-03T16:29:59.000Z", "2026-10-04T01:59:59+09:30 Sunday 1:59 AM +0930"),
        ("Australia/Adelaide", "2026-10-03T16:30:00.000Z", "2026-10-04T03:00:00+10:30 Sunday 3:00 AM +1030"),
    ],
)
def test_date_now_prints_the_local_offset_with_the_right_sign(zone, name: str, instant: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    zone(name)
    at = datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp()
    (line,) = render('{{date.now}} {{date.simTime("dddd LT ZZ z")}}', times=[at])
    assert line == expected + " "  # `z` prints nothing in moment 2.17's local mode
    (utc,) = render('{{date.utc("YYYY-MM-DDTHH:mm:ssZ z")}}', times=[at])
    assert utc == instant[:19] + "+00:00 UTC"


def test_a_kolkata_machine_renders_dates_with_plus_five_thirty_through_the_cli(toll_process, home) -> None:  # type: ignore[no-untyped-def]
    assert toll_process("setup").returncode == 0
    result = toll_process(
        "generate", "--sample", "2", "--template", str(write_template(home, '{{date.now("Z LTS")}}|{{finance.amount}}')),
        env={"TZ": "Asia/Kolkata"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert re.fullmatch(r"\+05:30 \d{1,2}:\d\d:\d\d [AP]M\|\d{1,4}\.\d\d", line), line


def write_template(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home.parent / "template.txt"
    path.write_text(text)
    return path


HUGE = "1" + "0" * 400  # a JSON whole number past a double: JSON.parse makes it Infinity
ODD_ARGUMENTS = [
    "",
    "{}",
    "[]",
    '"x"',
    "-1",
    "0",
    "1e308",
    "null",
    "true",
    "NaN",
    '{"min": "a"}',
    "[1, [2]]",
    HUGE,
    f"[{HUGE}]",
    "[5]",
]


def test_no_helper_argument_makes_a_traceback() -> None:
    refused = 0
    for helper in [*helper_names(), "date.now", "date.utc", "date.simTime", "random.weightedArrayElement"]:
        for argument in ODD_ARGUMENTS:
            template = f"{{{{{helper}({argument})}}}}|" if argument else f"{{{{{helper}}}}}|"
            try:
                lines = render(template, times=[AT] * 3)
            except UsageError as error:
                assert helper in str(error), (template, error)  # a refusal names the helper
                refused += 1
                continue
            assert len(lines) == 3 and all(line.endswith("|") for line in lines), (template, lines)
    # Most odd arguments are rendered as faker.js renders them, not refused: 1e308 and HUGE are refused by
    # 15 helpers each (counts faker.js would loop on until the page hangs), the rest by 5 or fewer.
    assert refused < 100


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ('{"coordinate": 5}', "NaN,NaN"),  # a number has no [0]: undefined * (pi/180) is NaN, as in the KDG
        ('{"coordinate": []}', "NaN,NaN"),  # an empty array is truthy in JavaScript: it is used, and has no [0]
        ('{"coordinate": ["Infinity", 1]}', "NaN,NaN"),  # Math.sin(Infinity) is NaN (Python's raises)
        ('{"radius": "Infinity"}', "NaN,NaN"),  # Math.cos(Infinity / R) is NaN
    ],
)
def test_nearby_gps_gives_what_the_kdg_gives_for_what_it_cannot_read(argument: str, expected: str, tmp_path: Path, toll) -> None:  # type: ignore[no-untyped-def]
    """faker.js computes NaN and prints it; toll did the same where it could, and ended in a traceback
    on the rest. Through the real command: exit 0 and the KDG's text."""
    template = tmp_path / "gps.txt"
    template.write_text("{{address.nearbyGPSCoordinate(" + argument + ")}}")
    result = toll("generate", "--template", str(template), "--count", "3", "--output", "-", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [expected] * 3


def test_nearby_gps_prints_negative_zero_as_javascript_does() -> None:
    """`(-1e-14).toFixed(4)` is "-0.0000" in JavaScript, `(-0).toFixed(4)` is "0.0000"."""
    from tollcli.kdg.fakerjs import to_fixed

    assert (to_fixed(-1e-14, 4), to_fixed(-0.0, 4), to_fixed(float("nan"), 4)) == ("-0.0000", "0.0000", "NaN")


def test_a_date_beyond_pythons_years_prints_as_javascript_prints_it(tmp_path: Path, toll) -> None:  # type: ignore[no-untyped-def]
    """`date.recent(99999999)` reaches years before 1, which JavaScript's Date has and Python's datetime
    has not: the record is written (as `String(date)`), never a traceback."""
    template = tmp_path / "far.txt"
    template.write_text("{{date.recent(99999999)}}|{{date.future(99999)}}")
    result = toll("generate", "--template", str(template), "--count", "20", "--output", "-", "--seed", "1")
    assert result.exit_code == 0, result.output
    years = [int(part.split(" ")[3]) for line in result.stdout.splitlines() for part in line.split("|")]
    assert len(years) == 40 and min(years) < 0 and max(years) > 9999


def test_weights_past_the_largest_double_pick_as_the_kdg_picks_without_a_warning(toll_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The KDG's weightedArrayElement draws `Math.random() * Infinity` and takes the first value whose
    running sum (`draw <= sum`) reaches Infinity: "b" here. numpy's overflow warning stays off stderr."""
    template = tmp_path / "weights.txt"
    template.write_text('{{random.weightedArrayElement({"weights": [1e308, 1e308, 1e308], "data": ["a", "b", "c"]})}}')
    result = toll_process("generate", "--template", str(template), "--count", "5", "--output", "-", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["b"] * 5
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
