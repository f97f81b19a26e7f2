"""Event-time tumbling windows: boundaries, lateness, late and unreadable records, checkpoint."""

from __future__ import annotations

import numpy as np

import tollcli.anomaly.windows as windows_module
from tollcli.anomaly.windows import TumblingWindows, stations_from_lines

T0 = 1_800_000_000.0  # a multiple of 10 s


def add(windows: TumblingWindows, times: list[float], stations: list[str | None] | None = None):
    return windows.add(np.array([T0 + t for t in times]), stations or ["A"] * len(times))


def test_a_record_on_a_boundary_opens_the_next_window() -> None:
    windows = TumblingWindows(size=10, lateness=0)
    closed = add(windows, [0.0, 9.999, 10.0])  # with no lateness, event time 10.0 closes [0, 10)
    assert [(w.start - T0, w.end - T0, w.counts) for w in closed] == [(0.0, 10.0, {"A": 2})]
    closed = add(windows, [20.0])
    assert [(w.start - T0, w.counts) for w in closed] == [(10.0, {"A": 1})]


def test_a_window_waits_for_its_lateness_then_closes_exactly_once() -> None:
    windows = TumblingWindows(size=10, lateness=2)
    assert add(windows, [1.0, 5.0, 11.9]) == []  # watermark 11.9 < 10 + 2
    closed = add(windows, [12.0])
    assert len(closed) == 1 and closed[0].counts == {"A": 2} and closed[0].start == T0
    assert add(windows, [13.0]) == []


def test_out_of_order_records_within_lateness_land_in_their_own_window() -> None:
    windows = TumblingWindows(size=10, lateness=2)
    add(windows, [1.0, 11.0], ["A", "B"])
    add(windows, [9.5], ["C"])  # 1.5 s late for its window, within the 2 s allowed
    closed = add(windows, [25.0], ["A"])
    assert [w.counts for w in closed] == [{"A": 1, "C": 1}, {"B": 1}]
    assert windows.late_records == 0


def test_records_later_than_the_lateness_are_counted_not_added() -> None:
    windows = TumblingWindows(size=10, lateness=2)
    closed = add(windows, [1.0, 2.0, 12.5])
    assert [w.counts for w in closed] == [{"A": 2}]
    assert add(windows, [3.0, 4.0, 13.0]) == []  # two late records for the closed window
    assert windows.late_records == 2
    closed = add(windows, [30.0])
    assert closed[0].counts == {"A": 2} and closed[0].late_records == 2  # reported with the next window


def test_lines_without_a_station_are_rejected_and_counted() -> None:
    assert stations_from_lines(b"2026-01-01T00:00:00Z,35South,ab\nnonsense\n2026,,x\n") == ["35South", None, None]
    windows = TumblingWindows(size=10, lateness=0)
    add(windows, [1.0, 2.0, 3.0], ["A", None, "B"])
    closed = add(windows, [10.0])
    assert closed[0].counts == {"A": 1, "B": 1} and closed[0].rejected_records == 1


def test_a_chunk_spanning_many_windows_counts_each_and_skips_empty_ones() -> None:
    windows = TumblingWindows(size=10, lateness=0)
    times = [0.5, 3.0, 15.0, 47.0, 47.5]
    closed = add(windows, times, ["A", "B", "A", "C", "C"])
    assert [(w.start - T0, w.counts) for w in closed] == [(0.0, {"A": 1, "B": 1}), (10.0, {"A": 1})]
    assert list(windows.open) == [int((T0 + 40) // 10)]


def test_state_round_trip_resumes_the_same_windows() -> None:
    windows = TumblingWindows(size=10, lateness=2)
    add(windows, [1.0, 12.5, 13.0, 2.0], ["A", "B", "B", "A"])  # closes window 0; one late record
    resumed = TumblingWindows.from_state(windows.to_state())
    for w in (windows, resumed):
        closed = add(w, [40.0], ["A"])
        assert [(c.start - T0, c.counts, c.late_records) for c in closed] == [(10.0, {"B": 2}, 0)]
    assert resumed.late_records == windows.late_records


def test_station_codes_count_as_station_names_do_with_late_records_and_a_wide_span(monkeypatch) -> None:
    """`add_codes` (the generator's code column, counted by bincount) against `add` (names)."""
    names = ("A", "B", "C")
    rng = np.random.default_rng(5)
    chunks = [np.sort(rng.uniform(lo, lo + 60, 400)) for lo in (0, 50, 20, 200)]  # the third is mostly late
    chunks.append(np.array([300.0, 3.0e6]))  # one far-future record: a table too wide, counted the slow way
    monkeypatch.setattr(windows_module, "MAX_COUNT_TABLE", 1000)
    by_codes, by_names = TumblingWindows(size=10, lateness=2), TumblingWindows(size=10, lateness=2)
    for times in chunks:
        codes = rng.integers(0, 3, len(times))
        closed_codes = by_codes.add_codes(T0 + times, codes, names)
        closed_names = by_names.add(T0 + times, [names[c] for c in codes])
        assert closed_codes == closed_names
    assert by_codes.late_records > 0
    assert by_codes.to_state() == by_names.to_state()
