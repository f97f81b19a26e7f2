"""The workshop's anomaly scenario as arrays, for tests and benchmarks of the app alone.

Steady traffic with the workshop's weights, then a change (the second template's skew to
35South, or a dropped sensor), at a fixed rate in event time. `toll generate` makes the real
records; this makes only what the app reads (event times and stations), without the generator.
"""

from __future__ import annotations

import numpy as np

from tollcli.anomaly.rcf import WORKSHOP_STATIONS

STEADY_WEIGHTS = np.array([0.1] * 8 + [0.09, 0.01])
SKEWED_WEIGHTS = np.array([0.02, 0.04, 0.05, 0.06, 0.02, 0.02, 0.02, 0.02, 0.02, 0.1])  # the second template
START = 1_800_000_000.0  # a whole number of windows


def dropped_weights(station: str) -> np.ndarray:
    """Steady traffic with one sensor silent (`toll skew --drop`)."""
    weights = STEADY_WEIGHTS.copy()
    weights[WORKSHOP_STATIONS.index(station)] = 0.0
    return weights


def scenario(
    seed: int, steady_windows: int, change: np.ndarray, change_windows: int, *, rate: int = 100, window_seconds: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(event times, stations) at `rate` records/s: `steady_windows` steady, then `change_windows` changed."""
    rng = np.random.default_rng(seed)
    stations = np.array(WORKSHOP_STATIONS, dtype=object)
    per_window = rate * window_seconds
    parts = []
    for i in range(steady_windows + change_windows):
        weights = STEADY_WEIGHTS if i < steady_windows else change
        parts.append(rng.choice(len(stations), per_window, p=weights / weights.sum()))
    count = per_window * (steady_windows + change_windows)
    return START + np.arange(count) / rate, stations[np.concatenate(parts)] if parts else stations[:0]
