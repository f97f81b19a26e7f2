"""The foundation: settings, ledger, local setup/status/teardown, errors and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tollcli.cli import app
from tollcli.config import resolve_settings
from tollcli.errors import UsageError
from tollcli.state import Ledger, Resource


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its content, to compare before and after."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_setup_creates_the_workshop_resources(toll, home: Path) -> None:
    result = toll("setup")
    assert result.exit_code == 0, result.output
    ledger = json.loads((home / "ledger.json").read_text())
    kinds = {(r["kind"], r["name"]) for r in ledger["resources"]}
    assert kinds == {
        ("bucket", "bucket"),
        ("delivery_stream", "toll-data-stream"),
        ("database", "toll"),
        ("table", "toll.lab_toll_data_stream"),
    }
    assert (home / "bucket").is_dir()
    stream = json.loads((home / "streams" / "toll-data-stream.json").read_text())
    assert (stream["buffering_mb"], stream["buffering_seconds"]) == (1, 60)
    table = next(r for r in ledger["resources"] if r["kind"] == "table")
    assert table["settings"]["columns"] == {"date": "VARCHAR", "toll": "VARCHAR", "user": "VARCHAR"}


def test_setup_twice_changes_nothing_and_says_so(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    before = snapshot(home)
    again = toll("setup")
    assert again.exit_code == 0
    assert "nothing changed" in again.output
    assert snapshot(home) == before


def test_setup_buffering_is_settable_and_reapplied(toll, home: Path) -> None:
    assert toll("setup", "--buffer-mb", "5", "--buffer-seconds", "0").exit_code == 0
    stream = json.loads((home / "streams" / "toll-data-stream.json").read_text())
    assert (stream["buffering_mb"], stream["buffering_seconds"]) == (5, 0)
    changed = toll("setup", "--buffer-mb", "2")
    assert changed.exit_code == 0 and "Set up 1 resource" in changed.output
    assert json.loads((home / "streams" / "toll-data-stream.json").read_text())["buffering_mb"] == 2


def test_status_reports_objects_and_bytes_as_json(toll, home: Path) -> None:
    toll("setup")
    hour = home / "bucket" / "2026" / "11" / "28" / "08"
    hour.mkdir(parents=True)
    record = b"2026-11-28T08:00:00.000Z,183A,6LD7N\n"
    (hour / "toll-data-stream-1-2026-11-28-08-00-00-abc").write_bytes(record)
    (hour / ".in-flight.tmp").write_bytes(b"partial")
    result = toll("status", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    bucket = next(r for r in report["resources"] if r["kind"] == "bucket")
    assert bucket["details"]["objects"] == 1
    assert bucket["details"]["bytes"] == len(record)
    assert report["set_up"] is True


def test_status_before_setup_says_nothing_is_set_up(toll) -> None:
    result = toll("status")
    assert result.exit_code == 0
    assert "toll setup" in result.output


def test_setup_status_teardown_status_leaves_home_as_before(toll, home: Path) -> None:
    home.mkdir()
    (home / "keep.txt").write_text("mine")
    before = snapshot(home)
    assert toll("setup").exit_code == 0
    assert toll("status").exit_code == 0
    result = toll("teardown", "--yes")
    assert result.exit_code == 0, result.output
    assert toll("status").exit_code == 0
    assert snapshot(home) == before
    assert sorted(p.name for p in home.iterdir()) == ["keep.txt"]


def test_teardown_removes_a_home_it_created(toll, home: Path) -> None:
    toll("setup")
    assert toll("teardown", "--yes").exit_code == 0
    assert not home.exists()


def test_teardown_asks_and_keeps_everything_on_no(toll, home: Path) -> None:
    toll("setup")
    before = snapshot(home)
    result = toll("teardown", input="n\n")
    assert result.exit_code == 1
    assert snapshot(home) == before


def test_teardown_twice_is_safe(toll) -> None:
    toll("setup")
    assert toll("teardown", "--yes").exit_code == 0
    second = toll("teardown", "--yes")
    assert second.exit_code == 0
    assert "Nothing to tear down" in second.output


def test_teardown_refuses_a_folder_without_our_ledger(toll, home: Path) -> None:
    home.mkdir()
    (home / "precious.txt").write_text("do not delete")
    result = toll("teardown", "--yes")
    assert result.exit_code == 2
    assert (home / "precious.txt").read_text() == "do not delete"


def test_teardown_removes_only_ledger_resources(toll, home: Path) -> None:
    toll("setup")
    (home / "notes.txt").write_text("user file")
    assert toll("teardown", "--yes").exit_code == 0
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]


def test_teardown_removes_the_shared_layer_s_files_where_it_keeps_them(toll, home: Path) -> None:
    """skew.json and event-time.json go at the path the shared layer keeps them, never one the ledger names."""
    toll("setup")
    assert toll("generate", "--backfill", "--count", "50", "--seed", "1", "--quiet").exit_code == 0
    assert toll("skew", "--station", "35South").exit_code == 0
    assert (home / "event-time.json").is_file() and (home / "skew.json").is_file()
    ledger = Ledger.load(home / "ledger.json")
    assert ledger is not None
    (home / "notes.txt").write_text("user file")  # and a ledger that points the skew file at it
    ledger.record(Resource(kind="skew", name="skew.json", settings={"path": str(home / "notes.txt")}))
    result = toll("teardown", "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    assert {"skew skew.json", "event-time event-time.json"} <= set(json.loads(result.stdout)["removed"])
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "gcp", "status"], "unknown backend 'gcp'"),
        (["setup", "--buffer-mb", "0"], "outside Firehose's range 1-128 MB"),
        (["setup", "--buffer-mb", "129"], "outside Firehose's range 1-128 MB"),
        (["setup", "--buffer-seconds", "901"], "outside Firehose's range 0-900 s"),
        (["setup", "--buffer-seconds", "-1"], "outside Firehose's range 0-900 s"),
        (["setup", "--buffer-mb", "many"], "Invalid value for '--buffer-mb'"),
        (["status", "--no-such-flag"], "No such option"),
        (["status", "--format", "xml"], "xml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_creates_nothing(runner, home: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert not home.exists()


def test_home_that_is_a_file_is_bad_input(runner, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    result = runner.invoke(app, ["--home", str(target), "setup"])
    assert result.exit_code == 2
    assert "is a file" in result.stderr
    assert target.read_text() == "x"


def test_unwritable_home_is_bad_input(runner, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # root may write anywhere on disk, but not below /proc
    target = Path("/proc/toll-home") if os.geteuid() == 0 else locked / "home"
    result = runner.invoke(app, ["--home", str(target), "setup"])
    assert result.exit_code == 2
    assert "is not writable" in result.stderr


def test_corrupt_ledger_is_bad_input_and_left_alone(toll, home: Path) -> None:
    home.mkdir()
    (home / "ledger.json").write_text("{not json")
    for command in (["setup"], ["status"], ["teardown", "--yes"]):
        result = toll(*command)
        assert result.exit_code == 2, command
        assert "corrupt" in result.stderr
    assert (home / "ledger.json").read_text() == "{not json"


def test_a_home_set_up_locally_keeps_its_backend(runner, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["--home", str(home), "setup"]).exit_code == 0
    monkeypatch.setenv("TOLL_BACKEND", "aws")
    result = runner.invoke(app, ["--home", str(home), "status", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["backend"] == "local"
    explicit = runner.invoke(app, ["--home", str(home), "--backend", "aws", "status"])
    assert explicit.exit_code == 2
    assert "holds a local stack" in explicit.stderr


def test_settings_come_from_the_environment() -> None:
    settings = resolve_settings(
        backend=None,
        home=None,
        region=None,
        profile=None,
        environ={"TOLL_HOME": "/tmp/x", "TOLL_BACKEND": "AWS", "TOLL_REGION": "eu-west-1"},
    )
    assert (settings.backend, str(settings.home), settings.region) == ("aws", "/tmp/x", "eu-west-1")
    assert settings.backend_explicit is False
    with pytest.raises(UsageError):
        resolve_settings(backend="nope", home=None, region=None, profile=None, environ={})


def test_ledger_round_trip_and_atomic_save(tmp_path: Path) -> None:
    ledger = Ledger(path=tmp_path / "ledger.json", backend="local", stack="toll")
    ledger.record(Resource(kind="bucket", name="b", settings={"path": "x"}))
    ledger.record(Resource(kind="bucket", name="b", settings={"path": "y"}))
    loaded = Ledger.load(tmp_path / "ledger.json")
    assert loaded is not None
    assert [(r.kind, r.name, r.settings["path"]) for r in loaded.resources] == [("bucket", "b", "y")]
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_help_documents_every_global_option(runner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--backend", "--home", "--region", "--profile", "--version"):
        assert option in result.output


def test_real_subprocess_setup_status_teardown(tmp_path: Path) -> None:
    home = tmp_path / "sub"
    base = [sys.executable, "-m", "tollcli", "--home", str(home)]
    version = subprocess.run([sys.executable, "-m", "tollcli", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("toll ")
    setup = subprocess.run([*base, "setup", "--format", "json"], capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    assert json.loads(setup.stdout)["changed"] is True
    bad = subprocess.run([*base, "setup", "--buffer-mb", "500"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    down = subprocess.run([*base, "teardown", "--yes"], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert not home.exists()
