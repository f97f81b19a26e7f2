"""What backends report: the result types of the `Backend` interface (`base.py`), shared by both.

Each command's JSON output is built from these (`vars(report)`), so a field added here shows up
in `--format json` on both backends alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tollcli.state import Resource

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


@dataclass
class ReplayFigures:
    """What `toll deploy --replay` scored of the bucket before the app went live (`--format json`: an object)."""

    objects: int = 0
    records: int = 0
    unreadable_records: int = 0  # lines whose date could not be read (not counted in `records`)
    windows: int = 0
    alerts: int = 0
    late_records: int = 0
    rejected_records: int = 0  # records with no station, which no window counts
    open_windows: int = 0  # windows still open at the end, scored when the live records close them


@dataclass
class DeployReport:
    """What `toll deploy` did: resources made or kept, notes for the user, and a replay's figures."""

    created: list[Resource] = field(default_factory=list)
    existing: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    replay: ReplayFigures | None = None  # None: no replay was asked for (or the backend cannot replay)

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


@dataclass
class CompactReport:
    table: str
    objects_compacted: int = 0
    parts_written: int = 0
    rows: int = 0
    skipped_rows: int = 0
    objects_kept_raw: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    parts_total: int = 0
    rows_total: int = 0
    folder: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return self.objects_compacted == 0


@dataclass
class QuickSightReport:
    analysis_url: str = ""
    principal: str = ""
    created: list[Resource] = field(default_factory=list)
    existing: list[Resource] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)
