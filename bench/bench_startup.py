"""How long `toll --help` and `toll --version` take to start, against a bare `import typer`.

    PYTHONPATH=src /work/venv/bin/python bench/bench_startup.py [--runs 15] [--modules]

Each command runs as a fresh subprocess (`python -m tollcli ...`, as the console script does), `--runs`
times, interleaved so that load from other processes falls on every command alike; printed: the median
wall time of each and its ratio to the median of `python -c "import typer"` measured in the same run
(issue 19's target: within 3x). A bare Typer app with one command (`typer.Typer()` and its `--help`) is
printed too, as a second reference. `--modules` also lists which heavy modules `toll --help` imports
(numpy, duckdb, krcf, boto3, ...): those are the ones a lazy import could keep out.

`--before SRC` also times `toll --version`, `toll --help` and `toll query --help` from another source
folder (the `src/` of a `git archive` of an older commit; the templates beside it are needed too), in
the same interleaved runs: a before/after pair measured under the same load.

    git archive c88bf7e | tar -x -C /tmp/before
    PYTHONPATH=src /work/venv/bin/python bench/bench_startup.py --before /tmp/before/src
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


Command = tuple[list[str], "dict[str, str]"]  # argv and environment

# An installed toll starts from bytecode (pip compiles it at install, as it did Typer's): the commands run
# with bytecode writing on, so the warm-up run below leaves .pyc files (in __pycache__, git-ignored) even
# where PYTHONDONTWRITEBYTECODE is set, and no run pays for compiling tollcli's sources. `--as-source`
# keeps the variable (with it set and no __pycache__ under src/, every run compiles tollcli's modules:
# how the first figures in bench/README.md were measured).
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def commands(home: str, before: str | None = None, *, as_source: bool = False) -> dict[str, Command]:
    python = sys.executable
    if as_source:
        CHILD_ENV.update(os.environ)
    toll = [python, "-m", "tollcli", "--home", home]
    found: dict[str, Command] = {
        "import typer": ([python, "-c", "import typer"], CHILD_ENV),
        "bare Typer app --help": ([python, "-c", BARE_APP, "--help"], CHILD_ENV),
        "toll --version": ([*toll, "--version"], CHILD_ENV),
        "toll --help": ([*toll, "--help"], CHILD_ENV),
        "toll query --help": ([*toll, "query", "--help"], CHILD_ENV),
    }
    if before is not None:
        env = {**CHILD_ENV, "PYTHONPATH": before}
        found["before: toll --version"] = ([*toll, "--version"], env)
        found["before: toll --help"] = ([*toll, "--help"], env)
        found["before: toll query --help"] = ([*toll, "query", "--help"], env)
    return found


def time_once(command: Command) -> float:
    argv, env = command
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
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
    parser.add_argument("--before", metavar="SRC", help="also time toll from this source folder (before a change)")
    parser.add_argument("--as-source", action="store_true", help="keep PYTHONDONTWRITEBYTECODE for the commands timed")
    args = parser.parse_args()
    env_note = f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as home:
        argvs = commands(home, args.before, as_source=args.as_source)
        for argv in argvs.values():  # warm the OS cache and the bytecode once
            time_once(argv)
        times: dict[str, list[float]] = {name: [] for name in argvs}
        for _ in range(args.runs):
            for name, argv in argvs.items():
                times[name].append(time_once(argv))
        print(f"{args.runs} runs each, interleaved ({env_note})")
        base = statistics.median(times["import typer"])
        print(f"{'command':<28} {'median':>9} {'min':>9} {'ratio':>7}")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:<28} {median * 1000:>7.0f}ms {min(samples) * 1000:>7.0f}ms {median / base:>6.2f}x")
        if args.modules:
            print("heavy modules loaded by `toll --help`:", ", ".join(heavy_modules_loaded(home)) or "none")


if __name__ == "__main__":
    main()
