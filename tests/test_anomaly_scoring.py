"""The scorers and the app: workshop parity with krcf, default-mode detection, checkpoint/resume."""

from __future__ import annotations

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
            StationScore("35South", 412, 3.123456789, "35South HIGH 61%", 0.61, "HIGH"),
            StationScore('Exit "7" ñ', 0, 0.0),
            StationScore("TX45", 3, float("nan")),
        ],
        alerts=[Alert("", "", "35South", 412, 3.12, 2.5, "35South HIGH 61%", "default", "m")],
        late_records=2,
        rejected_records=0,
    )
    expected = b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in window.table_rows())
    assert window.table_lines() == expected
