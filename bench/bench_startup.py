"""How long `toll --help` and `toll --version` take to start, against a bare `import typer`.

    PYTHONPATH=src /work/venv/bin/python bench/bench_startup.py [--runs 15] [--modules]

Each command runs as a fresh subprocess (`python -m tollcli ...`, as the console script does), `--runs`
times, interleaved so that load from other processes falls on every command alike; printed: the median
wall time of each and its ratio to the median of `python -c "import typer"` measured in the same run
(issue 19's target: within 3x). A bare Typer app with one command (`typer.Typer()` and its `--help`) is
printed too, as a second reference. `--modules` also lists which heavy modules `toll --help` imports
(numpy, duckdb, krcf, boto3, ...): those are the ones a lazy import could keep out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BARE_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = typer.Option("x", "--name", help="Who.")) -> None:
    print(name)
@app.command()
def bye() -> None:
    pass
app()
"""

HEAVY = ("numpy", "duckdb", "krcf", "boto3", "botocore", "pyathena", "faker", "sqlglot", "rich.table", "rich.live", "filelock")


def commands(home: str) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "import typer": [python, "-c", "import typer"],
        "bare Typer app --help": [python, "-c", BARE_APP, "--help"],
        "toll --version": [python, "-m", "tollcli", "--home", home, "--version"],
        "toll --help": [python, "-m", "tollcli", "--home", home, "--help"],
        "toll query --help": [python, "-m", "tollcli", "--home", home, "query", "--help"],
    }


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def heavy_modules_loaded(home: str) -> list[str]:
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['toll', '--home', {home!r}, '--help']\n"
        "try:\n    runpy.run_module('tollcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print('\\n' + __import__('json').dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--modules", action="store_true", help="list the heavy modules `toll --help` imports")
    args = parser.parse_args()
    env_note = f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as home:
        argvs = commands(home)
        for argv in argvs.values():  # warm the OS cache and the bytecode once
            time_once(argv)
        times: dict[str, list[float]] = {name: [] for name in argvs}
        for _ in range(args.runs):
            for name, argv in argvs.items():
                times[name].append(time_once(argv))
        print(f"{args.runs} runs each, interleaved ({env_note})")
        base = statistics.median(times["import typer"])
        print(f"{'command':<24} {'median':>9} {'min':>9} {'ratio':>7}")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:<24} {median * 1000:>7.0f}ms {min(samples) * 1000:>7.0f}ms {median / base:>6.2f}x")
        if args.modules:
            print("heavy modules loaded by `toll --help`:", ", ".join(heavy_modules_loaded(home)) or "none")


if __name__ == "__main__":
    main()
