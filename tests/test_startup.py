"""`toll --help` and `toll --version` start fast (issue 19): they import none of the heavy libraries; nor
does `toll status` import the generator.

Each check runs `python -m tollcli ...` in a fresh interpreter (through runpy, as `python -m` does) and
reads `sys.modules` when the command has finished. How long start-up takes is measured by
bench/bench_startup.py, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tollcli.state import read_last_event

HEAVY = ("numpy", "duckdb", "sqlglot", "boto3", "botocore", "krcf", "pyathena")

PROBE = """
import json, runpy, sys
heavy, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["toll", *argv]
status = 0
try:
    runpy.run_module("tollcli", run_name="__main__")
except SystemExit as exc:
    status = exc.code
print("\\n" + json.dumps({"status": status, "loaded": sorted(m for m in json.loads(heavy) if m in sys.modules)}))
"""


def loaded_after(home: Path, *args: str, modules: tuple[str, ...] = HEAVY) -> dict[str, object]:
    """Which of `modules` (the HEAVY ones unless told) `toll --home HOME ARGS...` imported, and its exit status."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), "--home", str(home), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("query", "--help"), ("generate", "--help")])
def test_help_and_version_import_no_heavy_library(home: Path, args: tuple[str, ...]) -> None:
    result = loaded_after(home, *args)
    assert result["status"] == 0
    assert result["loaded"] == []


def test_the_probe_sees_a_heavy_library_a_command_does_load(home: Path) -> None:
    """The check above could pass by seeing nothing: a command that generates records loads numpy."""
    result = loaded_after(home, "generate", "--sample", "1", "--seed", "1")
    assert result["status"] == 0
    assert "numpy" in result["loaded"]  # type: ignore[operator]


def test_every_question_the_engine_answers_is_a_query_command() -> None:
    """`toll query` registers its commands from tollcli.config's light list of names (so that it need not
    import the query engine): the list must name exactly the questions the engine defines."""
    from tollcli.cli.query import query_app
    from tollcli.questions import QUESTIONS

    commands = {command.name for command in query_app.registered_commands} - {"sql"}
    assert commands == set(QUESTIONS)


def test_status_reads_the_event_time_file_without_the_generator(home: Path, toll: Callable[..., Any]) -> None:
    """`toll status` describes `<home>/event-time.json` (where the next backfill continues) from tollcli.state,
    the file's light home: it imports neither the generator nor the KDG (numpy and the template engine)."""
    assert toll("setup").exit_code == 0
    assert toll("generate", "--backfill", "--count", "50", "--seed", "1", "--quiet").exit_code == 0
    assert read_last_event(home) is not None  # the file status describes is there
    result = loaded_after(home, "status", "--format", "json", modules=("tollcli.generator", "tollcli.kdg", "duckdb"))
    assert result["status"] == 0
    assert result["loaded"] == []


def test_a_typer_without_the_patched_method_still_runs_every_command(home: Path) -> None:
    """The `<bool>` fix patches a method Typer does not document; a release without it must not stop toll
    (here the method is taken away from every class that defines it, before toll is imported)."""
    script = (
        "import runpy, sys\n"
        "import typer.core\n"
        "for cls in typer.core.TyperOption.__mro__:\n"
        "    if 'display_type_rich' in vars(cls):\n"
        "        delattr(cls, 'display_type_rich')\n"
        "sys.argv = ['toll', '--home', sys.argv[1], '--version']\n"
        "runpy.run_module('tollcli', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("toll ") and "Traceback" not in done.stderr
