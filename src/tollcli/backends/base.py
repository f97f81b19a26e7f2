"""The seam between backends: one abstract class, two implementations (`local`, `aws`).

The CLI and the shared code (generator, queries, anomaly) talk only to `Backend`; nothing
outside `backends/` knows whether records land in a folder or in S3.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tollcli.config import Settings
from tollcli.errors import TollError
from tollcli.records import RecordChunk
from tollcli.state import Ledger, Resource, toll_command_for

if TYPE_CHECKING:
    from tollcli.anomaly.app import AnomalyConfig

EventCallback = Callable[[str], None]


def ignore_event(_: str) -> None:
    return None


@dataclass
class SetupReport:
    created: list[Resource] = field(default_factory=list)
    existing: list[Resource] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)


@dataclass
class ResourceStatus:
    kind: str
    name: str
    state: str  # "present", "missing", "ACTIVE", ...
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusReport:
    backend: str
    home: str
    set_up: bool
    resources: list[ResourceStatus] = field(default_factory=list)
    unknown: list[ResourceStatus] = field(default_factory=list)  # tagged by toll, not in the ledger
    notes: list[str] = field(default_factory=list)
    monthly_cost_usd: float | None = None


@dataclass
class TeardownReport:
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (resource, reason)
    nothing_to_do: bool = False


@dataclass
class SinkStats:
    accepted: int = 0  # records durably delivered (in an object, or acknowledged by Firehose)
    retried: int = 0
    failed: int = 0
    objects: int = 0
    api_calls: int = 0
    stream_records: int = 0  # AWS: records the stream accepted (many lines each): what Firehose bills per
    billed_bytes: int = 0  # AWS: their size as billed (each record rounded up to the service's unit)


def refused_for_good(service: str, records: int, attempts: int, reason: str) -> TollError:
    """A batch still refused after every attempt: what an AWS sink stops with."""
    return TollError(
        f"{service} refused {records:,} records {attempts} times in a row ({reason}): "
        "the stream is throttled or failing; lower --rate or try again later"
    )


def stopped_with_count(error: TollError, *, accepted: int, received: int, destination: str) -> TollError:
    """A sink that stops says how many of the records it took were delivered (exit 1: some were)."""
    return TollError(f"{error.message} ({accepted:,} of {received:,} records were delivered to {destination}; the rest were not)")


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


@dataclass
class DeployReport:
    """What `toll deploy` did: resources made or kept, notes for the user, and a replay's figures."""

    created: list[Resource] = field(default_factory=list)
    existing: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    replay: dict[str, Any] | None = None  # objects, records, windows, alerts, late_records, ...

    @property
    def changed(self) -> bool:
        return bool(self.created)


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    skipped_rows: int = 0
    bytes_scanned: int | None = None
    cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)


class Backend(ABC):
    """One pipeline: provisioning, delivery, SQL, anomaly app. Keyword-only on purpose."""

    name: str = "base"
    query_timeout: float | None = 300.0  # seconds a local query may run (`toll query --timeout`)
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
        from tollcli.errors import UsageError

        ledger = self.load_ledger()
        if ledger is None:
            toll = toll_command_for(self.settings.home)
            raise UsageError(f"nothing is set up in {Path(self.settings.home).resolve()}: run `{toll} setup` first")
        return ledger

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

    def open_anomaly_feed(self, *, on_alert: EventCallback | None = None, bulk: bool = False) -> AnomalyFeed | None:
        """The deployed anomaly app's input, or None when no app is deployed (`toll deploy`).

        `on_alert` receives each alert's message (the default prints it on stderr). `bulk` says
        records come faster than real time (a backfill): a backend may score on another core.
        """
        return None

    # anomaly app ----------------------------------------------------------------------------
    def deploy(self, *, config: AnomalyConfig, replay: bool = False, on_event: EventCallback = ignore_event) -> DeployReport:
        """Deploy (or reconfigure) the anomaly app; `replay` scores what the bucket already holds."""
        from tollcli.errors import UsageError

        raise UsageError(f"`toll deploy` is not available on the {self.name} backend")

    def read_alerts(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """The alerts raised, oldest first; `since` (a window start) keeps only later ones."""
        from tollcli.errors import UsageError

        raise UsageError(f"`toll alerts` is not available on the {self.name} backend")

    def read_scores(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """Every scored window's rows (`anomaly_scores`), oldest first; `since` as for alerts."""
        from tollcli.errors import UsageError

        raise UsageError(f"`toll alerts --scores` is not available on the {self.name} backend")

    # QuickSight (`toll dashboard --quicksight`) ---------------------------------------------
    def publish_quicksight(self, *, user_arn: str | None = None, on_event: EventCallback = ignore_event) -> Any:
        """The workshop's QuickSight analysis, shared with `user_arn`; a `quicksight.QuickSightReport`."""
        from tollcli.errors import UsageError

        raise UsageError("--quicksight needs --backend aws (QuickSight is an AWS service); `toll dashboard` alone works offline")

    # SQL ------------------------------------------------------------------------------------
    @abstractmethod
    def query(self, sql: str, *, strict: bool = False) -> QueryResult:
        """Run one read-only statement in the dialect Athena accepts."""

    def compact(self, *, on_event: EventCallback = ignore_event) -> Any:
        """Rewrite delivered CSV objects as Parquet (`toll compact`); returns a CompactReport."""
        from tollcli.errors import UsageError

        raise UsageError(f"`toll compact` is not available on the {self.name} backend")
