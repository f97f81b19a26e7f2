"""Property tests of the KDG template parser and the CSV record encoding, and a fuzz run of the
parser: whatever text it is given, it returns a spec or raises our own error, nothing else."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollcli.errors import TollError, UsageError
from tollcli.generator import GenerateOptions, sample_records
from tollcli.kdg import Literal, WeightedChoice, parse_template, workshop_spec
from tollcli.kdg.factory import RecordFactory

# date.now's own format (ISO seconds with an offset) in a template; the workshop's default spec writes ms and Z.
ANY_DATE_RECORD = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?(?:Z|[+-]\d\d:\d\d),([0-9A-Za-z]+),([0-9A-Za-z]+)")
RECORD = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,([0-9A-Za-z]+),([0-9A-Z]+)")
NAMES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
WEIGHTS = st.floats(min_value=0.001, max_value=1000, allow_nan=False, allow_infinity=False)


@st.composite
def weighted_fields(draw: st.DrawFn) -> tuple[list[str], list[float]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=12, unique=True))
    weights = draw(st.lists(WEIGHTS, min_size=len(names), max_size=len(names)))
    return names, weights


def weighted_template(names: list[str], weights: list[float], indent: int) -> str:
    body = json.dumps({"weights": weights, "data": names}, indent=indent or None)
    return "{{random.weightedArrayElement(" + body + ")}}"


@settings(max_examples=200, deadline=None)
@given(stations=weighted_fields(), users=weighted_fields(), indent=st.integers(0, 8))
def test_a_weighted_template_parses_to_its_own_data_and_weights(stations, users, indent) -> None:
    text = "{{date.now}},\n" + weighted_template(*stations, indent) + ",\n" + weighted_template(*users, indent)
    spec = parse_template(text)
    fields = spec.fields
    assert len(fields) == 3
    for field, (names, weights) in zip(fields[1:], (stations, users)):
        assert isinstance(field, WeightedChoice)
        assert list(field.data) == names
        assert [float(w) for w in field.weights] == [float(w) for w in weights]
    assert spec.station_field is fields[1]
    assert [p.text for p in spec.parts if isinstance(p, Literal)] == [",", ","]


@settings(max_examples=50, deadline=None)
@given(stations=weighted_fields(), users=weighted_fields(), count=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_generated_lines_are_one_record_each_and_parse_back(stations, users, count, seed) -> None:
    text = "{{date.now}}," + weighted_template(*stations, 0) + "," + weighted_template(*users, 0)
    factory = RecordFactory(parse_template(text), seed=seed)
    chunk = factory.make_chunk(1_764_316_800.0 + __import__("numpy").arange(count) * 0.01)
    assert chunk.count == count
    assert chunk.lines.endswith(b"\n")
    lines = chunk.lines.decode("utf-8").split("\n")[:-1]
    assert len(lines) == count
    for line in lines:
        match = ANY_DATE_RECORD.fullmatch(line)
        assert match, line
        assert match.group(1) in stations[0]
        assert match.group(2) in users[0]


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 500), seed=st.integers(0, 2**32 - 1))
def test_the_workshop_template_through_sample_records(count, seed) -> None:
    """The same path `toll generate --sample` takes: count lines, each date,toll,user, stations of the template."""
    output = sample_records(GenerateOptions(seed=seed), count).decode("utf-8")
    lines = output.split("\n")
    assert lines[-1] == ""
    stations = set(workshop_spec().station_field.data)
    assert len(lines) - 1 == count
    for line in lines[:-1]:
        match = RECORD.fullmatch(line)
        assert match and match.group(1) in stations, line
        assert len(line.split(",")) == 3


TEMPLATE_PIECES = [
    *"{}()[],:\"' .\n\t-0123456789",
    *("{{", "}}", "date.now", 'date.now("YYYY")', "random.weightedArrayElement(", "random.number(", "random.arrayElement("),
    *("name.firstName", "internet.ip", '"weights"', '"data"', '"min"', '"max"', "\\", "\x00", "é", "𝄞"),
]
TEMPLATE_ALPHABET = st.sampled_from(TEMPLATE_PIECES)
TEMPLATE_LIKE = st.lists(TEMPLATE_ALPHABET, max_size=40).map("".join)


def _parse_and_make(text: str) -> None:
    try:
        spec = parse_template(text)
    except (UsageError, TollError):
        return
    try:
        RecordFactory(spec, seed=1).make_chunk(__import__("numpy").array([1_764_316_800.0, 1_764_316_801.5]))
    except (UsageError, TollError):
        return


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), TEMPLATE_LIKE))
def test_fuzz_the_template_parser_raises_only_our_errors(text: str) -> None:
    _parse_and_make(text)
