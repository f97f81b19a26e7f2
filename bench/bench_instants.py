"""Benchmark: reading times from data through `tollcli.units` (issue 19), against the helpers it replaced.

    /work/venv/bin/python bench/bench_instants.py [--records 300000] [--repeat 5]

Two hot readers, each timed in one run against its previous implementation (kept below as the
baseline, verbatim but for its name), alternating, best of `--repeat`:
- the replay's per-record parsing: `anomaly_feed.EventTimeParser` (the bucket's dates, each
  distinct to the millisecond, 100 records a second) over `--records` dates of a real backfill's
  shape, the baseline being `parse_event_time` before it read through `units.instant_seconds`;
- the dashboard's buckets: `dashboard.parse_time` over the 10-second, minute and hour prefixes of
  `substr("date", 1, N)`, one row per station (10), the baseline its own ISO parsing before.
Both must give the same floats (to the bit) as their baseline on every input, and a lowercase `z`
aside (now read as UTC, as Athena's `from_iso8601_timestamp` reads it) the same None: checked first.
Prints ns per item and the ratio new / baseline (below 1: faster).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from tollcli.backends.local.anomaly_feed import EventTimeParser
from tollcli.dashboard import parse_time
from tollcli.units import format_instant

START = 1_795_852_800.0  # 2026-11-28T08:00:00Z


def baseline_event_time(text: str) -> float | None:
    """`anomaly_feed.parse_event_time` before issue 19."""
    value = text.strip()
    if not value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            return float(value)  # epoch seconds
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class BaselineEventTimeParser:
    """`anomaly_feed.EventTimeParser` as it was (its cache unchanged), over the baseline parser."""

    def __init__(self) -> None:
        self.cache: dict[bytes, float | None] = {}

    def __call__(self, date: bytes) -> float | None:
        if date not in self.cache:
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[date] = baseline_event_time(date.decode("utf-8", "replace"))
        return self.cache[date]


def baseline_bucket_time(text: str) -> float | None:
    """`dashboard.parse_time` before issue 19."""
    value = str(text).strip().replace(" ", "T")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    pads = {13: ":00", 15: "0", 18: "0"}
    value = value + pads.get(len(value), "")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def compare(name: str, items: Sequence[object], new: Callable[[], object], old: Callable[[], object], repeat: int) -> None:
    new_s, old_s = [], []
    for _ in range(repeat):  # alternating, so both see the same machine
        old_s.append(timed(old))
        new_s.append(timed(new))
    per = 1e9 / len(items)
    print(
        f"{name:<34} baseline {min(old_s) * per:7.0f} ns  units {min(new_s) * per:7.0f} ns  ratio {min(new_s) / min(old_s):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    dates = [format_instant(START + i * 0.01 + (i % 7) * 0.001).encode() for i in range(args.records)]  # 100/s
    odd = [b"", b" ", b"x", b"1700000000", b" 1700000000.5 ", b"2026-11-28", b"2026-11-28 08:00:00", b"2026-02-30T08:00:00.000Z",
           b"2026-11-28T08:00:00+01:00", b"2026-11-28T08:00:00.5Z", b"2026-11-28T08:00:0\xd9\xa1.000Z"]  # fmt: skip
    new_parse, old_parse = EventTimeParser(), BaselineEventTimeParser()
    differ = [d for d in dates + odd if repr(new_parse(d)) != repr(old_parse(d))]
    assert not differ, differ[:5]

    hours = [format_instant(START + h * 3600)[:13] for h in range(24 * 30)]
    minutes = [format_instant(START + m * 60)[:16] for m in range(60 * 36)]
    tens = [format_instant(START + t * 10)[:18] for t in range(6 * 45)]
    buckets = {
        name: [b for b in found for _station in range(10)]
        for name, found in (("10 s", tens), ("minute", minutes), ("hour", hours))
    }
    for found in buckets.values():
        assert all(repr(parse_time(b)) == repr(baseline_bucket_time(b)) for b in found)

    print(
        f"{len(dates):,} record dates; buckets: {', '.join(f'{len(b):,} {n}' for n, b in buckets.items())}; best of {args.repeat}"
    )
    compare(
        "replay: a record's date",
        dates,
        lambda: [parse(d) for parse in [EventTimeParser()] for d in dates],
        lambda: [parse(d) for parse in [BaselineEventTimeParser()] for d in dates],
        args.repeat,
    )
    for name, found in buckets.items():
        compare(f"dashboard: a {name} bucket", found, lambda f=found: [parse_time(b) for b in f],
                lambda f=found: [baseline_bucket_time(b) for b in f], args.repeat)  # fmt: skip


if __name__ == "__main__":
    main()
