"""The one duration and instant parser every option uses (tollcli.units)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from tollcli.errors import UsageError
from tollcli.questions import time_range
from tollcli.units import counted, format_duration, format_instant, instant_seconds, parse_duration, parse_instant


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


# Arabic-Indic, Persian, full-width and Thai 5, and the micro sign
@pytest.mark.parametrize("digit", ["\u0665", "\u06f5", "\uff15", "\u0e55", "\u00b5"])
def test_only_ascii_digits_make_a_duration_or_an_instant(digit: str) -> None:
    assert parse_duration("5m") == 300.0
    for text in (f"{digit}m", f"1{digit}s", f"{digit}", f"1h{digit}m", f"1.{digit}h"):
        with pytest.raises(UsageError, match="cannot read --duration"):
            parse_duration(text, option="--duration")
    for text in (f"202{digit}-11-28", f"2026-11-28T0{digit}:00", f"2026-11-28T08:00:0{digit}Z"):
        with pytest.raises(UsageError, match="cannot read --since"):
            parse_instant(text, option="--since")


def test_instants_are_iso_8601_and_utc_without_an_offset() -> None:
    utc = datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
    assert parse_instant("2026-11-28T08:00:00Z") == utc
    assert parse_instant("2026-11-28T08:00") == utc
    assert parse_instant("2026-11-28T09:00:00+01:00") == utc
    assert parse_instant("2026-11-28") == utc - timedelta(hours=8)
    with pytest.raises(UsageError, match="--since"):
        parse_instant("yesterday", option="--since")


def reference_seconds(text: str) -> float | None:
    """What Python's own ISO-8601 reader makes of `text` (Z or no offset is UTC), the reference."""
    value = text.strip()
    value = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def test_instant_seconds_reads_a_records_date_exactly_as_datetime_does() -> None:
    """The records' shape is read by position (its second once): the same float, to the last bit,
    as datetime's timestamp(), over dates from 1970 to 2099 (leap days too) and every millisecond."""
    rng = random.Random(19)
    texts = (
        [format_instant(rng.uniform(0, 4_102_444_800)) for _ in range(3000)]
        + [f"2024-02-29T23:59:59.{ms:03d}Z" for ms in range(1000)]
        + [f"2026-11-28T08:00:{s:02d}" for s in range(60)]
    )
    for text in texts:
        assert repr(instant_seconds(text)) == repr(reference_seconds(text)), text


def test_instant_seconds_refuses_what_datetime_refuses_even_in_the_records_shape() -> None:
    """Every one-character change of a record's date: a number exactly where datetime reads one, None elsewhere."""
    base = "2026-11-28T08:00:09.617Z"
    changed = {base[:i] + c + base[i + 1 :] for i in range(len(base)) for c in "0159 :-T.Z+zx\u00b9\u0661\uff11"}
    changed |= {"2026-02-30T08:00:00.000Z", "2026-11-28T24:00:00.000Z", "2026-11-28T08:00:00.000", " 2026-11-28T08:00:00.000Z"}
    for text in sorted(changed):
        assert repr(instant_seconds(text)) == repr(reference_seconds(text)), text
    assert instant_seconds("") is None and instant_seconds("yesterday") is None
    assert instant_seconds("2026-11-28T09:00:00+01:00") == instant_seconds("2026-11-28T08:00:00Z") == 1795852800.0


def test_window_names_have_milliseconds_only_when_they_need_them() -> None:
    assert format_instant(1_795_852_810.0, timespec="auto") == "2026-11-28T08:00:10Z"
    assert format_instant(1_795_852_810.25, timespec="auto") == "2026-11-28T08:00:10.250Z"
    assert format_instant(datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone(timedelta(hours=1))), timespec="auto") == (
        "2026-11-28T08:00:10Z"
    )
    assert format_instant(1_795_852_810.25) == "2026-11-28T08:00:10.250Z"  # the records' form by default


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
