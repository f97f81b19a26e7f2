"""The README, followed as a newcomer would: its commands are read from README.md itself.

- The step table ("The workshop, step by step"), typed by hand: each command its own process, in
  order, with the backfills as written. It must end as `toll workshop` does: an alert naming
  35South, no record the anomaly app counted late, and the three answers.
- Every other `toll ...` the README shows must be accepted by the CLI as written: the command
  exists and every option it names parses (placeholders such as FILE or ISO get a sample value).
- The cheap ones, those that only read or print (`--show-template`, `--sample`, the questions, SQL
  written out in full, `toll status`), are run as written against one backfilled home: exit 0.
- What it says of the AWS Firehose sink (packing, call limits, retries) matches the code's constants.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer._click.core import Command, Context, Exit
from typer._click.exceptions import ClickException
from typer.main import get_command
from typer.testing import CliRunner

from tollcli.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
CODE_SPAN = re.compile(r"`(toll [^`]+)`")
LATE_NOTE = re.compile(r"counted [\d,]+ records? late")


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def step_table_commands() -> list[str]:
    """The commands of the step table, row by row, in the order a user types them."""
    text = readme_text()
    section = text[text.index("## The workshop, step by step") :]
    commands: list[str] = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            commands.extend(CODE_SPAN.findall(cells[2]))
        elif commands and not line.startswith("|"):
            break
    return commands


def run_typed(command: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`toll ARGS` as typed, with this test's home (the global option goes before the command)."""
    args = shlex.split(command)
    assert args[0] == "toll"
    env = {**os.environ, "TOLL_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tollcli", *args[1:]], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)  # fmt: skip


def test_the_step_table_is_what_the_workshop_runs() -> None:
    commands = step_table_commands()
    assert commands[0] == "toll setup" and commands[-1] == "toll teardown --yes"
    assert sum("--backfill" in c for c in commands) == 3
    assert "toll deploy --replay" in commands and "toll skew --station 35South" in commands


@pytest.fixture(scope="module")
def workshop_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("workshop")
    process = subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(folder / "home"), "workshop", "--format", "json"],
        capture_output=True, text=True, timeout=180, cwd=folder,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


def test_the_step_table_typed_by_hand_ends_as_the_workshop_does(tmp_path: Path, workshop_report: dict) -> None:
    home = tmp_path / "home"
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    answers: dict[str, str] = {}
    scores: list[dict] = []
    alerts: list[dict] = []
    for command in step_table_commands():
        process = run_typed(command, home, tmp_path)
        assert process.returncode == 0, f"{command}: {process.stderr}"
        outputs[command] = process
        if command.startswith("toll query "):
            answers[command.split()[2]] = process.stdout
        if command.startswith("toll alerts"):
            report = json.loads(run_typed("toll alerts --scores --format json", home, tmp_path).stdout)
            scores, alerts = report["scores"], report["alerts"]
        assert not LATE_NOTE.search(process.stdout + process.stderr), f"{command} reported late records"

    # the later backfills continued after the earlier ones, and said so
    backfills = [c for c in outputs if "--backfill" in c]
    assert "continued after" not in outputs[backfills[0]].stdout
    assert all("continued after" in outputs[c].stdout for c in backfills[1:])
    # an alert naming 35South, as in the workshop
    expected_station = "35South"
    workshop_alerts = workshop_report["alerts"]
    assert any(a["station"] == expected_station and expected_station in a["message"] for a in workshop_alerts)
    assert any(a["station"] == expected_station and expected_station in a["message"] for a in alerts), alerts
    assert "35South" in outputs["toll alerts --scores"].stdout
    # no late records: every scored window counted its records, none were left out
    assert scores and sum(int(row["late_records"]) for row in scores) == 0
    # the three answers, after Section 1's traffic: the same figures the workshop gives
    assert set(answers) == set(workshop_report["answers"]) == {"busiest", "most-active", "quiet"}
    for question, answer in workshop_report["answers"].items():
        assert answer["total_records"] == 60_000
        assert "60,000 records" in answers[question], answers[question]
        leader = answer["rows"][0]["station" if question != "most-active" else "plate"]
        assert leader and re.search(r"│ \S+ +│ [\d,]+ ", answers[question])  # a ranked table, as the workshop's
    assert workshop_report["answers"]["quiet"]["flagged"] == [expected_station]
    assert f"quiet: {expected_station} (" in answers["quiet"]
    assert (tmp_path / "toll-dashboard.html").exists()
    assert not home.exists() or not any(home.iterdir()), "teardown left files behind"


# --- every command the README shows parses ------------------------------------------------------
SAMPLES = {
    "FILE": "x.txt",
    "DIR": "somewhere",
    "ISO": "2026-11-28T08:00:00Z",
    "N": "5",
    "ARN": "arn:aws:quicksight:us-east-1:123456789012:user/default/me",
    "STATION": "35South",
    "URL": "https://example.com/hook",
    "ADDR": "me@example.com",
    "NAME": "rush-hour",
}


def readme_commands() -> list[str]:
    """Every `toll ...` in a code span or a code block of the README and of docs/WORKSHOP.md."""
    text = readme_text() + "\n" + (README.parent / "docs" / "WORKSHOP.md").read_text(encoding="utf-8")
    found = CODE_SPAN.findall(text)
    for block in re.findall(r"```\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if "-->" in line or "──>" in line:
                continue  # a diagram, not a command
            found.extend("toll " + m.group(1).strip() for m in re.finditer(r"(?:^|bin/)toll ([^|&;]*)", line.strip()))
    return found


def to_args(command: str) -> list[str]:
    text = command.replace("\\|", "|")
    text = re.sub(r"\[([^\]]*)\]", r"\1", text)  # optional parts: take them
    args = shlex.split(text)[1:]
    out = []
    for arg in args:
        if arg == "...":
            continue  # "and so on"
        if "|" in arg and not arg.startswith("SELECT"):
            arg = arg.split("|")[0]  # alternatives: take the first
        out.append(SAMPLES.get(arg, arg))
    return out


def parse_as_typed(command: Command, name: str, args: list[str], parent: Context | None = None) -> int:
    """Parse `args` the way running them would, down to the leaf command; the commands reached."""
    if parent is not None and not args and hasattr(command, "get_command"):
        return 0  # a topic named on its own (`toll query`): its commands are shown elsewhere
    if parent is not None and not args:
        return 1  # a command named in prose (`toll query sql` accepts ...): it exists
    ctx = command.make_context(name, list(args), parent=parent)
    if not hasattr(command, "get_command"):  # a leaf command
        return 1
    rest = [*getattr(ctx, "_protected_args", []), *getattr(ctx, "protected_args", []), *ctx.args]
    if not rest:
        return 0  # `toll --version` and the like: global options only
    sub = command.get_command(ctx, rest[0])  # type: ignore[attr-defined]
    assert sub is not None, f"no command {rest[0]!r}"
    return parse_as_typed(sub, rest[0], rest[1:], ctx)


def test_every_readme_command_is_accepted_as_written() -> None:
    group = get_command(app)
    commands = readme_commands()
    assert len(commands) > 30
    checked = 0
    for command in commands:
        try:
            checked += parse_as_typed(group, "toll", to_args(command))
        except (Exit, ClickException) as exc:
            pytest.fail(f"README: {command!r} is refused: {exc}")
    assert checked > 20


# --- the cheap ones run as written ----------------------------------------------------------------
def runnable_args(args: list[str], home: Path) -> list[str] | None:
    """`args` to run against the test's home, if the command is cheap and reads only (else None):
    printing a template or samples, asking a question, any SQL written out in full, `toll status`."""
    args = list(args)
    for position, arg in enumerate(args):
        if arg == "--home":
            args[position + 1] = str(home)  # `toll --home DIR status` and `toll status --home DIR`
        if arg == "--backend" and args[position + 1] != "local":
            return None  # nothing reaches AWS in a test
    words = [arg for position, arg in enumerate(args) if not (arg == "--home" or (position and args[position - 1] == "--home"))]
    if not words:
        return None
    command, rest = words[0], words[1:]
    cheap = (
        (command == "generate" and any(option in rest for option in ("--show-template", "--sample")))
        or (command == "query" and bool(rest) and rest[0] in {"busiest", "most-active", "quiet"})
        or (command == "query" and len(rest) > 1 and rest[0] == "sql" and "..." not in rest[1])
        or command == "status"
    )
    if not cheap:
        return None
    return args if "--home" in args else ["--home", str(home), *args]


def test_the_cheap_readme_commands_run_as_written(tmp_path: Path, runner: CliRunner) -> None:
    home = tmp_path / "home"
    for setup in (["setup"], ["generate", "--backfill", "--duration", "2m", "--rate", "20", "--seed", "1", "--quiet"]):
        result = runner.invoke(app, ["--home", str(home), *setup])
        assert result.exit_code == 0, result.output
    ran: set[str] = set()
    for command in dict.fromkeys(readme_commands()):
        args = runnable_args(to_args(command), home)
        if args is None:
            continue
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"README: {command!r} exits {result.exit_code}: {result.output}"
        assert result.stdout.strip(), f"README: {command!r} printed nothing"
        ran.add(command)
    assert "toll status" in ran and "toll query busiest --last 15m" in ran and "toll generate --sample 5" in ran
    assert sum(c.startswith("toll query ") for c in ran) >= 4 and sum("--show-template" in c for c in ran) >= 3
    assert len(ran) >= 10, sorted(ran)


# --- what the README says of the AWS sink is what the code does ---------------------------------
def test_the_readme_describes_the_firehose_sink_as_it_packs_and_batches() -> None:
    """Issue 16 packed many lines into each Firehose record; the README must not say a line per record."""
    from tollcli.backends.aws import packing, sinks

    text = readme_text()
    start = text.index("`toll generate` then ")
    paragraph = " ".join(text[start : text.index("\n\n", start)].split())
    assert "many newline-terminated lines into each Firehose record" in paragraph
    assert f"up to {sinks.RECORD_MAX_BYTES // 1024:,} KiB" in paragraph
    assert f"rounded up to {packing.FIREHOSE_BILLING_BYTES // 1024} KB" in paragraph
    limits = f"{sinks.BATCH_MAX_RECORDS} records / {sinks.BATCH_MAX_BYTES // 2**20} MiB at most"
    workers = inspect.signature(sinks.FirehoseSink).parameters["workers"].default
    assert f"`PutRecordBatch` calls ({limits}, {workers} in flight" in paragraph
    assert f"at least once a {'second' if packing.FLUSH_SECONDS == 1 else packing.FLUSH_SECONDS}" in paragraph
    attempts = inspect.signature(sinks.FirehoseSink).parameters["max_attempts"].default
    assert f"after {attempts} attempts" in paragraph and "exactly the records that failed" in paragraph
