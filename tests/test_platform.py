"""oscompat, branch by branch: each platform's way, with the platform patched where the test runs
on another one (CI is Linux); and the terminal output in code pages without block characters.

The whole CLI in a simulated Windows is tests/test_platform_simulated.py."""

from __future__ import annotations

import ctypes
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from tollcli import oscompat
from tollcli.backends.local.anomaly_feed import LocalAnomalyStore, hold_feed_lock
from tollcli.backends.local.compact import compact, compaction_lock
from tollcli.cli.generate import stop_on_signals
from tollcli.errors import TollError, UsageError
from tollcli.questions import run_question
from tollcli.render import bar_chart
from tollcli.state import atomic_write_bytes

SOURCES = str(Path(__file__).parents[1] / "src")
REAL_UNLINK = os.unlink
WINDOWS_SIGBREAK = signal.SIGUSR1  # Linux cannot raise Windows' SIGBREAK (21 is SIGTTIN here): this stands in


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """oscompat believes it runs on Windows (the standard library does not, so calls stay real)."""
    monkeypatch.setattr(oscompat, "WINDOWS", True)
    monkeypatch.setattr(signal, "SIGBREAK", WINDOWS_SIGBREAK, raising=False)
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200, raising=False)


def python_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCES, os.environ.get("PYTHONPATH", "")])}


# --- stop signals ----------------------------------------------------------------------------
def test_the_stop_signals_are_ctrl_c_and_sigterm_plus_ctrl_break_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    assert oscompat.stop_signals() == (signal.SIGINT, signal.SIGTERM)
    assert oscompat.interrupt_signals() == (signal.SIGINT,)
    monkeypatch.setattr(oscompat, "WINDOWS", True)
    monkeypatch.setattr(signal, "SIGBREAK", WINDOWS_SIGBREAK, raising=False)
    assert oscompat.stop_signals() == (signal.SIGINT, signal.SIGTERM, WINDOWS_SIGBREAK)
    assert oscompat.interrupt_signals() == (signal.SIGINT, WINDOWS_SIGBREAK)


@pytest.mark.usefixtures("windows")
def test_generate_stops_on_ctrl_break_on_windows_and_a_second_one_aborts() -> None:
    before = signal.getsignal(WINDOWS_SIGBREAK)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), WINDOWS_SIGBREAK)
        assert stop.wait(5)  # the first asks the run to stop, flush and print its totals
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), WINDOWS_SIGBREAK)
            time.sleep(5)  # the handler raises here
    assert signal.getsignal(WINDOWS_SIGBREAK) == before


# --- holding Ctrl-C while a message is read -----------------------------------------------------
@pytest.mark.parametrize("other_thread", [False, True], ids=["alone", "beside-another-thread"])
def test_a_ctrl_c_inside_the_hold_is_raised_when_it_ends(other_thread: bool) -> None:
    """Beside another thread is how the CLI reads the child's answers (its writer thread runs):
    there pthread_sigmask would hold nothing, as the kernel hands the signal to the other thread."""
    done = threading.Event()
    if other_thread:
        threading.Thread(target=done.wait, args=(10,), daemon=True).start()
    reached_the_end = False
    try:
        with pytest.raises(KeyboardInterrupt), oscompat.interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # delivered at once, were it not held
            reached_the_end = True
    finally:
        done.set()
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_signal_goes_to_the_handler_that_was_there() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: seen.append(signum))
    try:
        with oscompat.interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert seen == []
        assert seen == [signal.SIGINT]
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with oscompat.interrupts_held():  # an ignored Ctrl-C stays ignored
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_the_hold_changes_nothing() -> None:
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with oscompat.interrupts_held():  # signal.signal would raise ValueError off the main thread
                pass
        except BaseException as exc:  # the test reports any
            errors.append(exc)

    worker = threading.Thread(target=hold)
    worker.start()
    worker.join()
    assert errors == []


# --- locks -----------------------------------------------------------------------------------
def test_a_lock_held_by_another_process_is_busy_until_that_process_dies(tmp_path: Path) -> None:
    lock = tmp_path / "compacted" / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from pathlib import Path; from tollcli.oscompat import take_lock; "
         f"held = take_lock(Path({str(lock)!r})); print('held', flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=python_env(),
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(oscompat.LockBusy):
            oscompat.take_lock(lock)
        with pytest.raises(UsageError, match="another `toll compact` is running"), compaction_lock(lock.parent):
            pass
        holder.kill()  # the OS releases the lock of a process that dies, however it dies
        holder.wait()
        with compaction_lock(lock.parent), pytest.raises(oscompat.LockBusy):  # and it is exclusive within one process too
            oscompat.take_lock(lock)
    finally:
        holder.kill()


def test_the_anomaly_feed_lock_is_one_at_a_time(tmp_path: Path) -> None:
    store = LocalAnomalyStore(tmp_path / "anomaly")
    with hold_feed_lock(store), pytest.raises(TollError, match="one at a time"), hold_feed_lock(store):
        pass
    with hold_feed_lock(store):  # released
        pass


# --- durable files ---------------------------------------------------------------------------
def flaky_replace(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    """os.replace refused `failures` times, as Windows refuses while a reader holds the target open."""
    real, calls = os.replace, []

    def replace(source: str, target: str) -> None:
        calls.append(str(target))
        if len(calls) <= failures:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.usefixtures("windows")
def test_on_windows_a_rename_waits_for_a_reader_to_let_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "ledger.json"
    target.write_bytes(b"old")
    calls = flaky_replace(monkeypatch, failures=3)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and len(calls) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json"]  # no temporary left


@pytest.mark.usefixtures("windows")
def test_on_windows_a_reader_that_never_lets_go_fails_the_write_and_keeps_the_old(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(oscompat, "REPLACE_RETRY_SECONDS", 0.2)
    target = tmp_path / "ledger.json"
    target.write_bytes(b"old")
    calls = flaky_replace(monkeypatch, failures=10**6)
    started = time.monotonic()
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"new")
    assert time.monotonic() - started >= 0.2 and len(calls) > 1
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json"]


def test_on_posix_a_refused_rename_fails_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    calls = flaky_replace(monkeypatch, failures=1)
    with pytest.raises(PermissionError):
        oscompat.replace_file(tmp_path / "a", tmp_path / "b")
    assert len(calls) == 1


def held_open(monkeypatch: pytest.MonkeyPatch, held: set[str]) -> list[str]:
    """os.unlink refused for the paths in `held`, as Windows refuses to delete a file a reader holds open."""
    real, calls = os.unlink, []

    def unlink(path: str, *args: object, **kwargs: object) -> None:
        calls.append(str(path))
        if str(path) in held:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)
    return calls


@pytest.mark.usefixtures("windows")
def test_on_windows_a_held_file_is_retried_then_left(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(oscompat, "REPLACE_RETRY_SECONDS", 0.2)
    path = tmp_path / "object"
    path.write_bytes(b"rows")
    calls = held_open(monkeypatch, {str(path)})
    assert oscompat.remove_file(path) is False and path.exists() and len(calls) > 1
    assert oscompat.remove_file(tmp_path / "gone") is True  # gone already counts
    monkeypatch.undo()
    assert oscompat.remove_file(path) is True and not path.exists()


def test_on_posix_a_refused_delete_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    path = tmp_path / "object"
    path.write_bytes(b"rows")
    held_open(monkeypatch, {str(path)})
    with pytest.raises(PermissionError):
        oscompat.remove_file(path)


@pytest.mark.usefixtures("windows")
def test_compaction_leaves_a_source_a_reader_holds_and_counts_it_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from test_queries import make_records, set_up_home, write_objects

    monkeypatch.setattr(oscompat, "REPLACE_RETRY_SECONDS", 0.1)
    backend = set_up_home(tmp_path / "home")
    records = make_records(3000, rate=2.0)
    write_objects(backend.bucket_path, records, per_object=1000)
    objects = sorted(str(p) for p in backend.bucket_path.rglob("*") if p.is_file())
    held_open(monkeypatch, {objects[0]})
    events: list[str] = []
    report = compact(backend, on_event=events.append)
    assert report.objects_compacted == 3 and report.rows == 3000
    assert any(e.startswith("left ") and "another process has it open" in e for e in events)
    assert Path(objects[0]).exists()  # listed in the manifest as compacted: queries read its rows from Parquet only
    assert run_question(backend, "busiest").total_records == 3000
    monkeypatch.setattr(os, "unlink", REAL_UNLINK)  # the query let go
    assert compact(backend).nothing_to_do and not Path(objects[0]).exists()  # the next run removes it


def recorded_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    real, opened = os.open, []

    def record(path: str, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", record)
    return opened


def test_folders_are_fsynced_on_posix_and_not_opened_on_windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    opened = recorded_opens(monkeypatch)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    oscompat.fsync_folder(tmp_path)
    assert opened == [str(tmp_path)] and len(synced) == 1
    monkeypatch.setattr(oscompat, "WINDOWS", True)
    oscompat.fsync_folder(tmp_path)
    assert opened == [str(tmp_path)] and len(synced) == 1  # Windows cannot open a folder: nothing tried


def test_a_file_system_that_refuses_to_open_folders_is_no_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)

    def refuse(*_args: object, **_kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    oscompat.fsync_folder(tmp_path)


def test_a_closed_file_is_fsynced_through_a_writable_handle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "part.parquet.tmp"
    path.write_bytes(b"rows")
    modes: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        modes.append(Path(f"/proc/self/fdinfo/{fd}").read_text().split("flags:")[1].split()[0])
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    oscompat.fsync_file(path)
    assert len(modes) == 1 and int(modes[0], 8) & os.O_ACCMODE == os.O_RDWR  # Windows fsyncs only writable handles
    assert path.read_bytes() == b"rows"


# --- the scoring child -----------------------------------------------------------------------
def test_the_child_gets_its_own_session_on_posix_and_its_own_group_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    assert oscompat.own_group_options() == {"start_new_session": True}
    monkeypatch.setattr(oscompat, "WINDOWS", True)
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200, raising=False)
    assert oscompat.own_group_options() == {"creationflags": 0x200}


CHILD_SAYS_HELLO = (
    "import socket, sys; from tollcli.oscompat import socket_handle_from_parent; "
    "socket.socket(fileno=socket_handle_from_parent(sys.argv[-1])).sendall(b'hello from ' + sys.argv[-1].encode())"
)


def test_on_posix_the_child_inherits_the_socket_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    ours, theirs = socket.socketpair()
    with ours:
        process = oscompat.start_child_with_socket([sys.executable, "-c", CHILD_SAYS_HELLO], theirs, env=python_env())
        theirs.close()
        assert process.wait(30) == 0
        ours.settimeout(30)
        assert ours.recv(100).startswith(b"hello from ")
        assert ours.recv(100) == b""  # the child has gone and no one else holds its end: closed


class ShareableSocket:
    """Windows' socket.share, which Linux lacks: the bytes name the socket and the process."""

    def __init__(self) -> None:
        self.shared_with: list[int] = []

    def share(self, pid: int) -> bytes:
        self.shared_with.append(pid)
        return f"socket shared with {pid}".encode()


@pytest.mark.usefixtures("windows")
def test_on_windows_the_child_reads_the_shared_socket_from_its_stdin_in_its_own_group(monkeypatch: pytest.MonkeyPatch) -> None:
    real_popen, flags = subprocess.Popen, []

    def popen(args: list[str], **options: object) -> subprocess.Popen[bytes]:
        flags.append(options.pop("creationflags"))  # Linux's Popen refuses creationflags: note and drop
        return real_popen(args, **options)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "Popen", popen)
    sock = ShareableSocket()
    echo = "import sys; print(sys.argv[-1], sys.stdin.buffer.read().decode())"
    process = oscompat.start_child_with_socket(
        [sys.executable, "-c", echo],
        sock,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # type: ignore[arg-type]
    )
    out, _ = process.communicate(timeout=30)
    assert flags == [0x200] and sock.shared_with == [process.pid]
    assert out.decode().split(None, 1) == ["-", f"socket shared with {process.pid}\n"]


def test_on_windows_the_child_makes_its_socket_from_the_shared_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = socket.socketpair()
    given: list[bytes] = []

    def fromshare(data: bytes) -> socket.socket:
        given.append(data)
        return theirs

    monkeypatch.setattr(socket, "fromshare", fromshare, raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"socket shared with 42")))
    with ours:
        handle = oscompat.socket_handle_from_parent(oscompat.CHILD_HANDLE_FROM_STDIN)
        with socket.socket(fileno=handle) as child_end:
            child_end.sendall(b"hello")
        assert given == [b"socket shared with 42"] and ours.recv(10) == b"hello"


def test_the_child_ignores_the_keyboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal, "SIGBREAK", WINDOWS_SIGBREAK, raising=False)
    for windows in (False, True):
        monkeypatch.setattr(oscompat, "WINDOWS", windows)
        saved = {sig: signal.getsignal(sig) for sig in oscompat.interrupt_signals()}
        try:
            oscompat.ignore_interrupts()
            assert {sig: signal.getsignal(sig) for sig in saved} == dict.fromkeys(saved, signal.SIG_IGN)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)


# --- terminals -------------------------------------------------------------------------------
@pytest.mark.parametrize(("encoding", "bar"), [("utf-8", "\u2588"), ("cp437", "\u2588"), ("cp1252", "#")])
def test_bars_are_blocks_where_the_encoding_has_them_and_ascii_elsewhere(encoding: str, bar: str) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)  # strict: a character it cannot encode would raise
    bar_chart(Console(file=stream, width=100), ["183A", "35South"], [40, 10], width=40)
    stream.flush()
    lines = raw.getvalue().decode(encoding).splitlines()
    assert lines == [f"   183A {bar * 40} 40", f"35South {bar * 10} 10"]


def run_with_console_encoding(home: Path, encoding: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tollcli", "--home", str(home), *args],
        capture_output=True, timeout=120, env={**python_env(), "PYTHONIOENCODING": encoding, "COLUMNS": "120"},
    )  # fmt: skip


def test_a_cp1252_console_gets_ascii_bars_and_escapes_for_what_it_cannot_show(toll, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert toll("setup").exit_code == 0
    generated = run_with_console_encoding(home, "cp1252", "generate", "--backfill", "--count", "2000", "--seed", "1")
    assert generated.returncode == 0, generated.stderr
    assert b"#####" in generated.stdout  # the per-station shares
    chart = run_with_console_encoding(home, "cp1252", "query", "busiest", "--chart")
    assert chart.returncode == 0, chart.stderr
    assert b"#" * 40 in chart.stdout and "\u2588".encode("utf-8") not in chart.stdout
    chart.stdout.decode("cp1252")  # every byte is the console's own
    literal = run_with_console_encoding(home, "cp1252", "query", "sql", "SELECT '\u4e2d' AS x")
    assert literal.returncode == 0, literal.stderr
    assert b"\\u4e2d" in literal.stdout  # shown as its escape instead of a crash


# --- whether a process runs --------------------------------------------------------------------
def test_on_posix_a_process_is_alive_until_it_is_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oscompat, "WINDOWS", False)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert oscompat.process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not oscompat.process_alive(child.pid)
    assert oscompat.process_alive(os.getpid())
    assert not oscompat.process_alive(0) and not oscompat.process_alive(-1)  # process groups, not processes
    assert not oscompat.process_alive(2**31) and not oscompat.process_alive(10**20)  # beyond pid_t (OverflowError)

    def refused(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")  # another user's process

    monkeypatch.setattr(os, "kill", refused)
    assert oscompat.process_alive(12345)


class FakeKernel32:
    """The three kernel32 calls process_alive makes, over a table of pid -> exit code (259 is
    STILL_ACTIVE); `denied` pids exist but belong to another user. Counts the handles left open."""

    def __init__(self, exit_codes: dict[int, int], denied: set[int]) -> None:
        self.exit_codes, self.denied = exit_codes, denied
        self.open_handles: dict[int, int] = {}
        self.last_error = 0
        self.access: list[int] = []

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # the Win32 names
        self.access.append(access)
        if pid in self.denied:
            self.last_error = 5  # ERROR_ACCESS_DENIED
            return 0
        if pid not in self.exit_codes:
            self.last_error = 87  # ERROR_INVALID_PARAMETER: no such process
            return 0
        handle = 1000 + len(self.access)
        self.open_handles[handle] = pid
        return handle

    def GetLastError(self) -> int:
        return self.last_error

    def GetExitCodeProcess(self, handle: int, code: object) -> int:
        code._obj.value = self.exit_codes[self.open_handles[handle]]  # type: ignore[attr-defined]  # ctypes.byref's target
        return 1

    def CloseHandle(self, handle: int) -> int:
        del self.open_handles[handle]
        return 1


def test_on_windows_a_process_is_asked_about_never_sent_signal_0(monkeypatch: pytest.MonkeyPatch, windows: None) -> None:
    """On Windows os.kill(pid, 0) sends CTRL_C_EVENT: process_alive asks kernel32 instead."""
    kernel32 = FakeKernel32(exit_codes={100: 259, 200: 0, 300: 1}, denied={400})
    monkeypatch.setattr(ctypes, "windll", type("WinDLL", (), {"kernel32": kernel32}), raising=False)

    def ctrl_c(pid: int, sig: int) -> None:
        raise AssertionError(f"os.kill({pid}, {sig}) on Windows")

    monkeypatch.setattr(os, "kill", ctrl_c)
    assert oscompat.process_alive(100)  # STILL_ACTIVE
    assert not oscompat.process_alive(200) and not oscompat.process_alive(300)  # exited (0, 1)
    assert not oscompat.process_alive(500)  # no such process
    assert oscompat.process_alive(400)  # exists, another user's
    assert not oscompat.process_alive(2**32) and not oscompat.process_alive(10**20)  # beyond a DWORD: ctypes would refuse it
    assert set(kernel32.access) == {oscompat.PROCESS_QUERY_LIMITED_INFORMATION}
    assert kernel32.open_handles == {}  # every handle closed
