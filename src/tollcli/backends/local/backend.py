"""The embedded backend: a lake folder laid out like the S3 bucket, and DuckDB as Athena.

Home layout (all of it recorded in the ledger, so teardown removes exactly this; a folder that
existed before `toll` first wrote there is surveyed first (`ledger.meta["preexisting"]`), and
teardown then removes only what appeared in it since, never the folder or the files it held):

    <home>/ledger.json                      what toll created, with settings
    <home>/bucket/YYYY/MM/DD/HH/<objects>   what the delivery stream delivered (as Firehose)
    <home>/streams/toll-data-stream.json    the delivery stream's configuration
    <home>/anomaly/...                      the anomaly app (after `toll deploy`)
    <home>/live-runs/<pid>.json             a live run's mark while its stream is open (live_runs.py)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tollcli.backends.base import AnomalyFeed, Backend, Capabilities, RecordSink
from tollcli.backends.local.delivery import LocalDeliveryStream
from tollcli.backends.local.layout import COMPACTED_FOLDER, delivered_log_path
from tollcli.backends.local.live_runs import LIVE_RUNS_DIR, LIVE_RUNS_KIND, live_runs, mark_live_run
from tollcli.backends.reports import (
    CompactReport,
    DeployReport,
    EventCallback,
    QueryResult,
    ReplayFigures,
    ResourceStatus,
    SetupReport,
    StatusReport,
    TeardownReport,
    ignore_event,
)
from tollcli.config import DATABASE_NAME, DEFAULT_THRESHOLD, STREAM_NAME, TABLE_NAME, check_buffering
from tollcli.errors import TollError, UsageError
from tollcli.state import Ledger, Resource, atomic_write_json, describe_resource

if TYPE_CHECKING:
    from tollcli.anomaly.app import AnomalyConfig
    from tollcli.backends.local.anomaly_feed import LocalAnomalyStore

TABLE_COLUMNS = {"date": "VARCHAR", "toll": "VARCHAR", "user": "VARCHAR"}
ANOMALY_APP_KIND = "anomaly_app"
ANOMALY_APP_NAME = "toll-anomaly"
ANOMALY_TABLE = f"{DATABASE_NAME}.anomaly_scores"


def folder_usage(path: Path) -> tuple[int, int]:
    """(object count, bytes) of the files below `path`, skipping in-flight temporary files."""
    count = size = 0
    if not path.is_dir():
        return 0, 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            if name.startswith("."):
                continue
            count += 1
            try:
                size += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return count, size


class LocalBackend(Backend):
    name = "local"
    capabilities = Capabilities(replay=True, compact=True, quicksight=False, event_time_backfill=True)

    # layout ---------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def bucket_path(self) -> Path:
        return self.home / "bucket"

    @property
    def stream_config_path(self) -> Path:
        return self.home / "streams" / f"{STREAM_NAME}.json"

    def stream_config(self) -> dict[str, Any]:
        """The delivery stream's settings, as setup wrote them."""
        self.require_ledger()
        try:
            return json.loads(self.stream_config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"the delivery stream {STREAM_NAME} is missing: run `toll setup` again") from None
        except ValueError as exc:
            raise UsageError(f"{self.stream_config_path} is corrupt ({exc})") from None

    def record_path(self, ledger: Ledger, kind: str, name: str, path: Path, **settings: Any) -> Resource:
        """Record a file or folder under the home as ours, so teardown removes it (call before writing there)."""
        self.note_preexisting(ledger, path)
        return ledger.record(Resource(kind=kind, name=name, settings={"path": str(path), **settings}))

    def note_preexisting(self, ledger: Ledger, path: Path) -> None:
        """Before `toll` first writes at `path`: remember what is already there, so teardown keeps it.

        `None` means `toll` made the path; a list holds the entries (relative) that were there before.
        """
        surveyed = ledger.meta.setdefault("preexisting", {})
        key = str(path)
        if key in surveyed or any(r.settings.get("path") == key for r in ledger.resources):
            return
        if path.is_dir():
            surveyed[key] = sorted(str(p.relative_to(path)) for p in path.rglob("*"))
        elif path.exists() or path.is_symlink():
            surveyed[key] = ["."]
        else:
            surveyed[key] = None
        ledger.save()

    def expected_path(self, kind: str, name: str) -> Path | None:
        """Where `toll` keeps a resource of this kind; a ledger entry naming anything else is refused."""
        return {
            "bucket": self.bucket_path,
            "delivery_stream": self.home / "streams" / f"{name}.json",
            "query_cache": self.home / "catalog",
            "compacted": self.home / COMPACTED_FOLDER / name.rpartition(".")[2],
            LIVE_RUNS_KIND: self.home / LIVE_RUNS_DIR,
            ANOMALY_APP_KIND: self.anomaly_path,
        }.get(kind)

    # provisioning ---------------------------------------------------------------------------
    def _new_ledger(self) -> Ledger:
        home_existed = self.home.exists()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            probe = self.home / ".toll-write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UsageError(f"--home {self.home} is not writable: {exc.strerror}") from None
        ledger = Ledger(path=self.settings.ledger_path, backend=self.name, stack=self.settings.stack)
        ledger.meta["home_created"] = not home_existed
        ledger.save()
        return ledger

    def setup(self, *, buffer_mb: int, buffer_seconds: int, on_event: EventCallback = ignore_event) -> SetupReport:
        check_buffering(buffer_mb, buffer_seconds)
        ledger = self.load_ledger()
        if ledger is not None and ledger.backend != self.name:
            raise UsageError(f"{self.home} holds a {ledger.backend} stack: tear it down or use another --home")
        if ledger is None:
            if self.home.exists() and any(p.name != ".toll-write-probe" for p in self.home.iterdir()):
                stray = [p.name for p in self.home.iterdir()][:3]
                if self.bucket_path.exists() or (self.home / "streams").exists():
                    raise UsageError(f"{self.home} holds toll files but no ledger ({', '.join(stray)}): remove them first")
            ledger = self._new_ledger()
        report = SetupReport()
        stream_settings = {
            "source": "Direct PUT",
            "destination": "bucket",
            "bucket": str(self.bucket_path),
            "prefix": "",
            "buffering_mb": buffer_mb,
            "buffering_seconds": buffer_seconds,
        }
        wanted: list[tuple[str, str, Path, dict[str, Any]]] = [
            ("bucket", "bucket", self.bucket_path, {"encryption": "n/a (local folder)"}),
            ("delivery_stream", STREAM_NAME, self.stream_config_path, stream_settings),
        ]
        for kind, name, path, settings in wanted:
            existing = ledger.find(kind, name)
            current = {"path": str(path), **settings}
            if existing is not None and existing.settings == current and path.exists():
                report.existing.append(existing)
                continue
            self.note_preexisting(ledger, path)
            try:
                if kind == "bucket":
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    atomic_write_json(path, {"name": name, **settings})
            except OSError as exc:
                raise TollError(f"cannot create {kind} {name} at {path}: {exc.strerror}") from None
            verb = "updated" if existing else "created"
            on_event(f"{verb} {describe_resource(kind, name, path)}")
            report.created.append(self.record_path(ledger, kind, name, path, **settings))
        catalog: list[tuple[str, str, dict[str, Any]]] = [
            ("database", DATABASE_NAME, {"engine": "duckdb"}),
            (
                "table",
                f"{DATABASE_NAME}.{TABLE_NAME}",
                {"columns": TABLE_COLUMNS, "location": str(self.bucket_path), "format": "csv", "delimiter": ","},
            ),
        ]
        for kind, name, settings in catalog:
            existing = ledger.find(kind, name)
            if existing is not None and existing.settings == settings:
                report.existing.append(existing)
                continue
            on_event(f"created {describe_resource(kind, name)}")
            report.created.append(ledger.record(Resource(kind=kind, name=name, settings=settings)))
        return report

    def status(self) -> StatusReport:
        ledger = self.load_ledger()
        report = StatusReport(backend=self.name, home=str(self.home), set_up=ledger is not None)
        if ledger is None:
            report.notes.append("nothing is set up here: run `toll setup`")
            return report
        for resource in ledger.resources:
            details = dict(resource.settings)
            path = details.get("path")
            state = "present"
            if path is not None and not Path(path).exists():
                state = "missing"
            if resource.kind == "bucket" and path is not None:
                objects, size = folder_usage(Path(path))
                details.update(objects=objects, bytes=size)
            report.resources.append(ResourceStatus(kind=resource.kind, name=resource.name, state=state, details=details))
        report.monthly_cost_usd = 0.0
        report.notes.append("the local backend costs nothing to keep")
        return report

    def teardown(self, *, on_event: EventCallback = ignore_event) -> TeardownReport:
        ledger = self.load_ledger()
        report = TeardownReport()
        if ledger is None:
            if self.home.exists() and any(self.home.iterdir()):
                raise UsageError(f"{self.home} holds no toll ledger: refusing to delete anything there")
            report.nothing_to_do = True
            return report
        if ledger.backend != self.name:
            raise UsageError(f"{self.home} holds a {ledger.backend} stack: use --backend {ledger.backend}")
        surveyed = ledger.meta.get("preexisting") or {}
        for resource in reversed(list(ledger.resources)):
            label = f"{resource.kind} {resource.name}"
            path = resource.settings.get("path")
            try:
                # skew.json and event-time.json are the shared layer's: removed where it keeps them
                if not self.remove_shared_home_file(resource) and path is not None:
                    target = self._teardown_target(resource.kind, resource.name, Path(path))
                    kept = surveyed.get(str(path))
                    if kept is not None:
                        _remove_new_entries(target, set(kept))
                    elif target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
                    _remove_empty_parents(target.parent, self.home)
            except (OSError, TollError) as exc:
                report.failed.append((label, getattr(exc, "strerror", None) or str(exc)))
                continue
            ledger.forget(resource.kind, resource.name)
            report.removed.append(label)
            on_event(f"removed {resource.describe()}")
        if not report.failed:
            self.settings.ledger_path.unlink(missing_ok=True)
            if ledger.meta.get("home_created"):
                try:
                    self.home.rmdir()
                except OSError:
                    pass
        return report

    def _teardown_target(self, kind: str, name: str, target: Path) -> Path:
        """A ledger path teardown may remove: inside the home, not the home, where `toll` keeps that kind."""
        home = self.home.resolve()
        resolved = target.parent.resolve() / target.name  # the entry itself, even if it is a link
        if resolved == home or home not in resolved.parents:
            raise TollError(f"the ledger names {target}, which is not inside the home: refusing to delete it")
        expected = self.expected_path(kind, name)
        if expected is not None and resolved != expected.parent.resolve() / expected.name:
            raise TollError(f"the ledger names {target} for {kind} {name}, not {expected}: refusing to delete it")
        return resolved

    # delivery and SQL -----------------------------------------------------------------------
    def open_sink(self, *, realtime: bool) -> RecordSink:
        config = self.stream_config()
        # a live run marks the home until its stream closes, so `toll query` can say records are on their way
        marker = mark_live_run(self.home, self.require_ledger()) if realtime else None
        return LocalDeliveryStream(
            bucket=self.bucket_path,
            stream_name=STREAM_NAME,
            buffer_bytes=int(config["buffering_mb"]) * 1024 * 1024,
            buffer_seconds=float(config["buffering_seconds"]),
            realtime=realtime,
            delivered_log=delivered_log_path(self),  # well-formed objects, so queries need not check them
            live_marker=marker,
        )

    def buffering_seconds(self) -> float:
        return float(self.stream_config()["buffering_seconds"])

    def deliveries_in_progress(self) -> list[int]:
        return live_runs(self.home)

    # The DuckDB engine (~70 ms to import) and the anomaly feed (the forest, ~40 ms) load only in the
    # methods that use them: `toll setup`, `status`, `skew` and `teardown` never need them.
    def query(self, sql: str, *, strict: bool = False) -> QueryResult:
        from tollcli.backends.local.engine import run_local_query  # lazy: see above

        self.require_ledger()
        return run_local_query(self, sql, strict=strict, timeout=self.query_timeout)

    def compact(self, *, on_event: EventCallback = ignore_event) -> CompactReport:
        from tollcli.backends.local.compact import compact  # lazy: it runs the DuckDB engine

        return compact(self, on_event=on_event)

    # anomaly app ----------------------------------------------------------------------------
    @property
    def anomaly_path(self) -> Path:
        return self.home / "anomaly"

    def _anomaly_store(self) -> LocalAnomalyStore | None:
        """The deployed app's folder, or None when the ledger holds no app."""
        from tollcli.backends.local.anomaly_feed import LocalAnomalyStore  # lazy: see `query`

        ledger = self.load_ledger()
        if ledger is None or ledger.find(ANOMALY_APP_KIND, ANOMALY_APP_NAME) is None:
            return None
        return LocalAnomalyStore(self.anomaly_path)

    def _require_anomaly_store(self) -> LocalAnomalyStore:
        self.require_ledger()
        store = self._anomaly_store()
        if store is None:
            raise UsageError(f"no anomaly app is deployed in {self.home}: run `toll deploy` first")
        return store

    def deploy(self, *, config: AnomalyConfig, replay: bool = False, on_event: EventCallback = ignore_event) -> DeployReport:
        # lazy: see `query`
        from tollcli.anomaly import SCORE_COLUMNS
        from tollcli.backends.local.anomaly_feed import LocalAnomalyStore, hold_feed_lock

        config.check()
        if config.email or config.phone:
            raise UsageError("--email and --phone subscribe to SNS on the aws backend; locally, use --webhook URL")
        ledger = self.require_ledger()
        if ledger.backend != self.name:
            raise UsageError(f"{self.home} holds a {ledger.backend} stack: use --backend {ledger.backend}")
        if replay and not self.bucket_path.is_dir():
            raise UsageError(f"the bucket {self.bucket_path} is missing: run `toll setup` again")
        store = LocalAnomalyStore(self.anomaly_path)
        deployed = ledger.find(ANOMALY_APP_KIND, ANOMALY_APP_NAME)
        previous = store.load_config() if deployed is not None else None
        report = DeployReport(config=config.to_json())
        fresh_model = previous is None or not config.same_model(previous)
        self.note_preexisting(ledger, self.anomaly_path)
        try:
            if fresh_model or replay:
                with hold_feed_lock(store):
                    store.reset()
                if previous is not None and fresh_model:
                    report.notes.append("the model settings changed: a fresh model starts (earlier scores and alerts removed)")
            store.scores_path.mkdir(parents=True, exist_ok=True)
            store.save_config(config)
        except OSError as exc:
            raise TollError(f"cannot write the anomaly app to {self.anomaly_path}: {exc.strerror}") from None
        app_settings = {"mode": config.mode, "threshold": config.threshold, "webhook": config.webhook}
        resource = self.record_path(ledger, ANOMALY_APP_KIND, ANOMALY_APP_NAME, self.anomaly_path, **app_settings)
        (report.existing if deployed is not None and deployed.settings == resource.settings else report.created).append(resource)
        on_event(f"{'deployed' if deployed is None else 'updated'} {ANOMALY_APP_KIND} {ANOMALY_APP_NAME} ({config.mode} mode)")
        table_settings = {"columns": SCORE_COLUMNS, "location": str(store.scores_path), "format": "jsonl"}
        table = ledger.find("table", ANOMALY_TABLE)
        if table is not None and table.settings == table_settings:
            report.existing.append(table)
        else:
            report.created.append(ledger.record(Resource(kind="table", name=ANOMALY_TABLE, settings=table_settings)))
            on_event(f"created table {ANOMALY_TABLE}")
        if replay:
            report.replay = self._replay(store, config, on_event)
        return report

    def _replay(self, store: LocalAnomalyStore, config: AnomalyConfig, on_event: EventCallback) -> ReplayFigures:
        from tollcli.backends.local.anomaly_feed import LocalAnomalyFeed, replay_objects, scoring_for  # lazy: see `query`

        figures = ReplayFigures()
        on_event(f"replaying the records in {self.bucket_path}")
        scoring = scoring_for(bulk=True)
        with LocalAnomalyFeed(store, config, on_alert=on_event, on_problem=on_event, scoring=scoring) as feed:
            for parsed in replay_objects(self.bucket_path):
                figures.objects += 1
                figures.records += len(parsed.times)
                figures.unreadable_records += parsed.unreadable
                feed.process(parsed.times, parsed.stations)
        figures.windows = feed.stats.windows
        figures.alerts = feed.stats.alerts
        figures.late_records = feed.stats.late_records
        figures.rejected_records = feed.stats.rejected_records
        figures.open_windows = len(feed.app.windows.open)
        return figures

    def open_anomaly_feed(self, *, on_alert: EventCallback | None = None, bulk: bool = False) -> AnomalyFeed | None:
        from tollcli.backends.local.anomaly_feed import LocalAnomalyFeed, print_to_stderr, scoring_for  # lazy: see `query`

        store = self._anomaly_store()
        if store is None:
            return None
        config = store.load_config()
        if config is None:
            raise UsageError(f"the anomaly app's settings are missing in {self.anomaly_path}: run `toll deploy` again")
        return LocalAnomalyFeed(store, config, on_alert=on_alert or print_to_stderr, scoring=scoring_for(bulk=bulk))

    def deployed_anomaly_threshold(self) -> float | None:
        """The threshold `deploy` recorded on the app, once the app's scores table is in the ledger."""
        ledger = self.load_ledger()
        if ledger is None or ledger.find("table", ANOMALY_TABLE) is None:
            return None
        app = ledger.find(ANOMALY_APP_KIND, ANOMALY_APP_NAME)
        threshold = app.settings.get("threshold") if app is not None else None
        return float(threshold) if isinstance(threshold, (int, float)) else DEFAULT_THRESHOLD

    def read_alerts(self, *, since: str | None = None) -> list[dict[str, Any]]:
        return self._require_anomaly_store().alerts.read(since=since)

    def read_scores(self, *, since: str | None = None) -> list[dict[str, Any]]:
        return self._require_anomaly_store().read_scores(since=since)


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _remove_new_entries(folder: Path, kept: set[str]) -> None:
    """In a folder that existed before `toll`: remove what was not there then (deepest first), keep the rest."""
    if kept == {"."} or not folder.is_dir() or folder.is_symlink():
        return
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            entry = Path(root, name)
            if str(entry.relative_to(folder)) not in kept:
                entry.unlink()
        for name in dirs:
            entry = Path(root, name)
            if not entry.is_symlink() and str(entry.relative_to(folder)) not in kept:
                try:
                    entry.rmdir()
                except OSError:
                    pass  # it still holds something that was there before


def _remove_empty_parents(folder: Path, home: Path) -> None:
    """Remove folders we emptied (e.g. `streams/`), never the home itself."""
    home = home.resolve()
    current = folder.resolve()
    while current != home and _is_inside(current, home):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
