"""Each station's usual count, and what an alert says with it: which station, HIGH or LOW.

RCF's attribution splits a window's score over the stations, but its HIGH/LOW split is relative
to the points the trees hold: after one skewed window the trees hold a skewed point, so the split
no longer says what a reader takes from HIGH and LOW, and the largest share can fall on a station
that barely moved. So an alert is explained against a baseline instead:

    baseline (per station)  the median count over the last `span` windows judged normal (no alert;
                            warm-up windows count); an alerting window never enters it, so an
                            anomaly cannot move its own baseline, and a median shrugs off the odd
                            window that was unusual but stayed below the threshold
    direction               the count against the baseline: HIGH above it, LOW below, USUAL equal
    the station named       among the stations RCF gives a real share of the score (MIN_SHARE),
                            the one whose count departs most from its baseline in Poisson standard
                            deviations, |count - baseline| / sqrt(max(baseline, 1))

The baseline travels with the model (`rcf` scorers carry one; their bytes hold it), so the local
feed, its scoring process and the Lambda function all explain alike from one core.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from tollcli.config import DEFAULT_BASELINE_WINDOWS

BASELINE_WINDOWS_RANGE = (1, 1000)
# A station "RCF attributes a real share to": 1% of the score or more. Not higher: RCF learns a
# sustained change within a few windows (the trees then hold skewed points), so by the third
# skewed window 35South, 25x its usual count, can hold as little as 2% of a score still above the
# threshold, and a floor of half an even split (4.5%) named Exit620 LOW there instead (1 of 60
# skew alerts over 20 seeds; with 1%: 117 of 117 over 40 seeds; bench/bench_anomaly.py).
MIN_SHARE = 0.01


class Baseline:
    """The last `span` normal windows' counts per station; `usual()` is their median per station."""

    def __init__(self, span: int = DEFAULT_BASELINE_WINDOWS, history: Iterable[dict[str, int]] = ()) -> None:
        self.history: deque[dict[str, int]] = deque(history, maxlen=span)

    @property
    def span(self) -> int:
        return self.history.maxlen or DEFAULT_BASELINE_WINDOWS

    def resize(self, span: int) -> None:
        """Keep the newest `span` windows (a deploy may change the span and keep the model)."""
        if span != self.span:
            self.history = deque(self.history, maxlen=span)

    def learn(self, counts: dict[str, int]) -> None:
        """A window judged normal joins the baseline (the oldest leaves once `span` are held)."""
        self.history.append(dict(counts))

    def usual(self, stations: Sequence[str]) -> list[float] | None:
        """Each station's median count over the history (0 where it had no records); None before
        any window was learned."""
        if not self.history:
            return None
        middle, odd = divmod(len(self.history), 2)
        usual = []
        for station in stations:  # sorted() per station: 3x cheaper than numpy's median on 30 x 10
            counts = sorted(window.get(station, 0) for window in self.history)
            usual.append(float(counts[middle]) if odd else (counts[middle - 1] + counts[middle]) / 2)
        return usual

    def to_json(self) -> dict[str, Any]:
        return {"span": self.span, "history": [dict(w) for w in self.history]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        history = [{str(s): int(n) for s, n in window.items()} for window in data.get("history") or []]
        return cls(int(data.get("span") or DEFAULT_BASELINE_WINDOWS), history)


def direction(count: int, usual: float) -> str:
    return "HIGH" if count > usual else "LOW" if count < usual else "USUAL"


def deviation(count: int, usual: float) -> float:
    """How far a count is from its baseline, in Poisson standard deviations (signed)."""
    return (count - usual) / math.sqrt(max(usual, 1.0))
