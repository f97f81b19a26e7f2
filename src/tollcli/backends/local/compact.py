"""`toll compact`: rewrite delivered CSV objects as Parquet, as Firehose's format conversion would.

For each hour folder of the bucket (`YYYY/MM/DD/HH/`), the CSV objects not compacted yet become
one Parquet part under `<home>/compacted/<table>/YYYY/MM/DD/HH/part-<uuid>.parquet`:

1. check the objects (good rows, bad rows) exactly as queries do;
2. write the good rows to a hidden temporary file, count them back from the file, fsync, and
   rename it into place;
3. keep any object that held bad rows, byte for byte, under `compacted/<table>/rejected/`;
4. record the part, its source objects and their bad-row count in the manifest (atomic write);
5. only then delete the source CSV objects.

The manifest is the truth: queries read the parts it lists plus every CSV object it does not
list as a source, so a crash at any step loses no row and counts none twice. A part left
without a manifest entry (a crash between 2 and 4) is removed by the next run, and sources a
crash left behind after step 4 are deleted then. Bad rows stay counted (queries keep reporting
them as skipped) and stay on disk in their raw form.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tollcli.backends.local.engine import (
    check_objects,
    csv_reader_sql,
    list_objects,
    new_engine,
    quote_ident,
    table_location,
    valid_row_sql,
)
from tollcli.backends.local.layout import COMPACTED_FOLDER, LocalHome
from tollcli.backends.local.manifest import CompactionManifest, delete_source
from tollcli.backends.reports import CompactReport, EventCallback, ignore_event
from tollcli.config import DATABASE_NAME, TABLE_NAME
from tollcli.errors import TollError, UsageError
from tollcli.oscompat import LockBusy, fsync_file, fsync_folder, remove_file, replace_file, take_lock
from tollcli.state import atomic_write_bytes
from tollcli.units import counted


@contextmanager
def compaction_lock(folder: Path) -> Iterator[None]:
    """One `toll compact` at a time per table; a second one is told so instead of racing."""
    try:
        lock = take_lock(folder / ".lock")
    except LockBusy:
        raise UsageError("another `toll compact` is running on this home: wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def _tidy(manifest: CompactionManifest, on_event: EventCallback) -> None:
    """Finish what a crashed run left: orphan parts and temporaries go, listed sources go."""
    listed = {str(p) for p in manifest.parquet_paths()}
    rejected = manifest.folder / "rejected"
    for root, _dirs, files in os.walk(manifest.folder):
        if Path(root) == rejected or rejected in Path(root).parents:
            continue
        for name in files:
            path = Path(root, name)
            if name.endswith(".parquet.tmp") or (name.endswith(".parquet") and str(path) not in listed):
                path.unlink(missing_ok=True)
                on_event(f"removed {path.name}, left by an interrupted compaction")
    for source in manifest.source_paths():
        if os.path.lexists(source):
            delete_source(manifest.location, source)  # (still held open on Windows: the next run tries again)


def compact(backend: LocalHome, *, on_event: EventCallback = ignore_event) -> CompactReport:
    """Rewrite every CSV object of the toll table not yet compacted as Parquet; see the module doc."""
    ledger = backend.require_ledger()
    table_name = f"{DATABASE_NAME}.{TABLE_NAME}"
    resource = ledger.find("table", table_name)
    if resource is None:
        raise UsageError(f"the table {table_name} is missing: run `toll setup` again")
    if str(resource.settings.get("format", "csv")) != "csv":
        raise UsageError(f"the table {table_name} is not CSV: nothing to compact")
    columns = {str(k): str(v) for k, v in resource.settings["columns"].items()}
    location = table_location(backend, table_name, resource.settings.get("location"))
    manifest = CompactionManifest.load(backend, TABLE_NAME, location)
    report = CompactReport(table=table_name, folder=str(manifest.folder))
    if ledger.find("compacted", table_name) is None:
        backend.record_path(ledger, "compacted", table_name, backend.home / COMPACTED_FOLDER / TABLE_NAME, format="parquet")

    with compaction_lock(manifest.folder):
        manifest = CompactionManifest.load(backend, TABLE_NAME, location)
        _tidy(manifest, on_event)
        done = manifest.source_paths()
        objects = [o for o in list_objects(location) if str(o.path) not in done]
        by_hour = defaultdict(list)
        for obj in objects:
            by_hour[obj.path.parent.relative_to(location)].append(obj)
        names = ", ".join(quote_ident(c) for c in columns)
        # Our own SQL, every path bound as a parameter, on an engine that may open only the
        # table's objects and this table's compaction folder.
        con = new_engine(folders=[str(location) + os.sep, str(manifest.folder) + os.sep])
        try:
            for hour, group in sorted(by_hour.items()):
                check_objects(con, group, columns)
                good_rows = sum(o.rows or 0 for o in group)
                skipped = sum(o.skipped or 0 for o in group)
                part_name = f"part-{uuid.uuid4()}.parquet"
                out_dir = manifest.folder / hour
                out_dir.mkdir(parents=True, exist_ok=True)
                final = out_dir / part_name
                temporary = out_dir / f".{part_name}.tmp"
                clean = [o.path for o in group if not o.skipped]
                dirty = [o.path for o in group if o.skipped]
                selects = []
                if clean:
                    selects.append(f"SELECT {names} FROM {csv_reader_sql(clean, columns)}")
                if dirty:
                    selects.append(f"SELECT {names} FROM {csv_reader_sql(dirty, columns)} WHERE {valid_row_sql(columns)}")
                query = " UNION ALL ".join(selects)
                try:
                    con.execute(f"COPY ({query}) TO $path (FORMAT parquet, COMPRESSION zstd)", {"path": str(temporary)})
                    counted_back = con.execute("SELECT count(*) FROM read_parquet($path)", {"path": str(temporary)}).fetchone()
                    written = counted_back[0] if counted_back else 0
                    if written != good_rows:
                        raise TollError(f"compaction of {hour} wrote {written} rows, expected {good_rows}: nothing changed")
                    fsync_file(temporary)
                    replace_file(temporary, final)
                    fsync_folder(out_dir)
                except (duckdb.Error, OSError) as exc:
                    temporary.unlink(missing_ok=True)
                    raise TollError(f"cannot compact {hour}: {exc}") from None
                finally:
                    temporary.unlink(missing_ok=True)
                for obj in group:
                    if obj.skipped:
                        atomic_write_bytes(manifest.folder / "rejected" / obj.path.relative_to(location), obj.path.read_bytes())
                        report.objects_kept_raw += 1
                manifest.parts.append(
                    {
                        "parquet": str(final.relative_to(manifest.folder)),
                        "sources": [str(o.path.relative_to(location)) for o in group],
                        "rows": good_rows,
                        "skipped": skipped,
                        "kept_raw": [str(o.path.relative_to(location)) for o in group if o.skipped],
                    }
                )
                try:
                    manifest.save()  # from here on the part, not the CSV objects, holds these rows
                except OSError as exc:
                    raise TollError(
                        f"cannot record {hour} in the compaction manifest ({exc.strerror}): nothing was lost"
                    ) from None
                for obj in group:
                    if not remove_file(obj.path):  # Windows: a query holds it open; listed, so the next run removes it
                        on_event(f"left {obj.path.name} for the next run to remove: another process has it open")
                report.objects_compacted += len(group)
                report.parts_written += 1
                report.rows += good_rows
                report.skipped_rows += skipped
                report.bytes_before += sum(o.size for o in group)
                report.bytes_after += final.stat().st_size
                on_event(f"compacted {hour}/: {counted(len(group), 'object')}, {counted(good_rows, 'row')} -> {part_name}")
        finally:
            con.close()
        report.parts_total = len(manifest.parts)
        report.rows_total = manifest.rows()
    return report
