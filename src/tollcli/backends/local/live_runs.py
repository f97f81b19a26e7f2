"""Live-run markers: `toll query` can say that a live run's last records are still on their way.

A real-time delivery stream (`LocalBackend.open_sink(realtime=True)`, what a live `toll generate`
writes to) marks the home while it is open: `<home>/live-runs/<pid>.json`, removed when the stream
closes. Until then up to a buffer's worth (60 s) of records sits in the stream, not yet in the
table; `LocalBackend.deliveries_in_progress` lists the processes that hold one. The folder is in
the ledger (teardown removes it); a marker whose process is gone (kill -9) is ignored.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tollcli.oscompat import process_alive
from tollcli.state import Ledger, Resource, atomic_write_json
from tollcli.units import format_instant

LIVE_RUNS_DIR = "live-runs"
LIVE_RUNS_KIND = "live-runs"


def mark_live_run(home: Path, ledger: Ledger) -> Path | None:
    """Write this process's marker (recording the folder in the ledger first); None if it cannot."""
    try:
        folder = Path(home) / LIVE_RUNS_DIR
        if ledger.find(LIVE_RUNS_KIND, LIVE_RUNS_DIR) is None:
            ledger.record(Resource(kind=LIVE_RUNS_KIND, name=LIVE_RUNS_DIR, settings={"path": str(folder)}))
        folder.mkdir(exist_ok=True)
        marker = folder / f"{os.getpid()}.json"
        atomic_write_json(marker, {"pid": os.getpid(), "started": format_instant(time.time())})
    except OSError:
        return None  # a hint for queries, never a reason to stop generating
    return marker


def unmark_live_run(marker: Path | None) -> None:
    if marker is not None:
        marker.unlink(missing_ok=True)


def live_runs(home: Path) -> list[int]:
    """Process ids of `toll generate` runs delivering into this home's local stream right now.

    A marker counts only as `mark_live_run` writes it: its "pid" a JSON integer (not true, not 1.9)
    equal to the pid in its file's name; any other file in the folder is not a run."""
    pids = []
    for marker in (Path(home) / LIVE_RUNS_DIR).glob("*.json"):
        try:
            content = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable: not a run
        pid = content.get("pid") if isinstance(content, dict) else None
        if type(pid) is not int or marker.stem != str(pid):  # type(): a bool is an int too
            continue
        if process_alive(pid):  # a marker whose process is gone (kill -9) is ignored
            pids.append(pid)
    return sorted(pids)
