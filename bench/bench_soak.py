"""Soak: `toll generate --rate 10000` for N minutes with the anomaly app deployed, sampling the
generator's RSS (/proc/<pid>/status VmRSS, peak VmHWM) and the rate achieved into the bucket
every minute. The baseline is the first minute of the same run: later minutes print as ratios
to it, so "flat" reads as ratios near 1.0.

    /work/venv/bin/python bench/bench_soak.py            # 10 minutes
    /work/venv/bin/python bench/bench_soak.py --minutes 2

Figures go to bench/README.md and docs/RELIABILITY.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def toll(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), *args], capture_output=True, text=True, check=True, timeout=300
    )


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) in kB, from /proc (psutil is not a dependency)."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            figures[name] = int(value.split()[0])
    return figures


class BucketCounter:
    """Records delivered so far: newlines in objects, each object read once."""

    def __init__(self, bucket: Path) -> None:
        self.bucket = bucket
        self.seen: set[Path] = set()
        self.records = 0

    def count(self) -> int:
        for path in self.bucket.rglob("*"):
            if path.is_file() and not path.name.startswith(".") and path not in self.seen:
                self.seen.add(path)
                self.records += path.read_bytes().count(b"\n")
        return self.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toll-soak-") as folder:
        home = Path(folder) / "home"
        toll(home, "setup", "--buffer-seconds", "1", "--format", "json")
        toll(home, "deploy", "--format", "json")
        counter = BucketCounter(home / "bucket")
        process = subprocess.Popen(
            [sys.executable, "-m", "tollcli", "--home", str(home), "generate", "--rate", f"{args.rate:g}", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started = time.monotonic()
        rows = []
        previous = 0
        try:
            for minute in range(1, args.minutes + 1):
                time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                memory = memory_kb(process.pid)
                delivered = counter.count()
                rows.append({"minute": minute, "rate": (delivered - previous) / 60, **memory, "delivered": delivered})
                previous = delivered
                base = rows[0]
                print(
                    f"minute {minute:3d}: {rows[-1]['rate']:9,.0f} rec/s ({rows[-1]['rate'] / base['rate']:.2f}x minute 1), "
                    f"RSS {memory['VmRSS'] / 1024:6.1f} MiB ({memory['VmRSS'] / base['VmRSS']:.2f}x), "
                    f"peak {memory['VmHWM'] / 1024:6.1f} MiB",
                    flush=True,
                )
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=120)
        summary = json.loads(out) if out.strip() else {}
        alerts = json.loads(toll(home, "alerts", "--scores", "--format", "json").stdout)
        total = counter.count()
        print(
            f"summary: {summary.get('records', 0):,} records reported delivered, {total:,} in the bucket "
            f"(equal: {summary.get('records') == total}); achieved {summary.get('achieved_rate', 0):,.0f}/s; "
            f"{len(alerts.get('scores', [])):,} windows scored, {len(alerts['alerts'])} alerts; exit {process.returncode}"
        )
        if err.strip():
            print("stderr:", err.decode()[-500:])


if __name__ == "__main__":
    main()
