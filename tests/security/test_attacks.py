"""A hostile user against `toll`'s promises (docs/RELIABILITY.md, "Threat model"): `query sql` is
read-only and reads only the home's data, the engine runs out of neither time nor memory, user
files are read with a cap, data is printed as data, and teardown/compact touch only what toll made.

Every attack is one row of `ATTACKS`: the command (paths filled in from the fixture), the exit
status, a fragment of what it prints (the one error line on stderr, or stdout for a query that is
allowed), and an environment. Each run asserts: that status, at most one line on stderr (a
`toll: error:` line when the status is not 0), no traceback, the home byte-identical before and
after (the home was queried once before, so its cache is warm), and the folder outside the home
(a victim file, the working folder where DuckDB used to put `.tmp/`) unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tollcli.cli import app

COPY = "COPY (SELECT 'x' AS a) TO '{home}/pwn.csv'"
WIPE = "COPY (SELECT 1 AS a) TO '{home}/bucket' (FORMAT csv, PARTITION_BY (a), OVERWRITE true)"
OUTSIDE = "COPY (SELECT 'x' AS a) TO '{outside}/pwn.csv'"
ANY_FILE = "'{outside}/victim.txt'"
SECRET = "s3cret-profile-canary"


def snapshot(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else "other")
        for p in sorted(root.rglob("*"))
    }


# (id, arguments after `toll --home HOME`, exit status, fragment, extra environment)
ATTACKS: list[tuple[str, list[str], int, str, dict[str, str]]] = [
    # writes, directly
    ("copy-into-home", ["query", "sql", COPY], 2, "this is a COPY statement", {}),
    ("copy-wipes-bucket", ["query", "sql", WIPE], 2, "this is a COPY statement", {}),
    ("copy-outside", ["query", "sql", OUTSIDE], 2, "this is a COPY statement", {}),
    ("copy-from", ["query", "sql", f"COPY lab_toll_data_stream FROM {ANY_FILE}"], 2, "COPY statement", {}),
    ("export", ["query", "sql", "EXPORT DATABASE '{home}/exported'"], 2, "EXPORT statement", {}),
    ("attach", ["query", "sql", "ATTACH '{home}/x.duckdb' AS x"], 2, "ATTACH statement", {}),
    ("detach", ["query", "sql", "DETACH memory"], 2, "DETACH statement", {}),
    ("install", ["query", "sql", "INSTALL httpfs"], 2, "LOAD statement", {}),
    ("load", ["query", "sql", "LOAD httpfs"], 2, "LOAD statement", {}),
    ("set-access", ["query", "sql", "SET enable_external_access = true"], 2, "SET statement", {}),
    ("set-unlock", ["query", "sql", "SET lock_configuration = false"], 2, "SET statement", {}),
    ("reset", ["query", "sql", "RESET allowed_paths"], 2, "statement", {}),
    ("pragma", ["query", "sql", "PRAGMA enable_profiling"], 2, "PRAGMA statement", {}),
    ("call", ["query", "sql", "CALL pragma_version()"], 2, "CALL statement", {}),
    ("create-table", ["query", "sql", "CREATE TABLE t AS SELECT 1"], 2, "CREATE statement", {}),
    ("create-macro", ["query", "sql", "CREATE MACRO m() AS 1"], 2, "CREATE statement", {}),
    ("insert", ["query", "sql", "INSERT INTO lab_toll_data_stream VALUES ('a', 'b', 'c')"], 2, "INSERT statement", {}),
    ("drop-view", ["query", "sql", "DROP VIEW lab_toll_data_stream"], 2, "DROP statement", {}),
    ("two-statements", ["query", "sql", f"SELECT 1; {COPY}"], 2, "exactly one statement", {}),
    ("use", ["query", "sql", "USE memory"], 2, "statement", {}),
    ("checkpoint", ["query", "sql", "CHECKPOINT"], 2, "statement", {}),
    # writes, wrapped
    ("explain-copy", ["query", "sql", f"EXPLAIN {COPY}"], 2, "explains a COPY", {}),
    ("explain-analyze-copy", ["query", "sql", f"EXPLAIN ANALYZE {COPY}"], 2, "explains a COPY", {}),
    ("explain-analyze-wipe", ["query", "sql", f"EXPLAIN ANALYZE {WIPE}"], 2, "explains a COPY", {}),
    ("explain-analyze-outside", ["query", "sql", f"EXPLAIN ANALYZE {OUTSIDE}"], 2, "explains a COPY", {}),
    ("explain-options-copy", ["query", "sql", f"EXPLAIN (ANALYZE, FORMAT json) {COPY}"], 2, "explains a COPY", {}),
    ("explain-comment-copy", ["query", "sql", f"EXPLAIN /* hi */ ANALYZE {COPY}"], 2, "explains a COPY", {}),
    ("explain-lowercase", ["query", "sql", f"explain analyse {COPY.lower()}"], 2, "explains a COPY", {}),
    ("explain-export", ["query", "sql", "EXPLAIN ANALYZE EXPORT DATABASE '{home}/exported'"], 2, "SQL error", {}),
    ("explain-attach", ["query", "sql", "EXPLAIN ANALYZE ATTACH '{home}/x.duckdb'"], 2, "SQL error", {}),
    ("explain-install", ["query", "sql", "EXPLAIN ANALYZE INSTALL httpfs"], 2, "explains a", {}),
    ("explain-set", ["query", "sql", "EXPLAIN ANALYZE SET enable_external_access = true"], 2, "explains a", {}),
    ("explain-pragma", ["query", "sql", "EXPLAIN ANALYZE PRAGMA enable_profiling"], 2, "explains a PRAGMA", {}),
    ("explain-call", ["query", "sql", "EXPLAIN ANALYZE CALL pragma_version()"], 2, "explains a CALL", {}),
    (
        "explain-insert",
        ["query", "sql", "EXPLAIN ANALYZE INSERT INTO lab_toll_data_stream VALUES ('a','b','c')"],
        2,
        "explains",
        {},
    ),
    ("cte-copy", ["query", "sql", f"WITH a AS (SELECT 1) {COPY}"], 2, "", {}),
    ("query-fn-copy", ["query", "sql", f"SELECT * FROM query('{COPY.replace(chr(39), chr(39) * 2)}')"], 2, "", {}),
    ("query-fn-read", ["query", "sql", "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')"], 2, "Permission", {}),
    ("query-table-fn", ["query", "sql", "SELECT * FROM query_table('/etc/passwd')"], 2, "", {}),
    # reads outside the data
    ("read-text-etc", ["query", "sql", "SELECT * FROM read_text('/etc/passwd')"], 2, "Permission", {}),
    ("read-blob-etc", ["query", "sql", "SELECT * FROM read_blob('/etc/passwd')"], 2, "Permission", {}),
    ("read-text-victim", ["query", "sql", f"SELECT * FROM read_text({ANY_FILE})"], 2, "Permission", {}),
    ("read-text-ledger", ["query", "sql", "SELECT * FROM read_text('{home}/ledger.json')"], 2, "Permission", {}),
    ("read-json-ledger", ["query", "sql", "SELECT * FROM read_json('{home}/ledger.json')"], 2, "Permission", {}),
    ("glob-etc", ["query", "sql", "SELECT * FROM glob('/etc/*')"], 2, "SQL error", {}),
    ("glob-home", ["query", "sql", "SELECT * FROM glob('{home}/*')"], 2, "SQL error", {}),
    ("glob-bucket", ["query", "sql", "SELECT * FROM glob('{home}/bucket/**')"], 2, "SQL error", {}),
    ("sniff-csv", ["query", "sql", "SELECT * FROM sniff_csv('/etc/passwd')"], 2, "Permission", {}),
    ("read-csv-etc", ["query", "sql", "SELECT * FROM read_csv('/etc/passwd', sep = ':')"], 2, "Permission", {}),
    ("read-parquet", ["query", "sql", "SELECT * FROM read_parquet('{outside}/x.parquet')"], 2, "Permission", {}),
    ("replacement-scan", ["query", "sql", "SELECT * FROM '/etc/passwd'"], 2, "does not exist", {}),
    ("replacement-ledger", ["query", "sql", "SELECT * FROM '{home}/ledger.json'"], 2, "SQL error", {}),
    ("cwd-tmp", ["query", "sql", "SELECT * FROM read_text('.tmp/*')"], 2, "Permission", {}),
    ("cte-read", ["query", "sql", "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x"], 2, "Permission", {}),
    ("explain-analyze-read", ["query", "sql", "EXPLAIN ANALYZE SELECT * FROM read_text('/etc/passwd')"], 2, "Permission", {}),
    ("dynamic-path", ["query", "sql", "SELECT * FROM read_text('/etc/' || 'passwd')"], 2, "Permission", {}),
    (
        "temp-folder-private",
        ["query", "sql", "SELECT current_setting('temp_directory') LIKE '%toll-duckdb-%' AS ok"],
        0,
        "true",  # booleans print as Athena prints them
        {},
    ),
    # limits
    (
        "timeout-count",
        ["query", "sql", "--timeout", "1", "SELECT count(*) FROM range(100000000000000)"],
        1,
        "query stopped after 1 s",
        {},
    ),
    (
        "timeout-recursive",
        [
            "query",
            "sql",
            "--timeout",
            "1",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        ],
        1,
        "query stopped after 1 s",
        {},
    ),
    ("timeout-question", ["query", "busiest", "--timeout", "0"], 2, "--timeout must be", {}),
    (
        "memory-cap",
        ["query", "sql", "--timeout", "3", "SELECT count(DISTINCT x) FROM range(3000000000) t(x)"],
        1,
        "query",
        {"TOLL_QUERY_MEMORY": "64MB"},
    ),
    (
        "memory-capped",
        ["query", "sql", "SELECT current_setting('memory_limit') AS m"],
        0,
        "95.3 MiB",
        {"TOLL_QUERY_MEMORY": "100MB"},
    ),
    ("spill-capped", ["query", "sql", "SELECT current_setting('max_temp_directory_size') AS s"], 0, "3.7 GiB", {}),
    ("timeout-zero", ["query", "sql", "--timeout", "0", "SELECT 1"], 2, "--timeout must be", {}),
    ("timeout-nan", ["query", "sql", "--timeout", "nan", "SELECT 1"], 2, "--timeout must be", {}),
    ("timeout-negative", ["query", "sql", "--timeout", "-5", "SELECT 1"], 2, "--timeout must be", {}),
    ("bad-memory-setting", ["query", "sql", "SELECT 1"], 2, "TOLL_QUERY_MEMORY", {"TOLL_QUERY_MEMORY": "lots"}),
    ("bad-threads-setting", ["query", "sql", "SELECT 1"], 2, "TOLL_QUERY_THREADS", {"TOLL_QUERY_THREADS": "0"}),
    ("threads-capped", ["query", "sql", "SELECT current_setting('threads') AS t"], 0, "1", {"TOLL_QUERY_THREADS": "1"}),
    # printed literally
    ("emoji-code", ["query", "sql", "SELECT 'root:x:0' AS v"], 0, "root:x:0", {}),
    ("markup-tag", ["query", "sql", "SELECT '[red]alert' AS v"], 0, "[red]alert", {}),
    ("markup-close", ["query", "sql", "SELECT '[/]' AS v"], 0, "[/]", {}),
    ("escape-bytes", ["query", "sql", "SELECT chr(27) || '[2J' AS v"], 0, "\\x1b[2J", {}),
    ("newline-value", ["query", "sql", "SELECT 'a' || chr(10) || 'b' AS v"], 0, "a\\nb", {}),
    ("markup-column", ["query", "sql", 'SELECT 1 AS "[bold]col"'], 0, "[bold]col", {}),
    ("bidi-override", ["query", "sql", "SELECT chr(8238) || 'txt' AS v"], 0, "\\u202etxt", {}),
    ("invalid-utf8-sql", ["query", "sql", "SELECT '\udcff'"], 2, "not valid UTF-8", {}),
    # user files
    ("template-dev-zero", ["generate", "--count", "1", "--template", "/dev/zero"], 2, "not a regular file", {}),
    ("template-fifo", ["generate", "--count", "1", "--template", "{inputs}/fifo"], 2, "not a regular file", {}),
    ("template-folder", ["generate", "--count", "1", "--template", "{inputs}"], 2, "cannot read template", {}),
    ("template-huge", ["generate", "--count", "1", "--template", "{inputs}/huge.txt"], 2, "larger than 1024 KB", {}),
    ("template-link-zero", ["generate", "--count", "1", "--template", "{inputs}/zero-link"], 2, "not a regular file", {}),
    ("template-bad-utf8", ["generate", "--count", "1", "--template", "{inputs}/latin1.txt"], 2, "not valid UTF-8", {}),
    ("profile-secret", ["generate", "--count", "1", "--rate-profile", "{inputs}/secret.csv"], 2, "row 2 is not hour,rate", {}),
    ("profile-dev-zero", ["generate", "--count", "1", "--rate-profile", "/dev/zero"], 2, "not a regular file", {}),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A set-up home with data (queried once, so its cache is warm), a victim folder, user files."""
    root = tmp_path_factory.mktemp("attacks")
    home, outside, inputs, cwd = root / "home", root / "outside", root / "inputs", root / "cwd"
    for folder in (outside, inputs, cwd):
        folder.mkdir()
    (outside / "victim.txt").write_text("keep me\n")
    os.mkfifo(inputs / "fifo")
    (inputs / "huge.txt").write_text("x" * (2 << 20))
    (inputs / "zero-link").symlink_to("/dev/zero")
    (inputs / "latin1.txt").write_bytes("caf\xe9 {{name.firstName}}\n".encode("latin-1"))
    (inputs / "secret.csv").write_text(f"hour,rate\n{SECRET},5\n")
    runner = CliRunner()
    for args in (["setup"], ["generate", "--count", "2000", "--backfill", "--seed", "1", "--quiet"], ["query", "busiest"]):
        result = runner.invoke(app, ["--home", str(home), *args])
        assert result.exit_code == 0, result.output
    yield {"home": home, "outside": outside, "inputs": inputs, "cwd": cwd}


def run_toll(home: Path, args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), *args], env=env)


def test_there_are_at_least_60_attacks() -> None:
    assert len(ATTACKS) >= 60
    assert len({name for name, *_ in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize(("name", "args", "status", "fragment", "env"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack(
    world: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: list[str],
    status: int,
    fragment: str,
    env: dict[str, str],
) -> None:
    monkeypatch.chdir(world["cwd"])  # DuckDB's default temp folder was `./.tmp`: it must stay empty
    filled = [a.format(**{k: str(v) for k, v in world.items()}) for a in args]
    before = {key: snapshot(world[key]) for key in ("home", "outside", "cwd", "inputs")}
    result = run_toll(world["home"], filled, env)
    stderr = result.stderr
    assert "Traceback" not in stderr, stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == status, (result.stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) <= 1, stderr
    if status:
        assert lines and lines[0].startswith("toll: error: "), stderr
        assert fragment in lines[0], lines[0]
        assert SECRET not in stderr
    else:
        assert fragment in result.stdout, result.stdout
        assert "\x1b" not in result.stdout and "❌" not in result.stdout
    assert {key: snapshot(world[key]) for key in ("home", "outside", "cwd", "inputs")} == before
    assert not (Path.cwd() / ".tmp").exists()


# ---------------------------------------------------------------------------------------------
# attacks that need a home of their own: a rewritten ledger or manifest, planted links


@pytest.fixture
def own_home(world: dict[str, Path], tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(world["home"], home, symlinks=True)
    for path in home.rglob("*.json"):  # the ledger and caches name the original home
        path.write_text(path.read_text().replace(str(world["home"]), str(home)))
    return home


def rewrite_ledger(home: Path, change: Any) -> None:
    import json

    path = home / "ledger.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def resource(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in data["resources"] if r["kind"] == kind)


def assert_refused(result: Any, status: int, fragment: str) -> None:
    assert result.exit_code == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("toll: error:")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_a_ledger_table_located_at_etc_is_refused(own_home: Path) -> None:
    rewrite_ledger(own_home, lambda d: resource(d, "table")["settings"].update(location="/etc"))
    assert_refused(run_toll(own_home, ["query", "sql", "SELECT * FROM lab_toll_data_stream"]), 1, "outside its folder")
    assert_refused(run_toll(own_home, ["compact"]), 1, "outside its folder")


def test_a_ledger_table_located_at_the_home_is_refused(own_home: Path) -> None:
    rewrite_ledger(own_home, lambda d: resource(d, "table")["settings"].update(location=str(own_home)))
    assert_refused(run_toll(own_home, ["query", "busiest"]), 1, "outside its folder")


@pytest.mark.parametrize("where", ["outside", "home", "dotdot", "wrong-folder"])
def test_teardown_refuses_a_ledger_path_outside_its_folder(own_home: Path, world: dict[str, Path], where: str) -> None:
    target = {
        "outside": str(world["outside"]),
        "home": str(own_home),
        "dotdot": str(own_home / "bucket" / ".." / ".." / "outside"),
        "wrong-folder": str(own_home / "streams"),
    }[where]
    rewrite_ledger(own_home, lambda d: resource(d, "bucket")["settings"].update(path=target))
    before = snapshot(world["outside"])
    result = run_toll(own_home, ["teardown", "--yes"])
    assert result.exit_code == 1, result.stderr
    assert "refusing to delete" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(world["outside"]) == before
    assert (own_home / "ledger.json").exists()  # the refused entry is kept, to be fixed by hand


def test_teardown_keeps_what_was_in_a_folder_before_toll(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for folder in ("catalog", "compacted", "anomaly"):  # (a bucket without a ledger is refused by setup)
        (home / folder).mkdir(parents=True)
        (home / folder / "mine.txt").write_text("the user's own\n")
    for args in (
        ["setup"],
        ["generate", "--count", "500", "--backfill", "--quiet"],
        ["query", "busiest"],
        ["compact"],
        ["deploy"],
    ):
        result = run_toll(home, args)
        assert result.exit_code == 0, result.stderr
    result = run_toll(home, ["teardown", "--yes"])
    assert result.exit_code == 0, result.stderr
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    folders = ("anomaly", "catalog", "compacted")
    assert left == sorted([*folders, *(f"{f}/mine.txt" for f in folders)])


def test_a_manifest_naming_a_file_outside_is_refused(own_home: Path, world: dict[str, Path]) -> None:
    import json

    assert run_toll(own_home, ["compact"]).exit_code == 0
    manifest = own_home / "compacted" / "lab_toll_data_stream" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["parts"][0]["sources"].append("../../../outside/victim.txt")
    manifest.write_text(json.dumps(data))
    assert run_toll(own_home, ["generate", "--count", "10", "--backfill", "--quiet"]).exit_code == 0
    assert_refused(run_toll(own_home, ["compact"]), 1, "refusing it")
    assert_refused(run_toll(own_home, ["query", "busiest"]), 1, "refusing it")
    assert (world["outside"] / "victim.txt").read_text() == "keep me\n"


@pytest.mark.parametrize("kind", ["file-link", "folder-link", "fifo"])
def test_links_planted_in_the_bucket_are_a_clean_error(own_home: Path, kind: str) -> None:
    hour = next(p for p in (own_home / "bucket").rglob("*") if p.is_file()).parent
    if kind == "file-link":
        (hour / "planted").symlink_to("/etc/passwd")
    elif kind == "folder-link":
        (hour / "planted").symlink_to("/etc")
    else:
        os.mkfifo(hour / "planted")
    for args in (["query", "busiest"], ["compact"]):
        assert_refused(run_toll(own_home, args), 1, "toll reads only what it delivered")


@pytest.mark.parametrize("name", ["it's", "with space", "ünïcödé-家", 'quote"d', "semi;colon'); DROP"])
def test_homes_with_any_legal_name_work(tmp_path: Path, name: str) -> None:
    home = tmp_path / name / "home"
    for args in (["setup"], ["generate", "--count", "300", "--backfill", "--quiet"], ["compact"]):
        result = run_toll(home, args)
        assert result.exit_code == 0, result.stderr
    result = run_toll(home, ["query", "sql", "--format", "csv", "SELECT count(*) AS n FROM lab_toll_data_stream"])
    assert result.exit_code == 0 and result.stdout.splitlines() == ['"n"', '"300"'], result.stderr  # Athena quotes CSV values
    assert run_toll(home, ["teardown", "--yes"]).exit_code == 0
    assert not home.exists() and sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1) TO '{folder}/new.csv'",
        "COPY (SELECT 9) TO '{file}'",  # DuckDB writes aside and renames: the aside file is refused
        "COPY (SELECT 1 AS a) TO '{folder}' (FORMAT csv, PARTITION_BY (a), OVERWRITE true)",
        "EXPORT DATABASE '{folder}'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SELECT * FROM read_text('{folder}/other.txt')",
        "SELECT * FROM glob('{folder}/*')",
    ],
)
def test_the_query_engine_itself_refuses_what_the_statement_check_would(tmp_path: Path, statement: str) -> None:
    """The second guard alone (no statement check): the engine for the user's SQL may open exactly
    the files its views read. What it still could do if a statement got past the first guard is
    overwrite one of those very files with `COPY ... (USE_TMP_FILE false)`: see the threat model."""
    import duckdb

    from tollcli.backends.local.engine import query_engine

    data, other = tmp_path / "data.csv", tmp_path / "other.txt"
    data.write_text("1,2\n")
    other.write_text("secret\n")
    before = snapshot(tmp_path)
    engine = query_engine([str(data)]).cursor()
    with pytest.raises(duckdb.Error):
        engine.execute(statement.format(folder=tmp_path, file=data)).fetchall()
    assert engine.execute("SELECT * FROM read_csv($p, header = false)", {"p": str(data)}).fetchall() == [(1, 2)]
    assert snapshot(tmp_path) == before
