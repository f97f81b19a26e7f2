"""The seam between backends: the `Backend` interface, and its two implementations' only contract.

Two packages implement it, `backends/local/` (a folder and DuckDB) and `backends/aws/` (Firehose,
S3, Athena, Kinesis, Lambda). The CLI and the shared layer (generator, KDG, questions, anomaly
core, workshop, dashboard) import only this module and `reports.py`, the result types beside it;
`open_backend` (`backends/__init__.py`) is the one place that picks an implementation. What one
backend can do and the other cannot is asked from `Backend.capabilities`, never found out by
catching an error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from tollcli.backends.reports import (
    CompactReport,
    DeployReport,
    EventCallback,
    QueryResult,
    QuickSightReport,
    SetupReport,
    SinkStats,
    StatusReport,
    TeardownReport,
    ignore_event,
)
from tollcli.config import DEFAULT_QUERY_TIMEOUT, Settings
from tollcli.errors import UsageError
from tollcli.state import EVENT_TIME_KIND, SKEW_KIND, Ledger, Resource, event_time_path, skew_path, toll_command_for

if TYPE_CHECKING:
    # Only in annotations here. Both load numpy (the anomaly core also krcf), ~110 ms and ~55 ms; without
    # them the interface is light, so the CLI imports it at the top and `toll --help` still loads no numpy.
    from tollcli.anomaly.app import AnomalyConfig
    from tollcli.records import RecordChunk


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the core every backend has (setup, delivery, SQL, the anomaly app).

    Callers ask before they offer or choose something; a method a backend lacks still refuses
    with a clear UsageError, for a user who asks for it anyway."""

    replay: bool = False  # `deploy(replay=True)`: the app first learns what the bucket already holds
    compact: bool = False  # `compact()`: delivered CSV objects rewritten as Parquet
    quicksight: bool = False  # `publish_quicksight()`: the workshop's QuickSight analysis
    # A backfill lands where its event time says, in seconds (and the anomaly app windows it by event
    # time), so `toll workshop` backfills by default; without it, the workshop runs in real time.
    event_time_backfill: bool = False


OptionalFeature = Literal["compact", "quicksight"]  # the `Capabilities` a command asks before it runs


class RecordSink(ABC):
    """Where generated records go: a Firehose-like delivery stream."""

    @abstractmethod
    def write(self, chunk: RecordChunk) -> None:
        """Accept a chunk; it may buffer it until a size or interval hint is reached."""

    @abstractmethod
    def flush(self) -> None:
        """Deliver everything buffered now."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release; safe to call twice."""

    def poll(self) -> None:
        """Called while the generator waits between records: deliver what a wall-clock interval says is due."""
        return None

    @property
    @abstractmethod
    def stats(self) -> SinkStats: ...

    def __enter__(self) -> RecordSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AnomalyFeed(ABC):
    """Where `toll generate` hands every chunk after delivering it, when an app is deployed."""

    @abstractmethod
    def consume(self, chunk: RecordChunk) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Checkpoint the model and windows so a later run resumes where this one stopped."""

    @property
    def late_records(self) -> int:
        """Records that came after their window had closed, so were not scored (never, where windows go by arrival)."""
        return 0


class Backend(ABC):
    """One pipeline: provisioning, delivery, SQL, anomaly app. Keyword-only on purpose."""

    name: ClassVar[str] = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()
    query_timeout: float | None = DEFAULT_QUERY_TIMEOUT  # seconds a query may run on either backend (`toll query --timeout`)
    # Our own SQL (the questions, the dashboard) may keep its translation under the home, so a later
    # process skips sqlglot; a user's `toll query sql` leaves the home exactly as it was (threat model).
    keep_translations: bool = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ledger ---------------------------------------------------------------------------------
    def load_ledger(self) -> Ledger | None:
        return Ledger.load(self.settings.ledger_path)

    def require_ledger(self) -> Ledger:
        """The ledger, or a UsageError telling the user to run `toll setup` first."""
        ledger = self.load_ledger()
        if ledger is None:
            toll = toll_command_for(self.settings.home)
            raise UsageError(f"nothing is set up in {Path(self.settings.home).resolve()}: run `{toll} setup` first")
        return ledger

    def remove_shared_home_file(self, resource: Resource) -> bool:
        """Teardown's part for a file the shared layer keeps under the home and records in the ledger
        (`toll skew`'s skew.json, the generator's event-time.json): remove it where the shared layer
        keeps it (never at a path the ledger names) and say True; False for any other resource."""
        path_of = {SKEW_KIND: skew_path, EVENT_TIME_KIND: event_time_path}.get(resource.kind)
        if path_of is None:
            return False
        path_of(Path(self.settings.home)).unlink(missing_ok=True)
        return True

    # provisioning ---------------------------------------------------------------------------
    @abstractmethod
    def setup(self, *, buffer_mb: int, buffer_seconds: int, on_event: EventCallback = ignore_event) -> SetupReport:
        """Create the Section 1 pipeline; idempotent."""

    @abstractmethod
    def status(self) -> StatusReport: ...

    @abstractmethod
    def teardown(self, *, on_event: EventCallback = ignore_event) -> TeardownReport:
        """Remove exactly what the ledger lists; safe to run twice."""

    # delivery -------------------------------------------------------------------------------
    @abstractmethod
    def open_sink(self, *, realtime: bool) -> RecordSink:
        """A delivery stream to write records to; `realtime` chooses wall-clock buffering."""

    @abstractmethod
    def buffering_seconds(self) -> float:
        """How long the delivery stream may hold a record before it lands (its interval hint)."""

    @abstractmethod
    def deliveries_in_progress(self) -> list[int]:
        """Process ids of the live runs delivering here now, whose last `buffering_seconds` of records
        may not have landed yet; [] where the backend cannot know."""

    def open_anomaly_feed(self, *, on_alert: EventCallback | None = None, bulk: bool = False) -> AnomalyFeed | None:
        """The deployed anomaly app's input, or None when no app is deployed (`toll deploy`).

        `on_alert` receives each alert's message (the default prints it on stderr). `bulk` says
        records come faster than real time (a backfill): a backend may score on another core.
        """
        return None

    # anomaly app ----------------------------------------------------------------------------
    @abstractmethod
    def deploy(self, *, config: AnomalyConfig, replay: bool = False, on_event: EventCallback = ignore_event) -> DeployReport:
        """Deploy (or reconfigure) the anomaly app; `replay` (see `capabilities.replay`) first scores
        what the bucket already holds."""

    @abstractmethod
    def deployed_anomaly_threshold(self) -> float | None:
        """The score above which the deployed anomaly app alerts, as `toll deploy` recorded it, or
        None when no app is deployed (there are no scores to read)."""

    @abstractmethod
    def read_alerts(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """The alerts raised, oldest first; `since` (a window start) keeps only later ones."""

    @abstractmethod
    def read_scores(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """Every scored window's rows (`anomaly_scores`), oldest first; `since` as for alerts."""

    # SQL ------------------------------------------------------------------------------------
    @abstractmethod
    def query(self, sql: str, *, strict: bool = False) -> QueryResult:
        """Run one read-only statement in the dialect Athena accepts."""

    # optional (see `capabilities`) ----------------------------------------------------------
    def refusal(self, feature: OptionalFeature) -> str:
        """The one line a user sees when this backend lacks `feature`: a command that finds
        `capabilities.<feature>` false says it before doing anything, and the method refuses with it."""
        if feature == "compact":
            return f"`toll compact` is not available on the {self.name} backend"
        return "--quicksight needs --backend aws (QuickSight is an AWS service); `toll dashboard` alone works offline"

    def compact(self, *, on_event: EventCallback = ignore_event) -> CompactReport:
        """Rewrite delivered CSV objects as Parquet (`toll compact`)."""
        raise UsageError(self.refusal("compact"))

    def publish_quicksight(self, *, user_arn: str | None = None, on_event: EventCallback = ignore_event) -> QuickSightReport:
        """The workshop's QuickSight analysis, shared with `user_arn` (`toll dashboard --quicksight`)."""
        raise UsageError(self.refusal("quicksight"))
