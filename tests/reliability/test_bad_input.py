"""Every command and option, given bad input: exit 2, one line on stderr naming the problem,
no traceback, and nothing written to the home (snapshots before and after are equal)."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollcli.cli import app

BAD_TEMPLATE = '{{random.weightedArrayElement({"values": [1]}}}\n'


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root with a digest of its bytes: what 'nothing written' compares."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    made = {
        "bad_template": folder / "bad.txt",
        "empty": folder / "empty.txt",
        "binary": folder / "binary.txt",
        "bad_profile": folder / "profile.csv",
        "a_file": folder / "a-file",
    }
    made["bad_template"].write_text(BAD_TEMPLATE)
    made["empty"].write_text("")
    made["binary"].write_bytes(bytes(range(128, 256)) * 2)
    made["bad_profile"].write_text("hour,rate\nx,y\n")
    made["a_file"].write_text("not a folder\n")
    made["folder"] = folder
    return made


@pytest.fixture(scope="module")
def set_up_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bad-input") / "home"
    result = CliRunner().invoke(app, ["--home", str(home), "setup", "--format", "json"])
    assert result.exit_code == 0, result.output
    return home


# (args, a fragment the one error line must contain). {bad_template} etc. are filled from `files`.
CASES: list[tuple[str, ...]] = [
    # global options
    ("--backend gcp status", "unknown backend 'gcp'"),
    ("nosuchcommand", "No such command"),
    ("status --bogus", "No such option"),
    # setup / status / teardown
    ("setup --buffer-mb 0", "1-128 MB"),
    ("setup --buffer-mb 129", "1-128 MB"),
    ("setup --buffer-seconds -1", "0-900 s"),
    ("setup --buffer-seconds 901", "0-900 s"),
    ("setup --buffer-mb abc", "--buffer-mb"),
    ("setup --format xml", "'xml' is not one of"),
    ("status --format yaml", "'yaml' is not one of"),
    ("teardown --format xml", "'xml' is not one of"),
    # generate
    ("generate --rate 0", "--rate must be a number above 0"),
    ("generate --rate -5", "--rate must be a number above 0"),
    ("generate --rate nan", "--rate must be a number above 0"),
    ("generate --rate inf", "--rate must be a number above 0"),
    ("generate --rate abc", "--rate"),
    ("generate --rate 1e12 --count 5", "above 500,000 records/s"),
    ("generate --count 0", "--count must be at least 1"),
    ("generate --count -1", "--count must be at least 1"),
    ("generate --duration 5x", "duration '5x'"),
    ("generate --duration -5m", "duration '-5m'"),
    ("generate --duration 0s", "duration '0s'"),
    ("generate --template /nonexistent/template.txt", "does not exist"),
    ("generate --template {bad_template}", "unbalanced '}'"),
    ("generate --template {empty}", "template is empty"),
    ("generate --template {binary}", "cannot read template"),
    ("generate --template {folder}", "cannot read template"),
    ("generate --template " + "t" * 5000, "neither a file nor a shipped name"),  # a name the file system refuses
    ("generate --template " + "t" * 5000 + ".txt", "File name too long"),
    ("generate --rate-profile " + "p" * 5000, "neither a file nor a shipped name"),
    ("generate --start yesterday --backfill --count 5", "cannot read --start"),
    ("generate --start 2026-13-01 --backfill --count 5", "cannot read --start"),
    ("generate --start 2026-01-01T00:00:00Z", "add --backfill"),
    ("generate --backfill", "--backfill needs --count or --duration"),
    ("generate --count 5 --duration 1m", "--count or --duration, not both"),
    ("generate --sample 0", "--sample must be at least 1"),
    ("generate --sample abc", "--sample"),
    ("generate --seed abc", "--seed"),
    ("generate --seed -1 --sample 1", "--seed must be 0 or more"),
    ("generate --rate-profile /nonexistent/profile.csv", "does not exist"),
    ("generate --rate-profile {bad_profile}", "is not hour,rate"),
    ("generate --rate-profile {empty}", "no hour with a rate above 0"),
    ("generate --rate 5 --rate-profile {bad_profile}", "--rate or --rate-profile, not both"),
    ("generate --output file.csv", "--output takes only '-'"),
    ("generate --output - --format json", "use one of them"),
    ("generate --skew NoSuchStation", "unknown station 'NoSuchStation'"),
    ("generate --drop", "--drop needs --skew"),
    ("generate --format xml", "'xml' is not one of"),
    # skew
    ("skew", "give --station"),
    ("skew --drop", "give --station"),
    ("skew --reset --station 35South", "--reset takes no --station"),
    ("skew --station Nowhere", "unknown station 'Nowhere'"),
    ("skew --station 35South --template /nonexistent/template.txt", "does not exist"),
    ("skew --station 35South --format xml", "'xml' is not one of"),
    # query
    ("query nosuch", "No such command"),
    ("query busiest --since notatime", "cannot read --since"),
    ("query busiest --until 2026-99-01", "cannot read --until"),
    ("query busiest --last forever", "duration 'forever'"),
    ("query busiest --limit 0", "--limit"),
    ("query busiest --format xml", "'xml' is not one of"),
    ("query busiest --since 2026-11-28T10:00:00Z --until 2026-11-28T09:00:00Z", "the time range is empty"),
    ("query busiest --last 5m --since 2026-11-28T10:00:00Z", "--last and --since"),
    ("query most-active --limit -1", "--limit"),
    ("query most-active --since ''", "cannot read --since"),
    ("query quiet --last 0s", "must be more than zero"),
    ("query sql", "Missing argument 'SQL'"),
    ("query sql ''", "the query is empty"),
    ("query sql 'DROP TABLE toll_data'", "DROP statement"),
    ("query sql 'DELETE FROM toll_data'", "DELETE statement"),
    ("query sql 'INSERT INTO toll_data VALUES (1, 2, 3)'", "INSERT statement"),
    ("query sql \"COPY toll_data TO '/tmp/x.csv'\"", "COPY statement"),
    ("query sql \"ATTACH '/tmp/x.db'\"", "ATTACH statement"),
    ("query sql 'SET threads=1'", "SET statement"),
    ("query sql 'SELECT 1; SELECT 2'", "exactly one statement"),
    ("query sql 'SELECT * FROM nosuchtable'", "nosuchtable"),
    ("query sql 'SELEC 1'", "syntax error"),
    ("query sql \"SELECT * FROM read_csv('/etc/passwd')\"", "/etc/passwd"),
    # compact
    ("compact --format xml", "'xml' is not one of"),
    # deploy
    ("deploy --threshold -1", "--threshold must be a number above 0"),
    ("deploy --threshold nan", "--threshold must be a number above 0"),
    ("deploy --threshold abc", "--threshold"),
    ("deploy --mode fancy", "unknown mode 'fancy'"),
    ("deploy --trees 0", "--trees 0"),
    ("deploy --trees 100000", "--trees 100000"),
    ("deploy --sample-size 0", "--sample-size 0"),
    ("deploy --time-decay -1", "--time-decay"),
    ("deploy --shingle 0", "--shingle 0"),
    ("deploy --window 0", "--window must be 1-3600"),
    ("deploy --window 99999", "--window must be 1-3600"),
    ("deploy --lateness -1", "--lateness: the duration '-1'"),
    ("deploy --webhook ftp://x", "not an http(s) URL"),
    ("deploy --webhook http://", "not an http(s) URL"),
    ("deploy --email a@example.com", "aws backend"),
    ("deploy --phone +15555550100", "aws backend"),
    ("deploy --format xml", "'xml' is not one of"),
    # alerts
    ("alerts", "no anomaly app is deployed"),
    ("alerts --format xml", "'xml' is not one of"),
    # workshop
    ("workshop --minutes 0", "--minutes must be above 0"),
    ("workshop --minutes inf", "--minutes must be above 0"),
    ("workshop --rate 0", "--rate must be above 0"),
    ("workshop --rate nan", "--rate must be above 0"),
    ("workshop --skew-station Nowhere", "unknown station 'Nowhere'"),
    ("workshop --steady-minutes -1", "--steady-minutes"),
    ("workshop --skew-minutes -1", "--skew-minutes"),
    ("workshop --threshold -1", "--threshold"),
    ("workshop --dashboard /nonexistent/dir/x.html", "does not exist"),
    ("workshop --format xml", "'xml' is not one of"),
    # dashboard
    ("dashboard --format xml", "'xml' is not one of"),
    ("dashboard --user arn:aws:quicksight:us-west-2:1:user/default/x", "--user goes with --quicksight"),
    ("dashboard --quicksight", "--quicksight needs --backend aws"),
    ("dashboard --out /nonexistent/dir/x.html", "does not exist"),
]


def _args(spec: str, files: dict[str, Path]) -> list[str]:
    return shlex.split(spec.format(**{k: str(v) for k, v in files.items()}))


def assert_one_error_line(exit_code: int, stderr: str, fragment: str) -> None:
    assert exit_code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("toll: error: "), lines[0]
    assert fragment in lines[0], lines[0]


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    commands = {spec.split()[0] for spec, _ in CASES if not spec.startswith("-")}
    every = {"setup", "status", "teardown", "generate", "skew", "query", "compact", "deploy", "alerts", "workshop", "dashboard"}
    assert every <= commands


@pytest.mark.parametrize(("spec", "fragment"), CASES, ids=[spec[:80] for spec, _ in CASES])
def test_bad_input_after_setup(spec: str, fragment: str, set_up_home: Path, files: dict[str, Path], tmp_path: Path) -> None:
    before = snapshot(set_up_home)
    outside = snapshot(files["folder"])
    result = CliRunner().invoke(app, ["--home", str(set_up_home), *_args(spec, files)])
    assert_one_error_line(result.exit_code, result.stderr, fragment)
    assert snapshot(set_up_home) == before
    assert snapshot(files["folder"]) == outside


BEFORE_SETUP = [
    ("query busiest", "setup` first"),  # `toll [--home DIR] setup` first
    ("compact", "setup` first"),  # `toll [--home DIR] setup` first
    ("deploy", "setup` first"),  # `toll [--home DIR] setup` first
    ("skew --station 35South", "setup` first"),  # `toll [--home DIR] setup` first
    ("setup --buffer-mb 0", "1-128 MB"),
    ("generate --rate 0", "--rate must be a number above 0"),
]


@pytest.mark.parametrize(("spec", "fragment"), BEFORE_SETUP, ids=[spec for spec, _ in BEFORE_SETUP])
def test_bad_input_before_setup_creates_no_home(spec: str, fragment: str, tmp_path: Path, files: dict[str, Path]) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["--home", str(home), *_args(spec, files)])
    assert_one_error_line(result.exit_code, result.stderr, fragment)
    assert not home.exists()


def test_home_that_is_a_file(files: dict[str, Path]) -> None:
    before = files["a_file"].read_bytes()
    result = CliRunner().invoke(app, ["--home", str(files["a_file"]), "setup"])
    assert result.exit_code in (1, 2), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert files["a_file"].read_bytes() == before


SUBPROCESS_CASES = [
    ("generate --seed -1 --sample 1", "--seed must be 0 or more"),
    ("query sql 'DROP TABLE toll_data'", "DROP statement"),
    ("deploy --mode fancy", "unknown mode 'fancy'"),
    ("setup --buffer-mb 129", "1-128 MB"),
    ("workshop --rate nan", "--rate must be above 0"),
]


@pytest.mark.parametrize(("spec", "fragment"), SUBPROCESS_CASES, ids=[spec for spec, _ in SUBPROCESS_CASES])
def test_bad_input_as_a_real_process(spec: str, fragment: str, set_up_home: Path, files: dict[str, Path]) -> None:
    before = snapshot(set_up_home)
    done = subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(set_up_home), *_args(spec, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_error_line(done.returncode, done.stderr, fragment)
    assert done.stdout == ""
    assert snapshot(set_up_home) == before
