"""Traffic skew: the workshop's "Simulating Anomalies" step, without stopping the generator.

`toll skew` writes `<home>/skew.json` (recorded in the ledger, so teardown removes it); a
running `toll generate` checks the file's signature twice a second and re-weights its station
field. Diverting uses the proportions of the workshop's second template (the named station at
0.1, the others at 0.02-0.06); `drop` sets the station's weight to 0, a failed sensor.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tollcli.errors import UsageError
from tollcli.state import (
    SKEW_FILE,
    SKEW_KIND,
    Resource,
    atomic_write_json,
    skew_path,
    utc_now_iso,
)

if TYPE_CHECKING:
    from tollcli.backends.base import Backend

MODES = ("divert", "drop")


@dataclass(frozen=True)
class SkewState:
    station: str
    mode: str = "divert"  # or "drop"
    changed_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"station": self.station, "mode": self.mode, "changed_at": self.changed_at}


def read_skew(home: Path) -> SkewState | None:
    """The skew in force, or None; an unreadable file counts as none (a writer is mid-rename)."""
    try:
        data = json.loads(skew_path(home).read_text(encoding="utf-8"))
        mode = str(data.get("mode", "divert"))
        if mode not in MODES:
            return None
        return SkewState(station=str(data["station"]), mode=mode, changed_at=str(data.get("changed_at", "")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def check_station(station: str, stations: tuple[str, ...] | list[str]) -> str:
    if station not in stations:
        raise UsageError(f"unknown station {station!r}: choose one of {', '.join(stations)}")
    return station


def skewed_weights(
    stations: tuple[str, ...],
    weights: tuple[float, ...],
    state: SkewState | None,
    pattern: tuple[str, ...],
    pattern_weights: tuple[float, ...],
) -> tuple[float, ...]:
    """Station weights under `state`. `pattern`/`pattern_weights` are the second template's
    stations and weights: when the stations are the workshop's, the named station swaps weights
    with the template's favourite; otherwise the others take the template's lesser weights in turn."""
    if state is None or state.station not in stations:
        return weights
    named = stations.index(state.station)
    if state.mode == "drop":
        dropped = list(weights)
        dropped[named] = 0.0
        if sum(dropped) <= 0:
            raise UsageError(f"dropping {state.station} would leave no station with traffic")
        return tuple(dropped)
    top = max(pattern_weights)
    favourite = pattern_weights.index(top)
    if tuple(stations) == tuple(pattern):
        diverted = list(pattern_weights)
        diverted[named], diverted[favourite] = diverted[favourite], diverted[named]
        return tuple(diverted)
    others = [w for i, w in enumerate(pattern_weights) if i != favourite] or [top / 5]
    result, turn = [], 0
    for i in range(len(stations)):
        if i == named:
            result.append(top)
        else:
            result.append(others[turn % len(others)])
            turn += 1
    return tuple(result)


def write_skew(backend: Backend, station: str, *, drop: bool) -> SkewState:
    """Record and write the skew for running and later generators; needs `toll setup` first."""
    ledger = backend.require_ledger()
    home = Path(backend.settings.home)
    state = SkewState(station=station, mode="drop" if drop else "divert", changed_at=utc_now_iso())
    path = skew_path(home)
    ledger.record(Resource(kind=SKEW_KIND, name=SKEW_FILE, settings={"path": str(path)}))
    atomic_write_json(path, state.to_json())
    return state


def reset_skew(backend: Backend) -> bool:
    """Remove the skew; True when there was one."""
    ledger = backend.require_ledger()
    path = skew_path(Path(backend.settings.home))
    existed = path.exists()
    path.unlink(missing_ok=True)
    if ledger.find(SKEW_KIND, SKEW_FILE) is not None:
        ledger.forget(SKEW_KIND, SKEW_FILE)
    return existed


class SkewWatcher:
    """Notices changes to the skew file by its (mtime, size, inode) signature: a stat per poll."""

    def __init__(self, home: Path) -> None:
        self.path = skew_path(home)
        self._signature = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def changed(self) -> bool:
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        return True

    def current(self) -> SkewState | None:
        return read_skew(self.path.parent)
