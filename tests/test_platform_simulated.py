"""The CLI end to end in a simulated Windows: POSIX-only modules and calls taken away.

CI runs on Linux only. `tests/simulated_windows/sitecustomize.py` (read its docstring) makes a
Linux Python refuse `fcntl`, `termios`, `pwd`, `grp` and `resource`, drop `signal.pthread_sigmask`,
`os.setsid`, `os.killpg`, `os.getpgid` and their kin, and refuse what Windows refuses (opening a
folder, fsyncing a read-only descriptor, renaming onto an existing file), in every process `toll`
starts too. Here `toll` runs the workshop, a backfill scored by the scoring process (compared
with the same backfill on the unaltered platform), compact, a query, teardown, and Ctrl-C and a
killed parent with the scoring child running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SIMULATION = Path(__file__).parent / "simulated_windows"
SOURCES = Path(__file__).parents[1] / "src"
START = "2026-11-28T08:00:00Z"


@pytest.fixture
def simulated(tmp_path: Path) -> dict[str, str]:
    """The environment of a simulated-Windows process (its log lists every process started in it)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SIMULATION), str(SOURCES)]),
        "TOLL_SIMULATION_LOG": str(tmp_path / "processes.log"),
    }


def simulated_toll(home: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def simulated_processes(env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(pid, parent pid, argv) of every process that started in the simulation."""
    log = Path(env["TOLL_SIMULATION_LOG"])
    lines = log.read_text().splitlines() if log.exists() else []
    return [(int(pid), int(parent), argv) for pid, parent, argv in (line.split(" ", 2) for line in lines)]


def scoring_children_of(pid: int) -> list[int]:
    """Live scoring processes whose parent is `pid` (read from /proc: the test runs on Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().split(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if b"tollcli.backends.local.scoring_process" in cmdline and fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead and waiting for whoever adopted it to reap it, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def left_half_written(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.name.endswith((".tmp", ".writing"))]


def test_the_simulation_takes_the_posix_only_parts_away_and_every_module_still_imports(simulated: dict[str, str]) -> None:
    script = """
import importlib, os, pkgutil, signal, tempfile
import tollcli
for name in ("fcntl", "termios", "pwd", "grp", "resource"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        continue
    raise SystemExit(f"{name} imported")
gone = [n for n in ("pthread_sigmask",) if hasattr(signal, n)] + [n for n in ("setsid", "killpg", "getpgid") if hasattr(os, n)]
assert not gone, gone
folder = tempfile.mkdtemp()
try:
    os.open(folder, os.O_RDONLY)
    raise SystemExit("a folder opened")
except PermissionError:
    pass
open(os.path.join(folder, "a"), "w").close(); open(os.path.join(folder, "b"), "w").close()
try:
    os.rename(os.path.join(folder, "a"), os.path.join(folder, "b"))
    raise SystemExit("renamed onto a file")
except FileExistsError:
    pass
modules = [m.name for m in pkgutil.walk_packages(tollcli.__path__, "tollcli.") if not m.name.endswith("__main__")]
for name in modules:
    importlib.import_module(name)
print(len(modules))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=simulated, timeout=60)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) > 30  # every module of the package, the AWS ones included


def test_the_workshop_runs_and_tears_down(tmp_path: Path, simulated: dict[str, str]) -> None:
    home = tmp_path / "home"
    dashboard = tmp_path / "dashboard.html"
    run = simulated_toll(home, simulated, "workshop", "--seed", "11", "--format", "json", "--dashboard", str(dashboard))
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [s["status"] for s in report["steps"]] == ["ok"] * 9
    assert report["torn_down"] is True and not home.exists()
    alerts = next(s for s in report["steps"] if s["key"] == "alerts")
    assert "35South" in json.dumps(alerts)  # the skew was scored and alerted on
    workshop = next(pid for pid, _parent, argv in simulated_processes(simulated) if " workshop " in f" {argv} ")
    assert [p for p in simulated_processes(simulated) if p[1] == workshop], "no scoring child started in the simulation"
    assert dashboard.read_text(encoding="utf-8").startswith("<!")


def test_ctrl_c_mid_workshop_still_tears_down(tmp_path: Path, simulated: dict[str, str]) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "workshop", "--realtime", "--minutes", "1", "--seed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**simulated, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "Step 2/9" in line:
                break
        time.sleep(1.0)  # real-time traffic is flowing
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=60)
    finally:
        process.kill()
    output = "".join(seen) + rest
    assert process.returncode == 130, errors
    assert "Step 9/9: Teardown" in output and "nothing is left behind" in output
    assert not home.exists()


def test_a_backfill_scored_by_the_child_then_compact_query_and_teardown(toll, tmp_path: Path, simulated: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    backfill = ("generate", "--backfill", "--rate", "20", "--count", "40000", "--seed", "5", "--start", START, "--format", "json")
    homes = {"simulated": tmp_path / "simulated", "native": tmp_path / "native"}
    for step in (("setup",), ("deploy",), backfill):  # the reference, on the unaltered platform
        assert toll(*step, home_dir=homes["native"]).exit_code == 0
    for step in (("setup",), ("deploy",)):
        assert simulated_toll(homes["simulated"], simulated, *step).returncode == 0
    run = simulated_toll(homes["simulated"], simulated, *backfill)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    generate = next(pid for pid, _parent, argv in simulated_processes(simulated) if " generate " in f" {argv} ")
    assert [p for p in simulated_processes(simulated) if p[1] == generate], "no scoring child started in the simulation"

    def anomaly_files(home: Path) -> dict[str, bytes]:
        folder = home / "anomaly"
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.suffix in (".jsonl", ".bin")}

    simulated_files, native_files = anomaly_files(homes["simulated"]), anomaly_files(homes["native"])
    assert any(name.startswith("scores") for name in native_files) and "state.bin" in native_files
    assert simulated_files == native_files  # the same windows, rows, alerts and model as on the unaltered platform

    home = homes["simulated"]
    compacted = simulated_toll(home, simulated, "compact")
    assert compacted.returncode == 0, compacted.stderr
    assert list((home / "compacted").rglob("*.parquet")) and not list((home / "bucket").rglob("toll-data-stream-*"))
    busiest = simulated_toll(home, simulated, "query", "busiest", "--format", "json")
    assert busiest.returncode == 0, busiest.stderr
    rows = json.loads(busiest.stdout)["rows"]
    assert {r["station"]: r["records"] for r in rows} == summary["per_station"]
    assert sum(r["records"] for r in rows) == 40000
    assert not left_half_written(home)
    removed = simulated_toll(home, simulated, "teardown", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not home.exists()


def start_long_backfill(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """A backfill far too long to finish, once its scoring child runs: (the run, the child's pid).
    (Setup and deploy run in the simulation too: without fcntl, filelock's lock is a soft one,
    which a lock file left by a POSIX lock would hold.)"""
    for step in (("setup",), ("deploy",)):
        assert simulated_toll(home, env, *step).returncode == 0
    run = subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "generate", "--backfill", "--count", "200000000",
         "--start", START, "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not scoring_children_of(run.pid) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    children = scoring_children_of(run.pid)
    if not children:
        run.kill()
        pytest.fail(f"the backfill started no scoring process: {run.communicate()[1]}")
    return run, children[0]


def test_ctrl_c_flushes_prints_the_totals_and_stops_the_scoring_child(tmp_path: Path, simulated: dict[str, str]) -> None:
    home = tmp_path / "home"
    run, child = start_long_backfill(home, simulated)
    try:
        time.sleep(1.0)  # windows in flight between the two processes
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode in (0, 130), err  # (130 once an interrupt's exit status says so)
    assert not running(child)
    summary = json.loads(out)
    assert summary["stopped_by"] == "Ctrl-C"  # the name generator.signal_name gives SIGINT
    delivered = sum(len(p.read_bytes().splitlines()) for p in (home / "bucket").rglob("toll-data-stream-*"))
    assert delivered == summary["records"] > 0  # flushed: every record it counted is in the bucket, whole
    assert not left_half_written(home)
    from tollcli.anomaly.app import AnomalyApp

    state = AnomalyApp.from_state_bytes((home / "anomaly" / "state.bin").read_bytes())
    assert state.stats.records == summary["records"]  # the checkpoint counted every delivered record


def test_the_scoring_child_stops_when_its_parent_is_killed(simulated: dict[str, str]) -> None:
    """A parent killed outright runs nothing more: only the socket the OS closes tells the child."""
    script = """
import time
from tollcli.anomaly import AnomalyApp, AnomalyConfig
from tollcli.anomaly.rcf import create_scorer
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, scenario
from tollcli.backends.local.scoring_process import ScoringProcess
config = AnomalyConfig.from_options(seed=7)
times, stations = scenario(7, 2, SKEWED_WEIGHTS, 1)
scoring = ScoringProcess(config, create_scorer(config.mode, config.forest, config.stations).to_bytes())
scoring.score(AnomalyApp(config).count(times, stations)[0])  # the child has started and scored a window
print(scoring.process.pid, flush=True)
time.sleep(60)
"""
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=simulated
    )
    try:
        child = int(parent.stdout.readline() or 0)  # type: ignore[union-attr]
        assert child and running(child), parent.stderr.read()  # type: ignore[union-attr]
        assert child in [pid for pid, _parent, _argv in simulated_processes(simulated)]
        parent.kill()
        parent.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child)
    finally:
        parent.kill()


def test_a_query_tells_live_runs_from_dead_ones_without_signal_0(tmp_path: Path, simulated: dict[str, str]) -> None:
    """Whether a `toll generate` still delivers is asked without os.kill(pid, 0) (a Ctrl-C on Windows)."""
    home = tmp_path / "home"
    assert simulated_toll(home, simulated, "setup").returncode == 0
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        (home / "live-runs").mkdir(exist_ok=True)
        for pid in (live.pid, gone.pid):
            (home / "live-runs" / f"{pid}.json").write_text(json.dumps({"pid": pid}), encoding="utf-8")
        run = simulated_toll(home, simulated, "query", "busiest")
    finally:
        live.kill()
        live.wait()
    assert run.returncode == 0, run.stderr
    assert f"(pid {live.pid})" in run.stderr  # the run whose process is gone is left out
