"""The local backend's Athena dialect: translation to DuckDB, and Athena's metadata statements.

    translate(sql, catalog)          Athena (Trino) SQL -> a `Translation`
        .metadata is set             SHOW ... / DESCRIBE: answered from the catalog (`answer_metadata`), no DuckDB
        .sql otherwise               one DuckDB statement for the read-only guard and the engine

The translation (`dialect_rewrites.to_duckdb`) parses with sqlglot's `athena` dialect, gives its
type annotation the catalog's column types (so `count(*) / 1000` is an integer division and
`CAST(double AS bigint)` is known to round), rewrites the nodes whose DuckDB spelling answers
differently from Trino (see its `_REWRITES`), names unnamed result columns `_col0`, `_col1`, ... as
Trino does, and writes DuckDB's dialect. Results are cached per (SQL, catalog) in the process and,
with `cache_dir`, on disk; `dialect_rewrites` (and sqlglot with it) is imported only on a miss, so a
`toll query` process that finds its SQL there never imports sqlglot (65-80 ms saved).
What both halves share (`UNSUPPORTED`, Trino's function names, `Catalog`) is in `dialect_names`;
how values print as Athena prints them is shared by both backends (`tollcli.athena_values`).

What sqlglot does not cover is done by the macros `SESSION_STATEMENTS` defines in every local
connection (they also pin the session time zone to UTC, Athena's, whatever `TZ` says).

Trino semantics that the rewrites carry (Trino documentation, "Functions and operators"):
- integer / integer truncates toward zero; decimal arithmetic keeps Trino's result scale
  (a * b: s1 + s2; a / b, a + b, a - b: max(s1, s2); the division rounds half up);
- a decimal literal such as `100.0` is DECIMAL, not DOUBLE;
- `date_diff(unit, a, b)` counts whole elapsed units; `millisecond(t)` is 0-999;
- `regexp_replace` replaces every match and writes groups as `$1`; `regexp_extract` without a
  match is NULL;
- `CAST(double AS bigint)` rounds half away from zero (Java's HALF_UP), DuckDB rounds half to even;
- `format_datetime`/`parse_datetime` take Joda patterns;
- `typeof` names Trino's types (`integer`, `varchar(3)` for 'abc', `decimal(2,1)`); a computed
  varchar or decimal, whose length or precision DuckDB does not track, is refused.

Anything else DuckDB cannot do is refused with "not supported by the local engine (Athena has it):
<name>" (`UNSUPPORTED`, `engine_error`), never with DuckDB's wording; the differential corpus
(tests/athena_corpus.py) lists the queries declared unsupported and why.

Time zones: Trino keeps a timestamp's zone, DuckDB's TIMESTAMPTZ only its instant, so a zone other
than UTC (from_iso8601_timestamp with +05:30, AT TIME ZONE, with_timezone, at_timezone, from_unixtime
with a zone, a timestamp literal with a zone) is refused (`_keep_zones_or_refuse`); UTC (all our
data, `...Z`) is unchanged. A comparison needs only the instant, so there it is not checked.

Known gaps (not refused; not in the corpus): try(f(from_iso8601_timestamp(<computed text>))) with a
non-UTC offset keeps the instant but not the zone (a column under try() is checked), and so does
CAST(<column> AS timestamp with time zone) of a text with a zone; `CAST(double AS varchar)` prints DuckDB's
spelling, not Java's `2.5E0`; decimal division goes through DOUBLE before rounding to Trino's
scale (exact up to ~15 significant digits); `map_agg` with a repeated key fails where Trino keeps
one; `approx_percentile` uses DuckDB's estimator (`approx_distinct` counts exactly: Trino's is exact on
small sets and within its 2.3% standard error of the exact count on large ones).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollcli.backends.local.dialect_names import NON_UTC_ISO8601, TRINO_FUNCTIONS, UNSUPPORTED, Catalog, first_line
from tollcli.errors import UsageError
from tollcli.state import atomic_write_json

# Run in every local DuckDB connection before its configuration is locked.
SESSION_STATEMENTS = (
    "SET GLOBAL TimeZone = 'UTC'",  # a cursor would otherwise take TZ's zone again
    # A timestamp with time zone keeps its zone in Trino; DuckDB's TIMESTAMPTZ keeps the instant only, so a
    # non-UTC offset (+05:30) is refused rather than shown in UTC. `...Z` (all our data) takes the first branch.
    "CREATE MACRO toll_iso_offset_not_utc(s) AS (NOT ends_with(s, 'Z') "
    "AND regexp_matches(s, 'T[0-9:.,]*[+-][0-9]{2}(:?[0-9]{2})?$') AND NOT regexp_matches(s, '[+-]00(:?00)?$'))",
    "CREATE MACRO toll_from_iso8601_timestamp(s) AS CASE WHEN ends_with(s, 'Z') THEN CAST(s AS TIMESTAMPTZ) "
    f"WHEN toll_iso_offset_not_utc(s) THEN error('{UNSUPPORTED.format(NON_UTC_ISO8601)}') ELSE CAST(s AS TIMESTAMPTZ) END",
    "CREATE MACRO toll_from_iso8601_date(s) AS CAST(s AS DATE)",
    # Trino: 2026-11-27T08:00:00.000Z for a timestamp with time zone (UTC prints as Z), no zone for a timestamp.
    "CREATE MACRO toll_to_iso8601(t) AS CASE WHEN typeof(t) = 'DATE' THEN strftime(t, '%Y-%m-%d') "
    "WHEN typeof(t) = 'TIMESTAMP WITH TIME ZONE' THEN strftime(t, '%Y-%m-%dT%H:%M:%S.%g') || 'Z' "
    "ELSE strftime(t, '%Y-%m-%dT%H:%M:%S.%g') END",
    # typeof() in Trino's words; a computed varchar or decimal (not `exact`) has a length or precision DuckDB does not track.
    "CREATE MACRO toll_typeof(t, exact) AS CASE WHEN t = 'INTEGER' THEN 'integer' WHEN t IN ('BIGINT', 'HUGEINT') THEN 'bigint' "
    "WHEN t = 'SMALLINT' THEN 'smallint' WHEN t = 'TINYINT' THEN 'tinyint' WHEN t = 'DOUBLE' THEN 'double' "
    "WHEN t = 'FLOAT' THEN 'real' WHEN t = 'BOOLEAN' THEN 'boolean' WHEN t = 'DATE' THEN 'date' "
    "WHEN t = '\"NULL\"' THEN 'unknown' "
    "WHEN t = 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp(3) with time zone' WHEN t = 'TIMESTAMP' THEN 'timestamp(3)' "
    "WHEN exact AND t = 'VARCHAR' THEN 'varchar' WHEN exact AND t LIKE 'DECIMAL(%' THEN lower(replace(t, ' ', '')) "
    f"ELSE error('{UNSUPPORTED.format('typeof of a value of type ')}' || t) END",
    "CREATE MACRO toll_millisecond(t) AS millisecond(t) % 1000",
    "CREATE MACRO toll_regexp_extract(s, p, g) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END",
    "CREATE MACRO toll_map_agg(k, v) AS map_from_entries(list(struct_pack(key := k, value := v)) FILTER (WHERE k IS NOT NULL))",
    "CREATE MACRO toll_from_unixtime(x) AS make_timestamptz(CAST(round(CAST(x AS DOUBLE) * 1000000) AS BIGINT))",
    # Trino keeps the first occurrence's order; DuckDB's list_distinct does not.
    "CREATE MACRO toll_array_distinct(a) AS list_filter(a, lambda x, i: list_position(a, x) = i)",
    # Trino: NULL when the string has fewer fields; DuckDB: ''.
    "CREATE MACRO toll_split_part(s, d, i) AS CASE WHEN i <= len(string_split(s, d)) THEN split_part(s, d, i) END",
)
_MACRO_ORIGINS = {
    "toll_from_iso8601_timestamp": "from_iso8601_timestamp",
    "toll_from_iso8601_date": "from_iso8601_date",
    "toll_to_iso8601": "to_iso8601",
    "toll_millisecond": "millisecond",
    "toll_regexp_extract": "regexp_extract",
    "toll_map_agg": "map_agg",
    "toll_from_unixtime": "from_unixtime",
    "toll_array_distinct": "array_distinct",
    "toll_split_part": "split_part",
}


@dataclass
class Translation:
    """One statement translated: DuckDB SQL to run, or a SHOW/DESCRIBE to answer from the catalog."""

    sql: str = ""
    metadata: tuple[str, ...] | None = None  # (statement kind, arguments...) for SHOW/DESCRIBE


# ---------------------------------------------------------------------------------------------
# translation


def translate(sql: str, catalog: Catalog, cache_dir: Path | None = None) -> Translation:
    """Athena SQL -> DuckDB SQL (cached per SQL text and catalog), or a metadata statement to answer."""
    key = (sql, catalog)
    known = _MEMORY.get(key)
    if known is not None:
        _MEMORY.move_to_end(key)
        return known
    disk = _DiskCache.load(cache_dir / DISK_CACHE_NAME) if cache_dir is not None else None
    disk_key = _disk_key(sql, catalog) if disk is not None else ""
    hit = disk.entries.get(disk_key) if disk is not None else None
    if isinstance(hit, str):
        translation = Translation(sql=hit)
    else:
        translation = _translate_uncached(sql, catalog)
        if disk is not None and translation.metadata is None:
            disk.store(disk_key, translation.sql)
    _MEMORY[key] = translation
    while len(_MEMORY) > MEMORY_CACHE_ENTRIES:
        _MEMORY.popitem(last=False)
    return translation


MEMORY_CACHE_ENTRIES = 256
_MEMORY: OrderedDict[tuple[str, Catalog], Translation] = OrderedDict()
DISK_CACHE_NAME = "translations.json"
DISK_CACHE_ENTRIES = 200
# The modules whose code a cached translation depends on (dialect_rewrites is imported only on a cache miss).
TRANSLATION_SOURCES = ("dialect.py", "dialect_names.py", "dialect_rewrites.py")


def _disk_key(sql: str, catalog: Catalog) -> str:
    """Changes with the SQL, the catalog, the translation's code (`TRANSLATION_SOURCES`) and sqlglot's version."""
    material = repr((sql, catalog.key(), _code_version()))
    return hashlib.sha256(material.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _code_version() -> tuple[str | int, ...]:
    try:
        sqlglot_version = importlib.metadata.version("sqlglot")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        sqlglot_version = "?"
    sources = [Path(__file__).with_name(name).stat() for name in TRANSLATION_SOURCES]
    return (sqlglot_version, *(n for source in sources for n in (source.st_size, source.st_mtime_ns)))


@dataclass
class _DiskCache:
    """Translations kept under <home>/catalog/: a cache, safe to lose; the newest DISK_CACHE_ENTRIES."""

    path: Path
    entries: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> _DiskCache:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            entries = {}
        return cls(path, entries)

    def store(self, key: str, sql: str) -> None:
        self.entries.pop(key, None)
        self.entries[key] = sql
        kept = dict(list(self.entries.items())[-DISK_CACHE_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, kept)
        except OSError:
            pass


def _translate_uncached(sql: str, catalog: Catalog) -> Translation:
    text = _strip_comments(sql).strip().rstrip(";").strip()
    if not text:
        raise UsageError("the query is empty")
    metadata = _metadata_statement(text)
    if metadata is not None:
        return Translation(metadata=metadata)
    explain = re.match(r"^EXPLAIN\s+(?!ANALYZE\b)(?:\((?:[^)]*)\)\s*)?(.*)$", text, re.I | re.S)
    if explain and _QUERY_START.match(explain.group(1)):
        prefix, query = "EXPLAIN ", explain.group(1)
    elif _QUERY_START.match(text):
        prefix, query = "", text
    else:
        first = re.match(r"[\s(]*(\w*)", text).group(1)  # type: ignore[union-attr]
        if first.upper() not in _STATEMENT_WORDS:
            raise UsageError(f"SQL error: syntax error at or near {first or text[:20]!r}")
        return Translation(sql=text)  # not a query: the read-only guard refuses it in its own words
    # lazy: dialect_rewrites imports sqlglot, 65-80 ms on top of the local engine's imports; a process whose
    # SQL is in the disk cache never loads it
    from tollcli.backends.local.dialect_rewrites import to_duckdb

    return Translation(sql=prefix + to_duckdb(_backticks_to_quotes(query), catalog))


# First words of statements that are not queries (the read-only guard refuses them by their kind).
_STATEMENT_WORDS_TEXT = """
ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT COMMENT COMMIT COPY CREATE DEALLOCATE DELETE DETACH DROP EXECUTE
EXPLAIN EXPORT FROM GRANT IMPORT INSERT INSTALL LOAD MERGE MSCK OPTIMIZE PIVOT PRAGMA PREPARE RESET REVOKE
ROLLBACK SET SUMMARIZE TRUNCATE UNLOAD UNPIVOT UPDATE USE VACUUM
"""
_STATEMENT_WORDS = frozenset(re.findall(r"\w+", _STATEMENT_WORDS_TEXT))
_QUERY_START = re.compile(r"^[\s(]*(SELECT|WITH|VALUES|TABLE)\b", re.I)


_TOKENS = re.compile(r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(`[^`]*`)|(--[^\n]*|/\*.*?\*/)""", re.DOTALL)


def _strip_comments(sql: str) -> str:
    return _TOKENS.sub(lambda m: " " if m.group(4) else m.group(0), sql)


def _backticks_to_quotes(sql: str) -> str:
    """Athena accepts `name` (Hive quoting) as well as "name"."""
    return _TOKENS.sub(lambda m: '"' + m.group(3)[1:-1].replace('"', '""') + '"' if m.group(3) else m.group(0), sql)


# ---------------------------------------------------------------------------------------------
# errors from the engine


_MISSING_FUNCTION = re.compile(
    r"(?:Scalar|Aggregate|Table|Pragma)? ?(?:Macro )?Function with name \"?(\w+)\"? (?:does not exist|is not in the catalog)",
    re.I,
)


def engine_error(exc: BaseException) -> UsageError:
    """DuckDB's complaint about a query, in words that do not blame a valid Athena query."""
    text = first_line(exc)
    refusal = text.find(UNSUPPORTED.format(""))
    if refusal != -1:  # our own macros' error(): already in our words
        return UsageError(text[refusal:])
    missing = _MISSING_FUNCTION.search(text)
    if missing:
        name = missing.group(1).lower()
        name = _MACRO_ORIGINS.get(name, name)
        if name in TRINO_FUNCTIONS:
            return UsageError(UNSUPPORTED.format(name))
        return UsageError(f"SQL error: Athena has no function named {name}")
    if "No function matches the given name and argument types" in text:
        found = re.search(r"'(\w+)\(", text)
        name = _MACRO_ORIGINS.get(found.group(1).lower(), found.group(1).lower()) if found else "this function"
        return UsageError(UNSUPPORTED.format(f"{name} with these argument types"))
    if "aggregates are not allowed inside the TRY expression" in text:
        return UsageError(UNSUPPORTED.format("try() around an aggregate"))
    if "TRY can not be used in combination with a volatile function" in text:
        return UsageError(UNSUPPORTED.format("try() around a function such as random() or now()"))
    if re.search(r"with value -?(inf|nan) can't be cast", text):  # an integer division by zero, truncated
        return UsageError("SQL error: Division by zero")
    table = re.search(r"Table with name (\S+) does not exist", text)
    if table:
        return UsageError(f"SQL error: table {table.group(1)} does not exist")
    column = re.search(r'Referenced column "([^"]+)" not found|Column "([^"]+)" referenced that exists in the SELECT', text)
    if column:
        return UsageError(f"SQL error: column '{column.group(1) or column.group(2)}' cannot be resolved")
    if text.startswith("Permission Error: "):  # the engine's guard: a file outside the home's tables
        return UsageError(f"SQL error: Permission denied: {text.removeprefix('Permission Error: ')}")
    text = re.sub(r"^(Parser|Catalog|Binder|Conversion|Invalid Input) Error: ", "", text)
    return UsageError(f"SQL error: {text}")


# ---------------------------------------------------------------------------------------------
# SHOW and DESCRIBE, answered from the catalog as Athena lays them out

_NAME = r"""(?:"(?:[^"]|"")+"|`[^`]+`|[\w$]+)"""
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME}){{0,2}})"
_METADATA = [
    (
        "databases",
        re.compile(rf"^SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:FROM|IN)\s+{_NAME})?(?:\s+LIKE)?(?:\s+'((?:[^']|'')*)')?$", re.I),
    ),
    ("tables", re.compile(rf"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_QUALIFIED})?(?:\s+LIKE)?(?:\s+'((?:[^']|'')*)')?$", re.I)),
    ("columns", re.compile(rf"^SHOW\s+COLUMNS\s+(?:FROM|IN)\s+{_QUALIFIED}(?:\s+(?:FROM|IN)\s+({_NAME}))?$", re.I)),
    ("create", re.compile(rf"^SHOW\s+CREATE\s+TABLE\s+{_QUALIFIED}$", re.I)),
    ("describe", re.compile(rf"^(?:DESCRIBE|DESC)(?:\s+(?:EXTENDED|FORMATTED))?\s+{_QUALIFIED}$", re.I)),
]
_UNSUPPORTED_SHOW = re.compile(
    r"^(SHOW\s+(?:PARTITIONS|VIEWS|FUNCTIONS|TBLPROPERTIES|CREATE\s+VIEW|STATS|CATALOGS|SESSION|GRANTS|ROLES))\b", re.I
)


def _metadata_statement(text: str) -> tuple[str, ...] | None:
    one_line = " ".join(text.split())
    for kind, pattern in _METADATA:
        match = pattern.match(one_line)
        if match:
            return (kind, *(g or "" for g in match.groups()))
    unsupported = _UNSUPPORTED_SHOW.match(one_line)
    if unsupported:
        raise UsageError(UNSUPPORTED.format(" ".join(unsupported.group(1).upper().split())))
    if re.match(r"^(SHOW|DESCRIBE|DESC)\b", one_line, re.I):
        raise UsageError(f"SQL error: cannot read the statement {one_line[:60]!r}")
    return None


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name.strip("`").lower()


def _split_qualified(name: str) -> tuple[str | None, str]:
    parts = [p.strip() for p in re.findall(_NAME, name)]
    parts = [_unquote(p) for p in parts]
    if parts and parts[0].lower() == "awsdatacatalog" and len(parts) > 1:
        parts = parts[1:]
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


DUCKDB_TO_HIVE = {
    "VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp", "DATE": "date", "FLOAT": "float", "SMALLINT": "smallint", "TINYINT": "tinyint",
}  # fmt: skip


def hive_type(duckdb_type: str) -> str:
    return DUCKDB_TO_HIVE.get(duckdb_type.upper(), duckdb_type.lower())


def _like(pattern: str) -> re.Pattern[str]:
    """Athena's SHOW ... 'pattern': `*` any characters, `|` alternatives."""
    alternatives = [re.escape(p.strip()).replace(r"\*", ".*") for p in pattern.replace("''", "'").split("|")]
    return re.compile("^(?:" + "|".join(alternatives) + ")$", re.I)


def answer_metadata(
    statement: tuple[str, ...], catalog: Catalog, locations: Mapping[str, str] | None = None
) -> tuple[list[str], list[tuple[str, ...]]]:
    """Columns and rows of a SHOW/DESCRIBE statement, in Athena's layout."""
    kind = statement[0]
    if kind == "databases":
        names = sorted({*catalog.databases, *catalog.tables})
        if statement[1]:
            names = [n for n in names if _like(statement[1]).match(n)]
        return ["database_name"], [(n,) for n in names]
    if kind == "tables":
        schema = _unquote(statement[1]).split(".")[-1] if statement[1] else catalog.default_schema
        if schema not in catalog.tables and schema not in catalog.databases:
            raise UsageError(f"SQL error: database {schema} does not exist")
        names = sorted(catalog.tables.get(schema, {}))
        if statement[2]:
            names = [n for n in names if _like(statement[2]).match(n)]
        return ["tab_name"], [(n,) for n in names]
    wanted_schema, wanted_table = _split_qualified(statement[1])
    if kind == "columns" and statement[2]:
        wanted_schema = _unquote(statement[2])
    schema, table, columns = catalog.find(wanted_table, wanted_schema)
    if kind == "columns":
        return ["field"], [(c,) for c in columns]
    if kind == "describe":
        return ["col_name", "data_type", "comment"], [(c, hive_type(t), "") for c, t in columns.items()]
    location = (locations or {}).get(f"{schema}.{table}", "")
    lines = [f"CREATE EXTERNAL TABLE `{schema}`.`{table}`("]
    lines += [f"  `{c}` {hive_type(t)}" + ("," if i < len(columns) - 1 else ")") for i, (c, t) in enumerate(columns.items())]
    lines += [
        "ROW FORMAT DELIMITED",
        "  FIELDS TERMINATED BY ','",
        "STORED AS INPUTFORMAT",
        "  'org.apache.hadoop.mapred.TextInputFormat'",
        "OUTPUTFORMAT",
        "  'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        "LOCATION",
        f"  '{location}'",
        "TBLPROPERTIES (",
        "  'delimiter'=',')",
    ]
    return ["createtab_stmt"], [(line,) for line in lines]
