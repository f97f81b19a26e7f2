"""The local backend's Athena: any read-only SQL in Athena's dialect, answered by DuckDB from the home.

`run_local_query` translates Athena's dialect to DuckDB's with the ledger's column types
(`dialect.py`: sqlglot plus macros, a UTC session; SHOW and DESCRIBE are answered from the
ledger), refuses anything but one SELECT (or an EXPLAIN of one: `check_read_only`), and runs it in
an in-memory DuckDB whose schema `toll` holds one view per table in the ledger. That engine
(`query_engine`) may open exactly the files its views read, no other file, folder, extension or
setting; its temp folder is private, its memory and threads are capped, and the statement is
stopped after `--timeout` seconds or on Ctrl-C (`run_with_deadline`).

- CSV tables (the bucket) are read with declared column types, never sniffed. Bad rows (wrong
  field count, unparseable date, empty fields, empty lines) are left out and counted: each
  delivered object is checked once, and the counts are kept in `<home>/catalog/` keyed by the
  object's size and modification time, so later queries read clean objects without re-checking.
  Objects toll's own delivery wrote are known good when written (`delivery.well_formed_rows`, the
  log `delivered_log_path`): only objects from elsewhere are checked.
- Objects that `toll compact` rewrote as Parquet are read from the Parquet files its manifest
  lists (`manifest.py`), together with every CSV object not yet compacted.
- An empty table is an empty typed relation, never an error.

Each query lists the files again, but a process keeps what it worked out from unchanged inputs, so
a question over Parquet costs ~2 ms more than DuckDB alone (bench/README.md): the compaction
manifest and the object index are parsed and checked once per content (the same bytes), the
engine for a list of files keeps its views while their SQL is the same, the read-only verdict is
kept per SQL text, and the statement runs on a kept worker thread. What is checked per query
stays per query: the listing (links and FIFOs refused), each Parquet part's lstat (no link on
the way), the ledger's locations.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tollcli.backends.local import dialect
from tollcli.backends.local.layout import CATALOG_FOLDER, DELIVERED_LOG, LocalHome, catalog_folder, record_catalog
from tollcli.backends.local.manifest import CompactionManifest, resolve_location
from tollcli.backends.reports import QueryResult
from tollcli.config import DEFAULT_QUERY_TIMEOUT
from tollcli.errors import TollError, UsageError
from tollcli.paths import read_template
from tollcli.state import Ledger, atomic_write_json
from tollcli.units import counted

DEFAULT_SCHEMA = "toll"


HIVE_TO_DUCKDB = {"string": "VARCHAR", "int": "INTEGER", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE"}
HIVE_TO_DUCKDB |= {"boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "date": "DATE", "float": "FLOAT"}


def ddl_columns(ddl: str | None = None) -> dict[str, str]:
    """The columns (DuckDB types) of the workshop's CREATE EXTERNAL TABLE, templates/sql/create_table.sql."""
    text = ddl if ddl is not None else read_template("sql", "create_table.sql")
    text = text[text.upper().index("CREATE EXTERNAL TABLE") :]
    body = text[text.index("(") + 1 : text.index(")")]
    columns = {}
    for name, hive_type in re.findall(r"`(\w+)`\s+(\w+)", body):
        columns[name] = HIVE_TO_DUCKDB.get(hive_type.lower(), hive_type.upper())
    return columns


# ---------------------------------------------------------------------------------------------
# read-only check


def check_read_only(sql: str) -> str:
    """`sql` (DuckDB dialect) if it is exactly one SELECT, or an EXPLAIN of one; else a UsageError.

    DuckDB runs the statement inside `EXPLAIN ANALYZE`, so an EXPLAIN is checked by what it
    explains. This is the first of two guards: the engine itself may not write (`new_engine`).
    The verdict depends on the text alone: texts that passed are remembered (`_READ_ONLY`).
    """
    if sql in _READ_ONLY:
        return sql
    _check_read_only(sql)
    _READ_ONLY[sql] = None
    while len(_READ_ONLY) > 64:
        del _READ_ONLY[next(iter(_READ_ONLY))]
    return sql


_READ_ONLY: dict[str, None] = {}  # texts check_read_only passed, oldest first


def _check_read_only(sql: str) -> None:
    check_text(sql, "the query")
    if not sql.strip():
        raise UsageError("the query is empty")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"SQL error: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise UsageError(f"give exactly one statement, not {len(statements)}")
    kind = statements[0].type
    if kind == duckdb.StatementType.SELECT and _LEADING_PRAGMA.match(sql):
        kind = duckdb.StatementType.PRAGMA  # DuckDB < 2 (on Python 3.10) calls a PRAGMA it rewrites a SELECT
    if kind == duckdb.StatementType.EXPLAIN:
        inner = explained_statement(statements[0].query)
        try:
            inner_statements = duckdb.extract_statements(inner)
        except duckdb.Error as exc:
            raise UsageError(f"SQL error: {_first_line(exc)}") from None
        inner_kinds = [str(s.type).rsplit(".", 1)[-1] for s in inner_statements]
        if inner_kinds != ["SELECT"]:
            raise UsageError(
                f"EXPLAIN may only explain a SELECT here; this explains a {' '.join(inner_kinds) or 'nothing'} statement"
            )
    elif kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        article = "an" if name[:1] in "AEIOU" else "a"
        raise UsageError(f"only read-only queries (SELECT) are allowed here; this is {article} {name} statement")


_LEADING_PRAGMA = re.compile(r"(?:\s|--[^\n]*\n|/\*.*?\*/)*PRAGMA\b", re.IGNORECASE | re.DOTALL)


def check_text(text: str, what: str) -> None:
    """Text from the command line that was not valid UTF-8 (Python keeps such bytes as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not valid UTF-8") from None


_STATEMENT_STARTS = ("SELECT", "WITH", "FROM", "VALUES", "TABLE", "(")


def explained_statement(explain: str) -> str:
    """The statement an EXPLAIN explains: what follows `EXPLAIN`, `ANALYZE` and any `(options)`."""
    tokens = [(pos, kind) for pos, kind in duckdb.tokenize(explain) if kind != duckdb.token_type.comment]
    ends = [pos for pos, _kind in tokens[1:]] + [len(explain)]
    words = [explain[pos:end].strip().upper() for (pos, _kind), end in zip(tokens, ends)]
    index = 1  # words[0] is EXPLAIN
    while index < len(tokens):
        if words[index] in ("ANALYZE", "ANALYSE"):
            index += 1
        elif words[index].startswith("(") and index + 1 < len(words) and words[index + 1] not in _STATEMENT_STARTS:
            depth = 0
            while index < len(tokens):  # an option list: skip to its closing parenthesis
                depth += words[index].count("(") - words[index].count(")")
                index += 1
                if depth <= 0:
                    break
        else:
            return explain[tokens[index][0] :]
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# the local engine


@dataclass
class CsvObject:
    """One delivered object and what checking it found."""

    path: Path
    size: int
    mtime_ns: int
    rows: int | None = None  # good rows; None until checked
    skipped: int | None = None


@dataclass
class TableFiles:
    """What a table's view reads: Parquet parts from compaction, then newer CSV objects."""

    name: str
    schema: str
    columns: dict[str, str]
    file_format: str
    location: Path | None = None
    parquet: list[Path] = field(default_factory=list)
    objects: list[CsvObject] = field(default_factory=list)  # csv/jsonl files not compacted
    compacted_skipped: int = 0

    @property
    def skipped_rows(self) -> int:
        return self.compacted_skipped + sum(o.skipped or 0 for o in self.objects)


def split_table_name(name: str) -> tuple[str, str]:
    schema, _, table = name.rpartition(".")
    return (schema or DEFAULT_SCHEMA), table


def list_objects(location: Path) -> list[CsvObject]:
    """Every delivered object below `location`, oldest key first; `.`-files are in flight.

    Only regular files are objects: a symbolic link (to a file or a folder) or a FIFO planted in
    the bucket is refused with a clear error, never followed.
    """
    found: list[CsvObject] = []
    if location.is_dir():
        _list_folder(str(location), found)
    return found


def _list_folder(folder: str, found: list[CsvObject]) -> None:
    """A folder's objects (by name), then its sub-folders' (by name): the order os.walk gave."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    folders = []
    for entry in entries:
        if entry.is_symlink():
            raise TollError(f"{entry.path} is a symbolic link: toll reads only what it delivered; remove it")
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry.path)
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise TollError(f"{entry.path} is not a regular file: toll reads only what it delivered; remove it")
        found.append(CsvObject(path=Path(entry.path), size=info.st_size, mtime_ns=info.st_mtime_ns))
    for sub in folders:
        _list_folder(sub, found)


def sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(paths: Iterable[str | Path]) -> str:
    return "[" + ", ".join(sql_string(p) for p in paths) + "]"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_reader_sql(paths: Iterable[Path], columns: dict[str, str], *, filename: bool = False) -> str:
    """read_csv over explicit files with declared types: no sniffing, rows with a wrong field count skipped."""
    spec = "{" + ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in columns.items()) + "}"
    return (
        f"read_csv({sql_list(paths)}, columns = {spec}, header = false, delim = ',', quote = '', escape = '', "
        f"new_line = '\\n', auto_detect = false, ignore_errors = true, null_padding = false"
        + (", filename = true" if filename else "")
        + ")"
    )


def valid_row_sql(columns: dict[str, str]) -> str:
    """The condition a row of the toll table must meet: every field present, a parseable date."""
    checks = [f"{quote_ident(c)} IS NOT NULL" for c in columns]
    if "date" in columns:
        checks.append('TRY_CAST("date" AS TIMESTAMPTZ) IS NOT NULL')
    return " AND ".join(checks)


def count_lines(path: Path) -> int:
    """Lines in a file; a last line without its newline counts too (Athena reads it as a row)."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def check_objects(con: duckdb.DuckDBPyConnection, objects: list[CsvObject], columns: dict[str, str]) -> None:
    """Fill in good and skipped rows for each object: skipped = lines - good rows."""
    if not objects:
        return
    good: dict[str, int] = {}
    for start in range(0, len(objects), 2000):
        batch = objects[start : start + 2000]
        reader = csv_reader_sql([o.path for o in batch], columns, filename=True)
        rows = con.execute(f"SELECT filename, count(*) FROM {reader} WHERE {valid_row_sql(columns)} GROUP BY filename").fetchall()
        good.update((str(name), int(count)) for name, count in rows)
    for obj in objects:
        obj.rows = good.get(str(obj.path), 0)
        obj.skipped = max(0, count_lines(obj.path) - obj.rows)


def read_delivered_log(path: Path) -> dict[str, dict[str, int]]:
    """path -> {size, mtime_ns, rows} of the objects the delivery recorded; a torn last line is ignored."""
    found: dict[str, dict[str, int]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            found[str(entry["path"])] = {
                "size": int(entry["size"]),
                "mtime_ns": int(entry["mtime_ns"]),
                "rows": int(entry["rows"]),
            }
        except (ValueError, KeyError, TypeError):
            continue
    return found


_INDEXES: dict[Path, tuple[bytes, dict[str, dict[str, int]]]] = {}  # index file -> (its bytes, their entries)


class ObjectIndex:
    """Per-object check results kept under <home>/catalog/: a cache, safe to lose."""

    def __init__(self, backend: LocalHome, table: str) -> None:
        self.backend = backend
        self.path = backend.home / CATALOG_FOLDER / f"{table}.objects.json"
        self.entries: dict[str, dict[str, int]] = {}
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        known = _INDEXES.get(self.path)
        if known is not None and known[0] == raw:  # unchanged since the last query: no JSON parsing
            self.entries = known[1]
            return
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and isinstance(data.get("objects"), dict):
                self.entries = data["objects"]
        except ValueError:
            self.entries = {}
        _INDEXES[self.path] = (raw, self.entries)

    def apply(self, objects: list[CsvObject]) -> list[CsvObject]:
        """Fill in known results (checked before, or recorded well-formed by our delivery); return the objects still to check."""
        unknown = []
        delivered: dict[str, dict[str, int]] | None = None
        for obj in objects:
            entry = self.entries.get(str(obj.path))
            if entry and entry.get("size") == obj.size and entry.get("mtime_ns") == obj.mtime_ns:
                obj.rows, obj.skipped = int(entry["rows"]), int(entry["skipped"])
                continue
            if delivered is None:
                delivered = read_delivered_log(self.backend.home / CATALOG_FOLDER / DELIVERED_LOG)
            written = delivered.get(str(obj.path))
            if written and written["size"] == obj.size and written["mtime_ns"] == obj.mtime_ns:
                obj.rows, obj.skipped = written["rows"], 0
            else:
                unknown.append(obj)
        return unknown

    def save(self, objects: list[CsvObject]) -> None:
        """Remember the current objects (dropping those gone); silently skip an unwritable home."""
        self.entries = {
            str(o.path): {"size": o.size, "mtime_ns": o.mtime_ns, "rows": o.rows or 0, "skipped": o.skipped or 0}
            for o in objects
            if o.rows is not None
        }
        try:
            record_catalog(self.backend)
            atomic_write_json(self.path, {"version": 1, "objects": self.entries})
        except (OSError, TollError):
            pass


def table_files(
    backend: LocalHome, con: duckdb.DuckDBPyConnection, ledger: Ledger, resource_name: str, location: Path
) -> TableFiles:
    """The files behind one ledger table (at `location`, checked), with what compaction already took over."""
    resource = ledger.find("table", resource_name)
    assert resource is not None
    settings = resource.settings
    schema, table = split_table_name(resource.name)
    columns = {str(k): str(v) for k, v in (settings.get("columns") or {}).items()}
    file_format = str(settings.get("format", "csv")).lower()
    files = TableFiles(name=table, schema=schema, columns=columns, file_format=file_format)
    files.location = location
    # List before reading the manifest: a compaction in between then shows up as CSV objects the
    # manifest excludes (or that vanish, and the query lists again), never as rows missed.
    objects = list_objects(location)
    manifest = CompactionManifest.load(backend, table, location)
    files.parquet = manifest.readable_parts()
    files.compacted_skipped = manifest.skipped_rows()
    compacted = manifest.source_paths()
    files.objects = [o for o in objects if str(o.path) not in compacted]
    if file_format == "csv":
        index = ObjectIndex(backend, table)
        unknown = index.apply(files.objects)
        if unknown:
            check_objects(con, unknown, columns)
        if unknown or any(str(o.path) not in index.entries for o in files.objects):
            index.save(files.objects)
    return files


def empty_relation_sql(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in columns.items()) + " WHERE false"


def view_sql(files: TableFiles) -> str:
    """One SELECT over all of a table's files, with its declared columns and types."""
    columns = files.columns
    names = ", ".join(quote_ident(c) for c in columns)
    typed = ", ".join(f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in columns.items())
    parts = []
    if files.parquet:
        parts.append(f"SELECT {typed} FROM read_parquet({sql_list(files.parquet)})")
    paths = [o.path for o in files.objects]
    if files.file_format == "csv":
        clean = [o.path for o in files.objects if not o.skipped]
        dirty = [o.path for o in files.objects if o.skipped]
        if clean:
            parts.append(f"SELECT {names} FROM {csv_reader_sql(clean, columns)}")
        if dirty:
            parts.append(f"SELECT {names} FROM {csv_reader_sql(dirty, columns)} WHERE {valid_row_sql(columns)}")
    elif files.file_format in ("jsonl", "json") and paths:
        spec = "{" + ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in columns.items()) + "}"
        parts.append(
            f"SELECT {names} FROM read_json({sql_list(paths)}, columns = {spec}, "
            "format = 'newline_delimited', ignore_errors = true)"
        )
    elif files.file_format == "parquet" and paths:
        parts.append(f"SELECT {typed} FROM read_parquet({sql_list(paths)}, union_by_name = true)")
    if not parts:
        return empty_relation_sql(columns)
    return "\nUNION ALL\n".join(parts)


# ---------------------------------------------------------------------------------------------
# the engine's own guard: what DuckDB may touch, and how much it may use

MEMORY_ENV = "TOLL_QUERY_MEMORY"  # e.g. 2GB; default: a quarter of the machine's memory
THREADS_ENV = "TOLL_QUERY_THREADS"  # default: the machine's cores, at most 4
MAX_SPILL = "4GB"  # what DuckDB may spill to its (private) temp folder
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class EngineLimits:
    memory: str
    threads: int


def engine_limits() -> EngineLimits:
    """DuckDB's memory and thread caps: TOLL_QUERY_MEMORY / TOLL_QUERY_THREADS, else a share of the machine."""
    memory = os.environ.get(MEMORY_ENV, "").strip()
    if memory and not _MEMORY.match(memory):
        raise UsageError(f"{MEMORY_ENV}={memory!r} is not a size: use e.g. 512MB or 2GB")
    if not memory:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 4 << 30
        memory = f"{max(256, total // 4 // (1 << 20))}MB"
    threads_text = os.environ.get(THREADS_ENV, "").strip()
    try:
        threads = int(threads_text) if threads_text else min(4, os.cpu_count() or 1)
    except ValueError:
        threads = 0
    if threads < 1:
        raise UsageError(f"{THREADS_ENV}={threads_text!r} must be a whole number of threads, 1 or more")
    return EngineLimits(memory=memory, threads=threads)


_PRIVATE_TEMP: list[str] = []


def private_temp_folder() -> str:
    """A folder only this process uses for DuckDB's spill files (never the caller's `.tmp/`), removed at exit."""
    if not _PRIVATE_TEMP:
        folder = tempfile.mkdtemp(prefix="toll-duckdb-")
        owner = os.getpid()

        def remove() -> None:
            if os.getpid() == owner:  # not a forked child's exit
                shutil.rmtree(folder, ignore_errors=True)

        atexit.register(remove)
        _PRIVATE_TEMP.append(folder)
    return _PRIVATE_TEMP[0]


def new_engine(
    *, folders: Iterable[str] = (), files: Iterable[str] = (), limits: EngineLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that may open only `folders` and `files` (and its private temp folder).

    External access is off (no other file, no network, no extension loading or installing),
    memory and threads are capped, and the configuration is locked so no statement can undo it.
    """
    limits = limits or engine_limits()
    engine = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": limits.memory,
            "threads": limits.threads,
            "temp_directory": private_temp_folder(),
            "max_temp_directory_size": MAX_SPILL,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        },
    )
    for statement in dialect.SESSION_STATEMENTS:  # UTC session, the dialect's macros (before the lock)
        engine.execute(statement)
    folders, files = list(folders), list(files)
    if folders:
        engine.execute(f"SET allowed_directories = {sql_list(folders)}")
    if files:
        engine.execute(f"SET allowed_paths = {sql_list(files)}")
    engine.execute("SET enable_external_access = false")
    engine.execute("SET lock_configuration = true")
    return engine


# Engines are kept for the process: opening one costs 25-50 ms, a noticeable share of a query
# over Parquet. Two kinds: a checking engine (our own SQL only: it checks delivered objects and
# may read the home's folders) and a query engine for the user's SQL, which may open exactly the
# files its views read and nothing else (not the ledger, not a folder it could write into).
# Each query gets its own cursor; the views stay in the engine while they are the same (the same
# files, the same SQL: `_VIEWS`), and are replaced when anything changed. `_ENGINE_LOCK` keeps
# queries in one process from interleaving.
_ENGINES: OrderedDict[tuple[str, tuple[str, ...], EngineLimits], duckdb.DuckDBPyConnection] = OrderedDict()
_ENGINES_KEPT = 4
_ENGINE_LOCK = threading.RLock()
_VIEWS: dict[int, tuple[tuple[str, str, str], ...]] = {}  # id(query engine) -> the views it holds now


def _cached_engine(kind: str, readable: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    key = (kind, readable, engine_limits())  # limits too: TOLL_QUERY_MEMORY may change within a process
    engine = _ENGINES.get(key)
    if engine is not None:
        _ENGINES.move_to_end(key)
        return engine
    engine = new_engine(folders=readable, limits=key[2]) if kind == "check" else new_engine(files=readable, limits=key[2])
    _ENGINES[key] = engine
    while len(_ENGINES) > _ENGINES_KEPT:
        dropped = _ENGINES.popitem(last=False)[1]
        _VIEWS.pop(id(dropped), None)
        dropped.close()
    return engine


def checking_engine(folders: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """An engine for SQL we write ourselves, reading only `folders`."""
    return _cached_engine("check", tuple(sorted(folders)))


def query_engine(files: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """An engine for the user's SQL: it may open exactly `files` (so it can create none)."""
    return _cached_engine("query", tuple(sorted(set(files))))


class _Worker:
    """A kept thread that runs one statement at a time for `run_with_deadline` (starting a thread per
    query costs more than a fast query's hand-off to one that is waiting)."""

    def __init__(self) -> None:
        self.owner = os.getpid()  # a forked child has the object but not the thread
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="toll-query", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self.jobs.get()()


_IDLE_WORKERS: list[_Worker] = []
_WORKERS_LOCK = threading.Lock()


def _forget_workers() -> None:
    """In a forked child: the parent's workers are not running here, and the lock may be held."""
    global _WORKERS_LOCK
    _IDLE_WORKERS.clear()
    _WORKERS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _take_worker() -> _Worker:
    with _WORKERS_LOCK:
        while _IDLE_WORKERS:
            worker = _IDLE_WORKERS.pop()
            if worker.owner == os.getpid():
                return worker
    return _Worker()


def _give_back(worker: _Worker) -> None:
    with _WORKERS_LOCK:
        if len(_IDLE_WORKERS) < 2:
            _IDLE_WORKERS.append(worker)
        else:
            worker.jobs.put(_stop_serving)


def _stop_serving() -> None:
    raise SystemExit  # ends the worker's thread quietly


def run_with_deadline(con: duckdb.DuckDBPyConnection, sql: str, timeout: float | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` on a worker thread; stop it after `timeout` seconds or on Ctrl-C (then re-raised).

    The main thread only waits, so SIGINT always reaches it: DuckDB is interrupted, the worker
    waited for, and KeyboardInterrupt goes on up (the CLI prints one line and exits 130). The
    worker is a kept thread (`_Worker`), handed back only once its statement has finished.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()  # not Thread.join: a join that Ctrl-C interrupts marks a live thread as stopped

    def work() -> None:
        try:
            cursor = con.execute(sql)
            outcome["columns"] = [d[0] for d in cursor.description or []]
            outcome["rows"] = cursor.fetchall()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    deadline = None if timeout is None else time.monotonic() + timeout
    worker = _take_worker()
    try:
        worker.jobs.put(work)
        while not done.is_set():
            remaining = 0.5 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                _stop(con, done)
                raise TollError(f"query stopped after {timeout:g} s (--timeout)")
            done.wait(min(remaining, 0.5))
    except KeyboardInterrupt:
        _stop(con, done)
        raise
    finally:
        if done.is_set():  # (else a second Ctrl-C came while stopping: the thread is left to finish alone)
            _give_back(worker)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["columns"], outcome["rows"]


def _stop(con: duckdb.DuckDBPyConnection, done: threading.Event) -> None:
    """Interrupt the running statement and wait until its thread has let go of the connection."""
    while not done.is_set():
        try:
            con.interrupt()
            done.wait(0.1)
        except KeyboardInterrupt:  # a second Ctrl-C while stopping changes nothing
            continue


def table_location(backend: LocalHome, resource_name: str, value: object) -> Path:
    """A ledger table's location, refused unless it is a folder inside the home (not the home itself)."""
    location = resolve_location(str(value or ""))
    home = backend.home.resolve()
    if location == home or home not in location.parents:
        raise TollError(
            f"the ledger's table {resource_name} points at {location}, outside its folder in {home}: refusing to read it"
        )
    return location


def open_local_catalog(
    backend: LocalHome, ledger: Ledger | None = None
) -> tuple[duckdb.DuckDBPyConnection, dict[str, TableFiles]]:
    """A DuckDB cursor whose schema `toll` holds one view per ledger table, reading only our files.

    Every call lists the files again and checks what changed; the views are created only when
    they differ from those the engine holds (same files, same SQL: kept, a few ms saved)."""
    con, tables, _views = _open_views(backend, ledger or backend.require_ledger())
    return con, tables


def _open_views(
    backend: LocalHome, ledger: Ledger
) -> tuple[duckdb.DuckDBPyConnection, dict[str, TableFiles], tuple[tuple[str, str, str], ...]]:
    resources = [r for r in ledger.resources if r.kind == "table" and r.settings.get("columns")]
    locations = {r.name: table_location(backend, r.name, r.settings.get("location")) for r in resources}
    readable = {str(backend.home.resolve()) + os.sep} | {str(location) + os.sep for location in locations.values()}
    checker = checking_engine(readable).cursor()
    try:
        all_files = [table_files(backend, checker, ledger, r.name, locations[r.name]) for r in resources]
    finally:
        checker.close()
    opened = [str(p) for files in all_files for p in (*files.parquet, *(o.path for o in files.objects))]
    engine = query_engine(opened)
    views = tuple((files.schema, files.name, view_sql(files)) for files in all_files)
    con = engine.cursor()
    if _VIEWS.get(id(engine)) != views:
        _VIEWS.pop(id(engine), None)  # (until all are in place: an interrupted setup is redone)
        for schema, view in con.execute("SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall():
            con.execute(f"DROP VIEW IF EXISTS {quote_ident(schema)}.{quote_ident(view)}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {DEFAULT_SCHEMA}")
        for schema, name, sql in views:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            con.execute(f"CREATE OR REPLACE VIEW {quote_ident(schema)}.{quote_ident(name)} AS {sql}")
        _VIEWS[id(engine)] = views
    con.execute(f"SET search_path = '{DEFAULT_SCHEMA},main'")  # unqualified names resolve in `toll`
    return con, {files.name.lower(): files for files in all_files}, views


def local_catalog(backend: LocalHome, ledger: Ledger | None = None) -> dialect.Catalog:
    """The ledger's databases and tables as the dialect translation sees them (no file is read)."""
    ledger = ledger or backend.require_ledger()
    tables: dict[str, dict[str, dict[str, str]]] = {}
    for resource in ledger.resources:
        if resource.kind == "table" and resource.settings.get("columns"):
            schema, table = split_table_name(resource.name)
            tables.setdefault(schema, {})[table] = {str(k): str(v) for k, v in resource.settings["columns"].items()}
    databases = tuple(sorted(r.name for r in ledger.resources if r.kind == "database"))
    return dialect.Catalog(tables=tables, default_schema=DEFAULT_SCHEMA, databases=databases)


def table_locations(backend: LocalHome, ledger: Ledger | None = None) -> dict[str, str]:
    """schema.table -> the folder it reads (SHOW CREATE TABLE's LOCATION)."""
    ledger = ledger or backend.require_ledger()
    found = {}
    for resource in ledger.resources:
        if resource.kind == "table" and resource.settings.get("location"):
            schema, table = split_table_name(resource.name)
            found[f"{schema}.{table}"] = str(resource.settings["location"])
    return found


_RETRYABLE = ("No files found", "No such file", "Cannot open file")
# (SQL text, the views it ran against) -> the tables it names
_REFERENCED: OrderedDict[tuple[str, tuple[tuple[str, str, str], ...]], frozenset[str] | None] = OrderedDict()


def referenced_tables(
    con: duckdb.DuckDBPyConnection, local_sql: str, views: tuple[tuple[str, str, str], ...]
) -> frozenset[str] | None:
    """The (lower-case, unqualified) table names `local_sql` reads, or None when DuckDB cannot tell
    (it binds the views); kept per text and views (a question asked again costs nothing)."""
    key = (local_sql, views)
    if key in _REFERENCED:
        _REFERENCED.move_to_end(key)
        return _REFERENCED[key]
    try:
        names = con.get_table_names(local_sql)
        found: frozenset[str] | None = frozenset(name.split(".")[-1].strip('"').lower() for name in names)
    except duckdb.Error:
        found = None
    _REFERENCED[key] = found
    while len(_REFERENCED) > 32:
        _REFERENCED.popitem(last=False)
    return found


def run_local_query(
    backend: LocalHome, sql: str, *, strict: bool = False, timeout: float | None = DEFAULT_QUERY_TIMEOUT
) -> QueryResult:
    """Run one read-only Athena statement on DuckDB over the home's files, stopped after `timeout` s."""
    check_text(sql, "the query")
    ledger = backend.require_ledger()  # read once for the whole query
    cache_dir = catalog_folder(backend) if backend.keep_translations else None
    catalog = local_catalog(backend, ledger)
    translation = dialect.translate(sql, catalog, cache_dir)
    if translation.metadata is not None:
        columns, rows = dialect.answer_metadata(translation.metadata, catalog, table_locations(backend, ledger))
        return QueryResult(columns=columns, rows=rows)
    local_sql = check_read_only(translation.sql)
    try:
        with _ENGINE_LOCK:
            return _run_locked(backend, ledger, local_sql, strict=strict, timeout=timeout)
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None  # Ctrl-C while DuckDB was setting up the views
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():  # DuckDB's Python client took the Ctrl-C as "Query interrupted"
            raise KeyboardInterrupt from None
        raise


def _run_locked(backend: LocalHome, ledger: Ledger, local_sql: str, *, strict: bool, timeout: float | None) -> QueryResult:
    for attempt in range(2):
        con, tables, views = _open_views(backend, ledger)
        try:
            named = referenced_tables(con, local_sql, views)
            referenced = frozenset(tables) if named is None else named
            skipped = sum(tables[name].skipped_rows for name in referenced if name in tables)
            if strict and skipped:
                raise TollError(
                    f"{counted(skipped, 'bad row')} in the data (wrong field count, bad date or empty line): "
                    "--strict refuses them"
                )
            columns, rows = run_with_deadline(con, local_sql, timeout)
        except (duckdb.ParserException, duckdb.CatalogException, duckdb.BinderException) as exc:
            raise dialect.engine_error(exc) from None
        except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.PermissionException) as exc:
            raise dialect.engine_error(exc) from None
        except duckdb.IOException as exc:
            # `toll compact` may have replaced an object between listing and reading: list again once.
            if attempt == 0 and any(marker in str(exc) for marker in _RETRYABLE):
                continue
            raise TollError(f"cannot read the data: {_first_line(exc)}") from None
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None  # DuckDB saw the Ctrl-C before we did
        except duckdb.Error as exc:
            raise TollError(f"query failed: {_first_line(exc)}") from None
        finally:
            try:
                con.close()
            except duckdb.Error:
                pass  # still busy only when we are on the way out (Ctrl-C): nothing to keep
        notes = [f"skipped {counted(skipped, 'bad row')}"] if skipped else []
        return QueryResult(columns=columns, rows=rows, skipped_rows=skipped, notes=notes)
    raise TollError("the data kept changing while it was read: try again")  # pragma: no cover
