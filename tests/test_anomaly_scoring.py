"""The scorers and the app: workshop parity with krcf, default-mode detection, checkpoint/resume."""

from __future__ import annotations

import json

import krcf
import numpy as np
import pytest

from tollcli.anomaly import AnomalyApp, AnomalyConfig
from tollcli.anomaly.rcf import WORKSHOP_STATIONS, krcf_options
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, STEADY_WEIGHTS, dropped_weights, scenario
from tollcli.errors import TollError, UsageError

SKEWED = SKEWED_WEIGHTS
STEADY = STEADY_WEIGHTS


def run(app: AnomalyApp, times: np.ndarray, stations: np.ndarray, chunk: int = 500):
    scored = []
    for lo in range(0, len(times), chunk):
        scored += app.process(times[lo : lo + chunk], stations[lo : lo + chunk])
    return scored


def test_workshop_mode_matches_a_direct_krcf_run_on_the_same_rows() -> None:
    config = AnomalyConfig.from_options(mode="workshop")
    times, stations = scenario(3, 40, STEADY, 0)
    scored = run(AnomalyApp(config), times, stations)
    forest = krcf.RandomCutForest(krcf_options(config.forest, 1))
    expected = []
    for i in range(len(scored)):
        counts = {s: int(n) for s, n in zip(*np.unique(stations[i * 1000 : (i + 1) * 1000], return_counts=True))}
        for station in WORKSHOP_STATIONS:
            if counts.get(station):
                expected.append((station, counts[station], forest.score([float(counts[station])])))
                forest.update([float(counts[station])])
    got = [(r.station, r.vehicle_count, r.anomaly_score) for w in scored for r in w.rows]
    assert len(scored) == 39 and got == expected  # the 40th window is still open
    assert config.forest.trees == 1 and config.forest.sample_size == 10 and config.forest.shingle == 2
    assert krcf_options(config.forest, 1)["lambda"] == pytest.approx(0.1)


def test_default_mode_alerts_on_the_skew_naming_35south_high_and_never_before() -> None:
    times, stations = scenario(7, 60, SKEWED, 3)
    scored = run(AnomalyApp(AnomalyConfig.from_options(seed=7)), times, stations)
    steady, skewed = scored[:60], scored[60:]
    assert not any(w.alerts for w in steady)
    assert max(w.score for w in steady) < 2.0
    first = next(w for w in skewed if w.alerts)
    assert skewed.index(first) <= 1
    alert = first.alerts[0]
    assert alert.station == "35South" and "35South HIGH" in alert.explanation
    assert alert.message.startswith("Anomalous data detected at station 35South. Total vehicles detected was ")
    assert alert.message.endswith("which is greater than your configured threshold of 2.5")


def test_default_mode_explains_a_dropped_sensor_as_low() -> None:
    times, stations = scenario(11, 60, dropped_weights("183A"), 2)
    scored = run(AnomalyApp(AnomalyConfig.from_options(seed=11)), times, stations)
    alerts = [a for w in scored[60:] for a in w.alerts]
    assert alerts and alerts[0].station == "183A" and "183A LOW" in alerts[0].explanation
    assert alerts[0].vehicle_count == 0


@pytest.mark.parametrize("mode", ["default", "workshop"])
def test_resuming_from_state_bytes_scores_every_window_once_as_if_never_stopped(mode: str) -> None:
    config = AnomalyConfig.from_options(mode=mode, seed=5)
    times, stations = scenario(5, 45, SKEWED, 3)
    straight = run(AnomalyApp(config), times, stations)
    cut = 23_456  # mid-window, mid-chunk
    first = AnomalyApp(config)
    before = run(first, times[:cut], stations[:cut])
    resumed = AnomalyApp.from_state_bytes(first.state_bytes())
    after = run(resumed, times[cut:], stations[cut:])
    assert [w.window_start for w in before + after] == [w.window_start for w in straight]
    assert [w.table_rows() for w in before + after] == [w.table_rows() for w in straight]
    assert resumed.stats.windows_scored == len(straight)


def test_a_changed_threshold_keeps_the_model_but_other_forest_settings_do_not() -> None:
    app = AnomalyApp(AnomalyConfig.from_options())
    blob = app.state_bytes()
    assert AnomalyApp.from_state_bytes(blob, config=AnomalyConfig.from_options(threshold=4.0)).config.threshold == 4.0
    with pytest.raises(TollError, match="other model settings"):
        AnomalyApp.from_state_bytes(blob, config=AnomalyConfig.from_options(trees=100))
    with pytest.raises(TollError, match="unreadable"):
        AnomalyApp.from_state_bytes(blob[:100])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 0}, "--threshold"),
        ({"threshold": -1.0}, "--threshold"),
        ({"mode": "fancy"}, "unknown mode"),
        ({"trees": 0}, "--trees"),
        ({"sample_size": 0}, "--sample-size"),
        ({"shingle": 0}, "--shingle"),
        ({"time_decay": 0}, "--time-decay"),
        ({"window_seconds": 0}, "--window"),
        ({"lateness_seconds": -1}, "--lateness"),
        ({"baseline_windows": 0}, "--baseline-windows"),
        ({"webhook": "ftp://example.com/x"}, "--webhook"),
        ({"webhook": "localhost:8080"}, "--webhook"),
    ],
)
def test_bad_settings_are_usage_errors(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        AnomalyConfig.from_options(**options)


def test_table_lines_are_exactly_what_json_dumps_writes() -> None:
    import json

    from tollcli.anomaly.alerts import Alert
    from tollcli.anomaly.app import ScoredWindow
    from tollcli.anomaly.rcf import StationScore

    window = ScoredWindow(
        start=1_800_000_000.0,
        end=1_800_000_010.5,
        mode="default",
        rows=[
            StationScore("35South", 412, 3.123456789, "35South HIGH 61%", 0.61, "HIGH", 10.5),
            StationScore('Exit "7" ñ', 0, 0.0, "warming up", baseline_count=0.0),
            StationScore("TX45", 3, float("nan")),
        ],
        alerts=[Alert("", "", "35South", 412, 3.12, 2.5, "35South HIGH 61%", "default", "m", 10.5)],
        late_records=2,
        rejected_records=0,
    )
    expected = b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in window.table_rows())
    assert window.table_lines() == expected


# --- the baseline: what an alert says ------------------------------------------------------------
def station_counts(stations: np.ndarray, window: int, station: str) -> int:
    return int((stations[window * 1000 : (window + 1) * 1000] == station).sum())


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_every_alert_of_a_skew_names_35south_high_against_its_usual_count(seed: int) -> None:
    """Seeds 2 and 4 named 35South LOW and TX290 LOW in later skewed windows before the baseline."""
    times, stations = scenario(seed, 60, SKEWED, 8)
    scored = run(AnomalyApp(AnomalyConfig.from_options(seed=seed)), times, stations)
    usual = float(np.median([station_counts(stations, w, "35South") for w in range(30, 60)]))
    alerts = [a for w in scored[60:] for a in w.alerts]
    assert len(alerts) >= 2 and not any(w.alerts for w in scored[:60])
    for alert in alerts:
        assert alert.station == "35South" and alert.explanation.startswith("35South HIGH ")
        assert alert.explanation.endswith("%")  # the share stays
        assert alert.baseline_count == usual  # the alerting windows before it did not move it
        assert f"Total vehicles detected was {alert.vehicle_count} (usually {usual:g}). " in alert.message


def test_every_alert_after_a_drop_names_the_dropped_station_low() -> None:
    times, stations = scenario(1, 60, dropped_weights("TX290"), 6)
    scored = run(AnomalyApp(AnomalyConfig.from_options(seed=1)), times, stations)
    alerts = [a for w in scored[60:] for a in w.alerts]
    assert alerts and {(a.station, a.explanation.split()[1], a.vehicle_count) for a in alerts} == {("TX290", "LOW", 0)}
    usual = float(np.median([station_counts(stations, w, "TX290") for w in range(30, 60)]))
    assert {a.baseline_count for a in alerts} == {usual}


def test_each_row_carries_its_stations_median_over_the_configured_span_of_normal_windows() -> None:
    times, stations = scenario(8, 50, STEADY, 1)
    scored = run(AnomalyApp(AnomalyConfig.from_options(seed=8, baseline_windows=7)), times, stations)
    assert not any(w.alerts for w in scored)
    assert {r.baseline_count for r in scored[0].rows} == {None}  # nothing learned yet
    for w in (1, 3, 20, 49):
        expected = {
            s: float(np.median([station_counts(stations, i, s) for i in range(max(0, w - 7), w)])) for s in WORKSHOP_STATIONS
        }
        assert {r.station: r.baseline_count for r in scored[w].rows} == expected
    row = scored[49].rows[0]
    assert row.direction == (
        "HIGH" if row.vehicle_count > row.baseline_count else "LOW" if row.vehicle_count < row.baseline_count else "USUAL"
    )
    assert row.explanation.startswith(f"{row.station} {row.direction} ")


@pytest.mark.parametrize(("mode", "warm_rows"), [("default", 32 * 10), ("workshop", 11)])
def test_rows_scored_before_the_forest_gives_scores_say_warming_up(mode: str, warm_rows: int) -> None:
    """Default mode: the first 32 windows (output_after 32 points); workshop: the first 11 rows
    (output_after 10, then the first row the forest scores on a shingle of 2 is still a 0)."""
    times, stations = scenario(2, 40, STEADY, 0)
    rows = [r for w in run(AnomalyApp(AnomalyConfig.from_options(mode=mode, seed=2)), times, stations) for r in w.rows]
    assert [r.warming_up for r in rows] == [True] * warm_rows + [False] * (len(rows) - warm_rows)
    assert all(r.explanation == "warming up" and r.anomaly_score == 0 for r in rows[:warm_rows])
    assert all(r.anomaly_score > 0 for r in rows[warm_rows:])


def test_a_model_from_before_the_baseline_loads_with_an_empty_one_and_learns_it() -> None:
    """Checkpoints written before the baseline hold the forest's msgpack alone (rcf docstring)."""
    from tollcli.anomaly.app import STATE_MAGIC
    from tollcli.anomaly.rcf import MODEL_MAGIC

    times, stations = scenario(4, 40, STEADY, 4)
    app = AnomalyApp(AnomalyConfig.from_options(seed=4))
    run(app, times[:35_000], stations[:35_000])
    blob = app.state_bytes()
    header_size = int.from_bytes(blob[len(STATE_MAGIC) : len(STATE_MAGIC) + 8], "big")
    model = blob[len(STATE_MAGIC) + 8 + header_size :]
    assert model.startswith(MODEL_MAGIC)
    forest_only = bytes(app.scorer.forest.to_msgpack())
    header = json.loads(blob[len(STATE_MAGIC) + 8 : len(STATE_MAGIC) + 8 + header_size])
    header["model_bytes"] = len(forest_only)
    old_header = json.dumps(header).encode()
    old_blob = STATE_MAGIC + len(old_header).to_bytes(8, "big") + old_header + forest_only
    resumed = AnomalyApp.from_state_bytes(old_blob)
    later = run(resumed, times[35_000:], stations[35_000:])
    assert later[0].rows[0].baseline_count is None and later[0].rows[0].explanation.split()[1] in ("HIGH", "LOW")
    assert later[1].rows[0].baseline_count == station_counts(stations, 34, "183A")  # window 34 was open at the cut
    straight = run(AnomalyApp(AnomalyConfig.from_options(seed=4)), times, stations)
    assert [r.anomaly_score for w in later for r in w.rows] == [r.anomaly_score for w in straight[34:] for r in w.rows]
