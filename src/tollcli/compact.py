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

import json
import os
import stat
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tollcli.backends.base import EventCallback, ignore_event
from tollcli.config import DATABASE_NAME, TABLE_NAME
from tollcli.errors import TollError, UsageError
from tollcli.oscompat import LockBusy, fsync_file, fsync_folder, remove_file, replace_file, take_lock
from tollcli.state import atomic_write_bytes, atomic_write_json
from tollcli.units import counted

if TYPE_CHECKING:
    from tollcli.backends.local import LocalBackend

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
# (folder, location asked for, home) -> (the manifest's bytes, its location, parts, sources) as last checked
_CHECKED: dict[tuple[Path, Path | None, Path], tuple[bytes, Path, tuple[dict[str, Any], ...], Any]] = {}


def resolve_location(value: str | Path) -> Path:
    return Path(value).expanduser().resolve()


@dataclass
class CompactionManifest:
    """The Parquet parts of one table and the CSV objects each replaced (paths relative)."""

    folder: Path  # <home>/compacted/<table>
    location: Path  # the table's CSV location
    parts: list[dict[str, Any]] = field(default_factory=list)
    _sources: tuple[int, frozenset[str]] | None = field(default=None, repr=False, compare=False)  # see source_paths

    @classmethod
    def load(cls, backend: LocalBackend, table: str, location: Path | None = None) -> CompactionManifest:
        """The table's manifest, checked (`check`) once per content: every query loads it, and an
        unchanged file (the same bytes) reuses the parts checked before instead of parsing again."""
        folder = (backend.home / "compacted" / table).resolve()
        path = folder / MANIFEST_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            raise TollError(f"the compaction manifest {path} is unreadable ({exc}); fix or remove it by hand") from None
        key = (folder, location, backend.home.resolve())
        known = _CHECKED.get(key)
        if known is not None and known[0] == raw:
            return cls(folder=folder, location=known[1], parts=list(known[2]), _sources=known[3])
        try:
            data = json.loads(raw) if raw else {}
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise TollError(f"the compaction manifest {path} is unreadable ({exc}); fix or remove it by hand") from None
        stored_location = data.get("location")
        chosen = location or (Path(stored_location) if stored_location else backend.bucket_path)
        parts = data.get("parts") or []
        if not isinstance(parts, list):
            raise TollError(f"the compaction manifest {path} is corrupt (its parts are not a list)")
        manifest = cls(folder=folder, location=resolve_location(chosen), parts=list(parts))
        manifest.check(backend.home)
        manifest.source_paths()
        _CHECKED[key] = (raw, manifest.location, tuple(manifest.parts), manifest._sources)
        while len(_CHECKED) > 8:
            del _CHECKED[next(iter(_CHECKED))]
        return manifest

    def check(self, home: Path) -> None:
        """Refuse a manifest whose parts or sources point outside their folders (a hand-edited one
        could otherwise make queries read, and `toll compact` delete, any file).

        Names only: each part and source must be a plain relative path (no `..`, not absolute).
        What the names lead to is checked where it is used: a part when it is read
        (`readable_parts`: no link on the way), a source right before it is deleted (`_delete_source`)."""
        home = home.resolve()
        if not _strictly_inside(self.location, home):
            raise TollError(
                f"the compaction manifest {self.path} names the location {self.location}, outside the home: refusing it"
            )
        for part in self.parts:
            try:
                parquet, sources = str(part["parquet"]), [str(s) for s in part["sources"]]
            except (KeyError, TypeError):
                raise TollError(f"the compaction manifest {self.path} is corrupt (a part without parquet/sources)") from None
            if not _plain_relative(parquet):
                raise TollError(f"the compaction manifest {self.path} lists {parquet!r}, outside {self.folder}: refusing it")
            for source in sources:
                if not _plain_relative(source):
                    raise TollError(f"the compaction manifest {self.path} lists {source!r}, outside {self.location}: refusing it")

    def readable_parts(self) -> list[Path]:
        """The parts that exist, each a regular file reached through real folders below `folder`
        (no symbolic link anywhere on the way: with names checked by `check`, that keeps every
        part inside the folder, as resolving would, at the cost of one lstat per file and folder)."""
        found = []
        base = str(self.folder)
        real_folders = {base}
        for part in self.parts:
            path = os.path.join(base, str(part["parquet"]))
            try:
                info: os.stat_result | None = os.lstat(path)
            except FileNotFoundError:
                continue  # tidied away by `toll compact` (the manifest was read before)
            except NotADirectoryError:
                info = None
            folder = os.path.dirname(path)
            while folder not in real_folders:
                try:
                    is_folder = stat.S_ISDIR(os.lstat(folder).st_mode)
                except OSError:
                    is_folder = False
                if not is_folder or os.path.dirname(folder) == folder:
                    raise TollError(f"{folder} is not a folder toll made (a link?): refusing to read {path}")
                real_folders.add(folder)
                folder = os.path.dirname(folder)
            if info is None or not stat.S_ISREG(info.st_mode):
                raise TollError(f"{path} is not a Parquet part toll wrote (a link?): refusing to read it")
            found.append(Path(path))
        return found

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def save(self) -> None:
        atomic_write_json(self.path, {"version": MANIFEST_VERSION, "location": str(self.location), "parts": self.parts})

    def parquet_paths(self) -> list[Path]:
        return [self.folder / str(part["parquet"]) for part in self.parts]

    def source_paths(self) -> frozenset[str]:
        """The CSV objects the parts replaced (full paths); worked out once per list of parts."""
        if self._sources is None or self._sources[0] != len(self.parts):  # (parts are only ever appended)
            base = str(self.location)
            paths = frozenset(os.path.join(base, str(source)) for part in self.parts for source in part["sources"])
            self._sources = (len(self.parts), paths)
        return self._sources[1]

    def skipped_rows(self) -> int:
        return sum(int(part.get("skipped", 0)) for part in self.parts)

    def rows(self) -> int:
        return sum(int(part.get("rows", 0)) for part in self.parts)


def _plain_relative(name: str) -> bool:
    """A relative path that stays below its folder by name: not absolute, no `..`, not empty."""
    parts = name.replace("\\", "/").split("/")
    return name not in ("", ".") and not os.path.isabs(name) and parts[0] != "" and ".." not in parts and ":" not in parts[0]


def _delete_source(location: Path, path: str | Path) -> bool:
    """Delete a compacted CSV object, but only if it really is a file below `location` (no link out).
    False when Windows keeps it because another process holds it open (the next run tries again)."""
    if _strictly_inside(Path(path), location) and not os.path.islink(path):
        return remove_file(path)
    else:
        raise TollError(f"{path} is not a delivered object below {location}: refusing to delete it")


def _strictly_inside(path: Path, folder: Path) -> bool:
    """`path` (resolved, so `..` and symbolic links count) is below `folder`, and not `folder` itself."""
    return folder.resolve() in resolve_location(path).parents


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
            _delete_source(manifest.location, source)  # (still held open on Windows: the next run tries again)


def compact(backend: LocalBackend, *, on_event: EventCallback = ignore_event) -> CompactReport:
    """Rewrite every CSV object of the toll table not yet compacted as Parquet; see the module doc."""
    import duckdb

    from tollcli.queries import (
        check_objects,
        csv_reader_sql,
        list_objects,
        new_engine,
        quote_ident,
        table_location,
        valid_row_sql,
    )

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
        backend.record_path(ledger, "compacted", table_name, backend.home / "compacted" / TABLE_NAME, format="parquet")

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
