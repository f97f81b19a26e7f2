"""What a newcomer meets (issue 21): suggested commands that work, messages that say what happened,
one exit rule, and backfills that follow one another in event time."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from tollcli.cli import app, hoist_global_options
from tollcli.units import parse_instant


def test_a_backfill_continues_after_the_homes_last_event_and_says_so(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    first = json.loads(toll("generate", "--duration", "1 minute", "--backfill", "--format", "json").stdout)
    assert first["continued_after"] is None and not first["notes"]
    second = json.loads(toll("generate", "--duration", "30s", "--backfill", "--format", "json").stdout)
    assert second["continued_after"] == first["last_event"]
    assert parse_instant(second["first_event"]) > parse_instant(first["last_event"])
    assert any("continued after" in note and "--start" in note for note in second["notes"])
    # --start wins; the records it overlaps are the user's choice
    chosen = json.loads(
        toll("generate", "--count", "10", "--backfill", "--start", first["first_event"], "--format", "json").stdout
    )
    assert chosen["first_event"] == first["first_event"] and chosen["continued_after"] is None
    status = json.loads(toll("status", "--format", "json").stdout)
    event_time = next(r for r in status["resources"] if r["kind"] == "event-time")
    assert event_time["details"]["last_event"] == second["last_event"]
    assert toll("teardown", "--yes").exit_code == 0
    assert not home.exists()  # the record went with the rest


def test_late_records_are_reported_by_generate(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    start = "2026-11-28T08:00:00Z"
    assert toll("generate", "--count", "3000", "--backfill", "--start", start, "--seed", "1").exit_code == 0
    assert toll("deploy", "--replay").exit_code == 0
    again = toll("generate", "--count", "2000", "--backfill", "--start", start, "--seed", "2", "--format", "json")
    summary = json.loads(again.stdout)
    assert summary["late_records"] > 0  # every one of them fell in a window the app had closed
    assert any(f"counted {summary['late_records']:,} records late" in note for note in summary["notes"])


def test_a_backfill_ahead_of_the_clock_says_so_and_a_live_run_after_it_warns_first(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    first = json.loads(toll("generate", "--duration", "1m", "--rate", "50", "--backfill", "--format", "json").stdout)
    assert first["ahead_of_clock_s"] == 0 and not first["notes"]  # a backfill in a fresh home ends now
    assert toll("deploy", "--replay").exit_code == 0
    second = json.loads(toll("generate", "--duration", "30s", "--rate", "50", "--backfill", "--format", "json").stdout)
    assert second["continued_after"] == first["last_event"]
    assert 25 < second["ahead_of_clock_s"] <= 30  # it continued after now, by about its own length
    ahead = [note for note in second["notes"] if "ahead of the clock" in note]
    assert len(ahead) == 1 and re.search(r"runs (2[5-9]|30) s ahead of the clock", ahead[0]), second["notes"]
    assert "live `toll generate`" in ahead[0] and "late" in ahead[0] and "--start" in ahead[0]
    assert second["last_event"] in ahead[0]

    live = toll("generate", "--duration", "1s", "--rate", "50", "--format", "json")
    assert live.exit_code == 0, live.output
    summary = json.loads(live.stdout)
    warning = "this home's event time runs"
    assert len(summary["warnings"]) == 1 and summary["warnings"][0].startswith(warning)
    assert warning in live.stderr and second["last_event"] in live.stderr  # said before it sent anything
    assert summary["late_records"] == summary["records"] > 0  # every record fell in a window already closed
    late = next(note for note in summary["notes"] if "late" in note)
    assert "backfill should start" not in late and "clock" in late  # worded for a live run
    # a live run in a home whose event time is behind the clock says nothing of the sort
    quiet_home = home.parent / "other"
    assert toll("setup", home_dir=quiet_home).exit_code == 0
    plain = toll("generate", "--count", "5", "--rate", "50", "--format", "json", home_dir=quiet_home)
    assert plain.exit_code == 0 and not json.loads(plain.stdout)["warnings"] and warning not in plain.stderr


def test_global_options_after_the_command_are_accepted(toll, home: Path, runner) -> None:  # type: ignore[no-untyped-def]
    assert hoist_global_options(["setup", "--home", "x", "--format", "json"]) == ["--home", "x", "setup", "--format", "json"]
    assert hoist_global_options(["--home", "x", "setup"]) == ["--home", "x", "setup"]
    assert hoist_global_options(["--backend", "local", "status", "--home=y"]) == ["--home=y", "--backend", "local", "status"]
    assert hoist_global_options(["generate", "--rate-profile", "rush-hour"]) == ["generate", "--rate-profile", "rush-hour"]
    result = runner.invoke(app, ["setup", "--home", str(home), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["home"] == str(home)


def test_teardown_without_a_terminal_says_to_pass_yes(toll_process, home: Path) -> None:
    assert toll_process("setup").returncode == 0
    process = toll_process("teardown", stdin=subprocess.DEVNULL)
    assert process.returncode == 2
    assert "pass --yes" in process.stderr and str(home.resolve()) in process.stderr
    assert (home / "ledger.json").exists() or any(home.iterdir())  # nothing was removed


def test_suggested_commands_work_when_pasted(tmp_path: Path) -> None:
    home = tmp_path / "my home"
    setup = subprocess.run([sys.executable, "-m", "tollcli", "--home", str(home), "setup"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=60)  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    suggested = re.search(r"then (toll .+ query busiest)\.", setup.stdout)
    assert suggested, setup.stdout
    args = shlex.split(suggested.group(1))
    pasted = subprocess.run([sys.executable, "-m", "tollcli", *args[1:]], capture_output=True, text=True, cwd="/", timeout=60)
    assert pasted.returncode == 0, pasted.stderr
    assert "no data yet" in pasted.stdout + pasted.stderr  # it reached this home (elsewhere: "nothing is set up")


def test_skew_says_which_home_it_changed(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    out = toll("skew", "--station", "35South").stdout
    assert f"in {home.resolve()}" in " ".join(out.split())
    assert "another home" in out
    status = json.loads(toll("status", "--format", "json").stdout)
    skew = next(r for r in status["resources"] if r["kind"] == "skew")
    assert skew["details"]["station"] == "35South" and skew["details"]["mode"] == "divert"


def test_flags_show_no_value_and_durations_say_their_unit(runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")
    group = get_command(app)
    names = [[name] for name in group.list_commands(None)]  # type: ignore[attr-defined, arg-type]
    names += [["query", name] for name in ("busiest", "most-active", "quiet", "sql")]
    for name in names:
        result = runner.invoke(app, [*name, "--help"])
        assert result.exit_code == 0, result.output
        assert "--help" in result.output and "<bool>" not in result.output, name
    assert "a bare number is seconds" in runner.invoke(app, ["generate", "--help"]).output
    assert "a bare number is seconds" in runner.invoke(app, ["query", "busiest", "--help"]).output


def description_breaks_too_early(output: str, width: int) -> list[tuple[str, str]]:
    """Pairs of lines of a --help's description (between "Usage:" and the first box) where the
    second line's first word would have fitted on the first: a line break kept from the source."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("╭")), len(lines))
    found = []
    for first, second in zip(lines[start:end], lines[start + 1 : end]):
        kept_break = first.strip() and second.strip() and not second.strip().startswith(("- ", "* "))
        if kept_break and len(first.rstrip()) + 1 + len(second.split()[0]) < width - 2:
            found.append((first.strip(), second.strip()))
    return found


@pytest.mark.parametrize("width", [200, 80])
def test_help_paragraphs_fill_the_terminal_width(runner, monkeypatch, width: int) -> None:  # type: ignore[no-untyped-def]
    """A docstring's line breaks are not the terminal's: every command's help reflows at any width."""
    monkeypatch.setenv("COLUMNS", str(width))
    group = get_command(app)
    names = [[], *([name] for name in group.list_commands(None)), ["query", "busiest"], ["query", "sql"]]  # type: ignore[attr-defined, arg-type]
    for name in names:
        result = runner.invoke(app, [*name, "--help"])
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.output.splitlines()) == width  # the help was laid out at this width
        assert description_breaks_too_early(result.output, width) == [], name


def test_piped_output_is_not_hard_wrapped(toll_process, home: Path) -> None:
    assert toll_process("setup").returncode == 0
    process = toll_process("skew", "--station", "35South")
    first = process.stdout.splitlines()[0]
    assert len(first) > 100 and first.endswith("does not see it.")  # one line, as long as it needs


def test_counts_read_as_english(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    out = toll("generate", "--count", "1", "--backfill").stdout
    assert "Backfilled 1 record into" in out and "1 records" not in out
    out = toll("teardown", "--yes").stdout
    assert re.search(r"Removed \d+ resources from /", out) and "resource(s)" not in out


def test_shipped_templates_and_profiles_are_named_and_printed(toll, tmp_path: Path) -> None:
    from tollcli.paths import template_path

    shown = toll("generate", "--show-template", "--template", "skewed")
    assert shown.exit_code == 0 and shown.stdout == template_path("kdg", "skewed.txt").read_text(encoding="utf-8")
    assert toll("generate", "--show-template").stdout == template_path("kdg", "workshop.txt").read_text(encoding="utf-8")
    skewed = toll("generate", "--sample", "2000", "--template", "skewed", "--seed", "3").stdout
    assert skewed.count(",35South,") / 2000 > 0.2  # the second template's weights (0.1 of 0.37)
    assert toll("generate", "--sample", "3", "--rate-profile", "rush-hour").exit_code == 0
    # the shipped rate profile prints too (as the template would not: it is not a template)
    profile = toll("generate", "--show-template", "--rate-profile", "rush-hour")
    shipped_profile = template_path("rate-profiles", "rush-hour.csv").read_text(encoding="utf-8")
    assert profile.exit_code == 0 and profile.stdout == shipped_profile and "hour,rate" in profile.stdout
    printed = tmp_path / "mine.csv"  # what it prints is a rate profile that --rate-profile reads back
    printed.write_text(profile.stdout, encoding="utf-8")
    assert toll("generate", "--sample", "3", "--rate-profile", str(printed)).exit_code == 0
    both = toll("generate", "--show-template", "--rate-profile", "rush-hour", "--template", "skewed")
    assert both.exit_code == 2 and "not both" in both.stderr
    not_a_profile = toll("generate", "--show-template", "--rate-profile", str(template_path("kdg", "skewed.txt")))
    assert not_a_profile.exit_code == 2 and not_a_profile.stdout == ""
    refused = toll("generate", "--sample", "3", "--template", "nope")
    assert refused.exit_code == 2 and "skewed, workshop" in refused.stderr
    own = tmp_path / "skewed"  # a file of that name wins over the shipped one
    own.write_text('{{date.now}},{{random.arrayElement(["A1"])}}\n')
    assert ",A1" in toll("generate", "--sample", "1", "--template", str(own)).stdout


def test_query_says_when_records_are_still_buffered(toll_process, home: Path) -> None:
    import time

    assert toll_process("setup").returncode == 0
    live = subprocess.Popen([sys.executable, "-m", "tollcli", "--home", str(home), "generate", "--rate", "50", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list((home / "live-runs").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        during = toll_process("query", "busiest")
        assert during.returncode == 0
        assert f"pid {live.pid}" in during.stderr and "on their way" in during.stderr
    finally:
        live.send_signal(2)
        live.communicate(timeout=60)
    assert live.returncode == 130
    after = toll_process("query", "busiest")
    assert "on their way" not in after.stderr and not list((home / "live-runs").glob("*.json"))


def screen_after(output: bytes) -> list[str]:
    """The lines a terminal shows after `output` (enough of VT100 for Rich's live display: CR, LF,
    erase line, cursor up; colours ignored)."""
    lines, row, col = [""], 0, 0
    text = re.sub(rb"\x1b\[\??[0-9;]*[mhl]", b"", output).decode("utf-8", "replace")
    for token in re.findall(r"\x1b\[[0-9]*[AK]|\r|\n|[^\x1b\r\n]+", text):
        if token == "\r":
            col = 0
        elif token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        elif token.endswith("A"):
            row = max(0, row - int(token[2:-1] or 1))
        elif token.endswith("K"):
            lines[row] = ""
        else:
            lines[row] = lines[row][:col] + token + lines[row][col + len(token) :]
            col += len(token)
    return [line.rstrip() for line in lines if line.strip()]


def test_after_ctrl_c_only_the_final_table_stays_on_the_terminal(toll_process, home: Path) -> None:
    import fcntl
    import pty
    import termios
    import time

    assert toll_process("setup").returncode == 0
    master, slave = pty.openpty()

    def own_terminal() -> None:  # the pty is the child's terminal: a typed Ctrl-C reaches it as SIGINT
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, "COLUMNS": "100", "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "tollcli", "--home", str(home), "generate", "--rate", "200"],
                               stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=own_terminal)  # fmt: skip
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 60
    while b"records generated" not in output and time.monotonic() < deadline:
        output += os.read(master, 65536)  # the live table is up
    os.write(master, b"\x03")  # Ctrl-C, typed
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert process.wait(timeout=60) == 130
    screen = screen_after(output)
    assert not any("records generated" in line for line in screen), screen
    assert sum(line.startswith("station") for line in screen) == 1, screen
    assert any("stopped by Ctrl-C" in line for line in screen) and "stop)" not in " ".join(screen)


def test_query_tables_read_as_answers(toll_process, home: Path) -> None:
    assert toll_process("setup").returncode == 0
    args = ("generate", "--count", "60000", "--backfill", "--start", "2026-11-28T08:00:00Z", "--seed", "5")
    assert toll_process(*args).returncode == 0
    quiet = toll_process("query", "quiet")
    assert quiet.returncode == 0
    assert "quiet: 35South (" in quiet.stdout  # the answer with its table, on stdout
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in quiet.stdout.splitlines()
            if line.startswith("│")}  # fmt: skip
    header = next(line for line in quiet.stdout.splitlines() if line.startswith("┃"))
    assert "below median %" in header and "σ below" in header and "below_median_pct" not in header
    below = [cells[2] for cells in rows.values()]
    assert not any(value.startswith("-") for value in below)  # above the median is not "below" it, and never -0
    assert rows["35South"][4] == "yes"
    assert rows["35North"][4].startswith("no: ") and "% of the median" in rows["35North"][4]  # far below, yet not named
    decimals = {len(value.split(".")[1]) if "." in value else 0 for value in below if value}
    assert len(decimals) == 1  # one number of decimals per column
    assert toll_process("deploy", "--replay").returncode == 0
    wide = toll_process("query", "sql", "SELECT * FROM anomaly_scores LIMIT 2")
    header = next(line for line in wide.stdout.splitlines() if line.startswith("┃"))
    assert "window_start" in header and "late_records" in header and "…" not in wide.stdout


def test_reflowed_help_keeps_paragraphs_list_items_and_marked_blocks() -> None:
    from tollcli.cli.common import reflow_help

    text = """First line.

    A paragraph broken
    where the source broke it.

    - an item
      that goes on
    - another

    \b
    kept  as
    written
    \f
    for developers only"""
    assert reflow_help(text) == (
        "First line.\n\nA paragraph broken where the source broke it.\n\n- an item\n  that goes on\n- another\n\n"
        "\b\nkept  as\nwritten\n\f\nfor developers only"
    )
