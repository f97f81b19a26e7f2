"""What each lazy import in src/tollcli costs, to check the figure its comment quotes.

Each case runs in a fresh interpreter: `import tollcli.cli` (what every command has loaded), then the
case's setup (what the code path has loaded before it), then perf_counter around the import. Median
of --runs (5) runs, in ms. A case whose setup is not `tollcli.cli` says so (the Lambda's cold start).

    PYTHONPATH=src python bench/bench_lazy_imports.py [--runs 5] [--only NAME]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CLI = "import tollcli.cli"
# name: (setup, what is timed, where the figure is quoted)
CASES: dict[str, tuple[str, str, str]] = {
    "rich.table": (CLI, "import rich.table", "render.py, cli/query.py, cli/generate.py, cli/anomaly.py"),
    "rich.live": (CLI, "import rich.live", "cli/generate.py"),
    "filelock": (CLI, "import filelock", "oscompat.py"),
    "ctypes": (CLI, "import ctypes", "oscompat.py (Windows)"),
    "backends.reports": (CLI, "import tollcli.backends.reports", "cli/common.py"),
    "backends (open_backend)": (CLI, "import tollcli.backends", "cli/common.py"),
    "questions": (CLI, "import tollcli.questions", "cli/query.py"),
    "athena_values": (CLI, "import tollcli.athena_values", "cli/query.py"),
    "generator": (CLI, "import tollcli.generator", "state.py"),
    "generator + stream_sink": (CLI, "import tollcli.generator, tollcli.stream_sink", "cli/generate.py"),
    "kdg": (CLI, "import tollcli.kdg", "cli/generate.py"),
    "records": (CLI, "import tollcli.records", "backends/base.py"),
    "anomaly.app": (CLI, "import tollcli.anomaly.app", "backends/base.py, cli/anomaly.py"),
    "anomaly.alerts": (CLI, "import tollcli.anomaly.alerts", "cli/anomaly.py"),
    "dashboard": (CLI, "import tollcli.dashboard", "cli/workshop.py"),
    "workshop + reporter": (CLI, "import tollcli.cli.workshop_reporter, tollcli.workshop", "cli/workshop.py"),
    "local engine (duckdb)": (
        f"{CLI}; import tollcli.backends.local.backend",
        "import tollcli.backends.local.engine",
        "backends/local/backend.py",
    ),
    "local anomaly feed": (
        f"{CLI}; import tollcli.backends.local.backend",
        "import tollcli.backends.local.anomaly_feed",
        "backends/local/backend.py",
    ),
    "sqlglot rewrites after the engine": (
        f"{CLI}; import tollcli.backends.local.engine",
        "import tollcli.backends.local.dialect_rewrites",
        "backends/local/dialect.py",
    ),
    "aws backend (boto3)": (CLI, "import tollcli.backends.aws.backend", "backends/__init__.py"),
    "pyathena after the aws backend": (
        f"{CLI}; import tollcli.backends.aws.backend",
        "from pyathena import connect; from pyathena.error import Error",
        "backends/aws/client.py",
    ),
    "render (rich) in the Lambda": (
        "import tollcli.backends.aws.lambda_handler",
        "import tollcli.render",
        "backends/aws/__init__.py (no tollcli.cli: the function's cold start)",
    ),
}

PROGRAM = "import time\n{setup}\nstart = time.perf_counter()\n{timed}\nprint(time.perf_counter() - start)"


def measure(setup: str, timed: str) -> float:
    code = PROGRAM.format(setup=setup.replace("; ", "\n"), timed=timed.replace("; ", "\n"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    for name, (setup, timed, where) in CASES.items():
        if args.only and args.only not in name:
            continue
        runs = sorted(measure(setup, timed) for _ in range(args.runs))
        print(f"{name:36} median {statistics.median(runs):7.1f} ms  (min {runs[0]:.1f}, max {runs[-1]:.1f})  {where}")


if __name__ == "__main__":
    main()
