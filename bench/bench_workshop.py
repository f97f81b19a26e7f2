"""Benchmark: `toll workshop` on the local backend against its floor, generating the same records.

    /work/venv/bin/python bench/bench_workshop.py [--repeat 3] [--seed 1]

Baseline, measured in the same run: set up a home and backfill the workshop's 17 minutes at
100 records/s (102,000 records) with `run_generation`, nothing else. Then the whole workshop
(setup, three generation phases, the three questions, deploy with replay, alerts, the dashboard,
teardown). Prints the median of each, the ratio, and each step's share of the workshop.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tollcli.backends.local import LocalBackend
from tollcli.config import Settings
from tollcli.generator import GenerateOptions, run_generation
from tollcli.workshop import WorkshopOptions, run_workshop


def generation_only(folder: Path, seed: int) -> float:
    backend = LocalBackend(Settings(home=folder / "gen"))
    began = time.perf_counter()
    backend.setup(buffer_mb=1, buffer_seconds=60)
    start = datetime.now(timezone.utc) - timedelta(minutes=17)
    run_generation(backend, GenerateOptions(rate=100, duration=17 * 60, seed=seed, backfill=True, start=start))
    elapsed = time.perf_counter() - began
    backend.teardown()
    return elapsed


def whole_workshop(folder: Path, seed: int, steps: dict[str, list[float]]) -> float:
    backend = LocalBackend(Settings(home=folder / "workshop"))
    began = time.perf_counter()
    report = run_workshop(backend, WorkshopOptions(seed=seed, dashboard_path=folder / "dashboard.html"))
    elapsed = time.perf_counter() - began
    assert report.ok and any(a["station"] == "35South" for a in report.alerts)
    for step in report.steps:
        steps[step.key].append(step.elapsed_s)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    baseline, workshop = [], []
    steps: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            folder = Path(tmp) / str(attempt)
            folder.mkdir()
            baseline.append(generation_only(folder, args.seed))
            workshop.append(whole_workshop(folder, args.seed, steps))
    base, whole = statistics.median(baseline), statistics.median(workshop)
    print(f"generation only (102,000 records, setup, no app): {base:6.2f} s (median of {args.repeat})")
    print(f"toll workshop, every step:                        {whole:6.2f} s  ratio {whole / base:.1f}x")
    for key, times in steps.items():
        share = statistics.median(times)
        print(f"  {key:<10} {share:6.2f} s  {share / whole:5.1%}")


if __name__ == "__main__":
    main()
