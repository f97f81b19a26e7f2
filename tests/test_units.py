"""The one duration and instant parser every option uses (tollcli.units)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tollcli.errors import UsageError
from tollcli.questions import time_range
from tollcli.units import counted, format_duration, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("90", 90),
        ("2.5", 2.5),
        ("5m", 300),
        ("5min", 300),
        ("5 min", 300),
        ("15 min", 900),
        ("5 minutes", 300),
        ("1 minute", 60),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1 hour 30 minutes", 5400),
        ("1.5h", 5400),
        ("2h", 7200),
        ("1d", 86400),
        ("2 days", 172800),
        ("250ms", 0.25),
        ("10 SEC", 10),
        ("  5M ", 300),
    ],
)
def test_durations_in_the_usual_spellings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", " ", "5x", "m", "0s", "0", "-1s", "-5m", "1h 2q", "1h30", "5 5m", "five minutes", "1e3s"])
def test_bad_durations_name_the_option_and_a_spelling_that_works(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration(text, option="--duration")
    assert "--duration" in caught.value.message


def test_instants_are_iso_8601_and_utc_without_an_offset() -> None:
    utc = datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
    assert parse_instant("2026-11-28T08:00:00Z") == utc
    assert parse_instant("2026-11-28T08:00") == utc
    assert parse_instant("2026-11-28T09:00:00+01:00") == utc
    assert parse_instant("2026-11-28") == utc - timedelta(hours=8)
    with pytest.raises(UsageError, match="--since"):
        parse_instant("yesterday", option="--since")


def test_query_ranges_use_the_same_parsers() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    assert time_range(last="15 minutes", now=now) == (now - timedelta(minutes=15), now)
    assert time_range(last="1h30m", now=now) == (now - timedelta(minutes=90), now)
    with pytest.raises(UsageError, match="--last"):
        time_range(last="15x", now=now)


def test_counts_and_durations_read_as_english() -> None:
    assert counted(1, "alert") == "1 alert"
    assert counted(2, "alert") == "2 alerts"
    assert counted(0, "record") == "0 records"
    assert counted(1_459, "record") == "1,459 records"
    assert format_duration(45) == "45 s"
    assert format_duration(600) == "10 min"
    assert format_duration(5400) == "1 h 30 min"
