"""Benchmark `toll generate`: backfill speed against a per-record Faker + csv.writer baseline
(measured in the same run), peak memory of a large backfill, and rate accuracy in real time.

    /work/venv/bin/python bench/bench_generate.py                 # everything (about 2 minutes)
    /work/venv/bin/python bench/bench_generate.py --rss-count 10000000 --rate-seconds 30
    /work/venv/bin/python bench/bench_generate.py --templates-only      # KDG templates: this tree vs git's BASE

Figures go to bench/README.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tollcli.backends.local import LocalBackend
from tollcli.config import resolve_settings
from tollcli.generator import GenerateOptions, run_generation
from tollcli.kdg import workshop_spec
from tollcli.units import parse_instant as parse_start


def baseline(count: int, folder: Path) -> float:
    """Records per second of the obvious generator: Faker per record, csv.writer to a file."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(1)
    spec = workshop_spec()
    stations = OrderedDict(zip(spec.fields[1].data, spec.fields[1].weights))
    plates = OrderedDict(zip(spec.fields[2].data, spec.fields[2].weights))
    start = datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
    step = timedelta(seconds=0.01)
    began = time.perf_counter()
    with open(folder / "baseline.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for i in range(count):
            moment = start + i * step
            writer.writerow(
                (
                    moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                    fake.random_element(stations),
                    fake.random_element(plates),
                )
            )
        handle.flush()
        os.fsync(handle.fileno())
    return count / (time.perf_counter() - began)


def backfill_in_process(count: int, folder: Path) -> tuple[float, int]:
    """Records per second of `run_generation` backfilling into a local bucket, and objects made."""
    backend = LocalBackend(resolve_settings(backend="local", home=folder / "home", region=None, profile=None))
    backend.setup(buffer_mb=1, buffer_seconds=60)
    options = GenerateOptions(backfill=True, count=count, seed=1, start=parse_start("2026-11-28T08:00:00Z"))
    began = time.perf_counter()
    summary = run_generation(backend, options)
    elapsed = time.perf_counter() - began
    lines = sum(p.read_bytes().count(b"\n") for p in (folder / "home" / "bucket").rglob("*") if p.is_file())
    assert summary.records == lines == count, (summary.records, lines, count)
    return count / elapsed, summary.objects


def toll(home: Path, *args: str) -> tuple[dict, float, float]:
    """Run the real CLI; (json summary, wall seconds, peak RSS in MB of that process)."""
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "tollcli", "--home", str(home), *args], stdout=out)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            raise SystemExit(f"toll {' '.join(args)} failed with exit status {process.returncode}")
        out.seek(0)
        text = out.read().decode()
    return (json.loads(text) if text.strip().startswith("{") else {}), wall, usage.ru_maxrss / 1024  # KB on Linux


HELP_TEMPLATE = "{{name.firstName}},{{name.lastName}},{{random.number(70)}},{{internet.ip}}"  # the KDG help page's first
BASE = "0f868c9"  # the commit before issue 17: per-record Python Faker for faker helpers


def cli_backfill(src: Path, home: Path, template: Path | None, count: int) -> tuple[float, float]:
    """(records/s within the run, wall seconds incl. start-up) of `toll generate --backfill` from the sources in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-m", "tollcli", "--home", str(home), "setup"], check=True, capture_output=True, env=env)
    args = ["generate", "--backfill", "--count", str(count), "--seed", "3", "--format", "json"]
    args += ["--template", str(template)] if template else []
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tollcli", "--home", str(home), *args], check=True, capture_output=True, env=env)
    wall = time.perf_counter() - began
    return float(json.loads(out.stdout)["achieved_rate"]), wall


def read_seconds(src: Path, template: Path) -> float:
    """Seconds to read and parse a template (and build its first record) with the sources in `src`."""
    code = (
        "import sys,time,numpy as np;from pathlib import Path;t=time.perf_counter();"
        "from tollcli.kdg import load_template;from tollcli.kdg.factory import RecordFactory;"
        "RecordFactory(load_template(Path(sys.argv[1])),seed=1).make_chunk(np.asarray([1.8e9]));"
        "print(time.perf_counter()-t)"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", code, str(template)], check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.strip())


def templates(count: int, folder: Path) -> None:
    """The KDG help page's first template, the workshop template and a 100 KB template, here and at BASE."""
    root = Path(__file__).resolve().parents[1]
    base_tree = folder / "base"
    base_tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", BASE, "src", "templates"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(base_tree)], input=archive, check=True)
    help_file = folder / "help.txt"
    help_file.write_text(HELP_TEMPLATE + "\n")
    big_file = folder / "big.txt"
    big_file.write_text("{{name.firstName}} {{random.number(9)}} text " * 2_500)  # 112 KB
    for label, template, n in (("help page's first example", help_file, count), ("workshop template", None, count * 5)):
        runs: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        for attempt in range(2):  # interleaved, best of two: the machine is shared
            for which, src in (("old", base_tree / "src"), ("new", root / "src")):
                runs[which].append(cli_backfill(src, folder / f"{which}-{label[:4]}-{attempt}", template, n))
        (old_rate, old_wall), (new_rate, new_wall) = max(runs["old"]), max(runs["new"])
        print(
            f"CLI backfill, {label}, {n:,} records: before {old_rate:,.0f}/s in the run ({old_wall:.1f} s wall), "
            f"now {new_rate:,.0f}/s ({new_wall:.1f} s wall): {new_rate / old_rate:.1f}x"
        )
    old_big, _ = cli_backfill(base_tree / "src", folder / "old-big", big_file, 200)
    new_big, _ = cli_backfill(root / "src", folder / "new-big", big_file, 2_000)
    print(f"CLI backfill, 100 KB template: before {old_big:,.1f}/s (200 records), now {new_big:,.1f}/s (2,000 records)")
    old_read, new_read = read_seconds(base_tree / "src", big_file), read_seconds(root / "src", big_file)
    print(f"100 KB template read + first record: before {old_read:.2f} s, now {new_read:.2f} s ({old_read / new_read:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000_000, help="records for the in-process backfill")
    parser.add_argument("--baseline-count", type=int, default=200_000)
    parser.add_argument("--rss-count", type=int, default=10_000_000, help="records for the memory run (CLI)")
    parser.add_argument("--rate-seconds", type=float, default=30, help="length of each rate-accuracy run")
    parser.add_argument("--long-seconds", type=float, default=0, help="also run 10,000/s this long and report RSS")
    parser.add_argument("--templates-only", action="store_true", help="only the KDG template comparison with BASE")
    parser.add_argument("--template-count", type=int, default=100_000, help="records per template backfill")
    args = parser.parse_args()
    if args.templates_only:
        with tempfile.TemporaryDirectory() as tmp:
            templates(args.template_count, Path(tmp))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = baseline(args.baseline_count, folder)
        ours, objects = backfill_in_process(args.count, folder)
        print(f"baseline (Faker + csv.writer, per record): {base:>12,.0f} records/s ({args.baseline_count:,} records)")
        print(f"toll backfill into the local bucket:       {ours:>12,.0f} records/s ({args.count:,} records, {objects} objects)")
        print(f"ratio: {ours / base:.1f}x")

        home = folder / "cli"
        subprocess.run([sys.executable, "-m", "tollcli", "--home", str(home), "setup"], check=True, capture_output=True)
        summary, wall, peak = toll(
            home, "generate", "--backfill", "--count", str(args.rss_count), "--seed", "2", "--format", "json"
        )
        print(
            f"CLI backfill of {args.rss_count:,}: {summary['records']:,} records, {wall:.1f} s wall incl. start-up "
            f"({summary['records'] / wall:,.0f}/s; in-run {summary['achieved_rate']:,.0f}/s), peak RSS {peak:.0f} MB"
        )

        for rate in (100, 10_000):
            rate_home = folder / f"rate{rate}"
            subprocess.run([sys.executable, "-m", "tollcli", "--home", str(rate_home), "setup"], check=True, capture_output=True)
            summary, wall, _ = toll(
                rate_home, "generate", "--rate", str(rate), "--duration", f"{args.rate_seconds}s", "--format", "json"
            )
            error = (summary["achieved_rate"] - rate) / rate
            print(
                f"rate {rate:>6,}/s for {args.rate_seconds:g} s: {summary['records']:,} records in {summary['elapsed_s']:.3f} s "
                f"= {summary['achieved_rate']:,.1f}/s ({error:+.2%})"
            )
        if args.long_seconds:
            long_home = folder / "long"
            subprocess.run([sys.executable, "-m", "tollcli", "--home", str(long_home), "setup"], check=True, capture_output=True)
            summary, wall, peak = toll(
                long_home, "generate", "--rate", "10000", "--duration", f"{args.long_seconds}s", "--format", "json"
            )
            print(f"10,000/s for {args.long_seconds:g} s: {summary['records']:,} records, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
