"""Settings from command-line flags, `TOLL_*` environment variables and defaults.

Precedence for the backend follows pipx: the flag, then what the home's ledger says it was
set up with, then `TOLL_BACKEND`, then `local`. So an environment variable can never point a
later command at resources that another backend created.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tollcli.errors import UsageError

BACKENDS = ("local", "aws")
DEFAULT_HOME = ".toll"
DEFAULT_STACK = "toll"
STREAM_NAME = "toll-data-stream"
DATABASE_NAME = "toll"
TABLE_NAME = "lab_toll_data_stream"

# Firehose's documented ranges for S3 buffering hints.
BUFFER_MB_RANGE = (1, 128)
BUFFER_SECONDS_RANGE = (0, 900)
DEFAULT_BUFFER_MB = 1
DEFAULT_BUFFER_SECONDS = 60

# Option defaults the command line shows in its help. They live here, in a module that imports nothing
# heavy, so that cli/*.py need not import the anomaly app, the generator or the query engine (and numpy
# with them) to print `toll --help`; the modules that use them import them from here.
DEFAULT_THRESHOLD = 2.5  # alert above this anomaly score (the workshop's 2.5)
DEFAULT_WINDOW_SECONDS = 10.0  # the anomaly app's tumbling window of event time
DEFAULT_LATENESS_SECONDS = 2.0  # how long a window waits for late records
DEFAULT_BASELINE_WINDOWS = 30  # a station's usual count: its median over this many windows without an alert
DEFAULT_RATE = 100.0  # records per second; the workshop recommends 100
DEFAULT_QUERY_TIMEOUT = 300.0  # seconds; `toll query ... --timeout`
QUESTION_NAMES = ("busiest", "most-active", "quiet")  # `toll query NAME`: the workshop's three questions
DEFAULT_DASHBOARD = Path("toll-dashboard.html")
WARMING_UP = "warming up"  # the explanation of a row scored before the forest gives scores (`toll alerts` shows it)


@dataclass(frozen=True)
class Settings:
    """Where and how `toll` works; built once per command by the CLI."""

    backend: str = "local"
    home: Path = field(default_factory=lambda: Path(DEFAULT_HOME))
    region: str | None = None
    profile: str | None = None
    stack: str = DEFAULT_STACK
    backend_explicit: bool = False

    @property
    def ledger_path(self) -> Path:
        return self.home / "ledger.json"


def check_backend(name: str) -> str:
    value = name.strip().lower()
    if value not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return value


def check_home(home: Path) -> Path:
    """A home must be a folder (or not exist yet); a file there is bad input."""
    if home.exists() and not home.is_dir():
        raise UsageError(f"--home {home} is a file, not a folder")
    return home


def resolve_settings(
    *,
    backend: str | None,
    home: str | Path | None,
    region: str | None,
    profile: str | None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Combine flags and environment; the ledger's backend is applied by `backends.open_backend`."""
    env = os.environ if environ is None else environ
    home_path = Path(home or env.get("TOLL_HOME") or DEFAULT_HOME).expanduser()
    check_home(home_path)
    explicit = backend is not None
    chosen = backend if backend is not None else env.get("TOLL_BACKEND") or "local"
    return Settings(
        backend=check_backend(chosen),
        home=home_path,
        region=region or env.get("TOLL_REGION") or None,
        profile=profile or env.get("TOLL_PROFILE") or None,
        stack=env.get("TOLL_STACK") or DEFAULT_STACK,
        backend_explicit=explicit,
    )


def check_buffering(size_mb: int, interval_s: int) -> None:
    lo, hi = BUFFER_MB_RANGE
    if not lo <= size_mb <= hi:
        raise UsageError(f"buffer size {size_mb} MB is outside Firehose's range {lo}-{hi} MB")
    lo, hi = BUFFER_SECONDS_RANGE
    if not lo <= interval_s <= hi:
        raise UsageError(f"buffer interval {interval_s} s is outside Firehose's range {lo}-{hi} s")
