"""What differs between Windows, macOS and Linux, decided here and nowhere else.

`toll` runs on the laptops workshop attendees bring. Everything the operating systems do
differently goes through this module, so no other module imports a POSIX-only module (`fcntl`,
`termios`, `pwd`, `grp`, `resource`) or calls a POSIX-only function (`signal.pthread_sigmask`,
`os.setsid`, `os.killpg`, `os.open` on a folder):

- stop signals: Ctrl-C (SIGINT) and SIGTERM everywhere, plus Ctrl-Break (SIGBREAK) on Windows,
  where a console sends it to a process group started with CREATE_NEW_PROCESS_GROUP;
- one-at-a-time locks: `filelock` (fcntl.flock on Linux and macOS, msvcrt locking on Windows);
- durable renames: `replace_file` is `os.replace`, except that Windows refuses to rename over a
  file another process holds open (a query reading it), so there it retries for a few seconds;
  `remove_file` retries there the same way, and says when the file stayed held; `fsync_folder`
  makes a rename durable on POSIX, and is skipped on Windows, whose folders cannot be opened
  (NTFS commits the rename with its own metadata journal);
- holding Ctrl-C while a message is read: a handler that notes the signal and hands it to the
  previous handler afterwards (not `signal.pthread_sigmask`: POSIX-only, and see interrupts_held);
- the scoring child: its own session (POSIX) or process group (Windows), so the terminal's
  Ctrl-C reaches only the parent, and a socket to the parent, passed as an inherited descriptor
  (POSIX) or as `socket.share` bytes on its stdin (Windows). The child stops when that socket
  closes, which the operating system does when the parent dies, however it dies;
- whether a process runs: `os.kill(pid, 0)` on POSIX; on Windows signal 0 is CTRL_C_EVENT (it
  would send a console Ctrl-C), so there `process_alive` asks the kernel (OpenProcess and
  GetExitCodeProcess).

Every decision reads `WINDOWS` when it is called, so tests can patch it: tests/test_platform.py
runs each branch, and tests/test_platform_simulated.py the whole CLI with the POSIX-only modules
and calls taken away.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filelock import BaseFileLock

WINDOWS = sys.platform == "win32"

REPLACE_RETRY_SECONDS = 5.0  # how long Windows may hold a renamed-over file open (a query reading it)
REPLACE_RETRY_PAUSE = 0.05
CHILD_HANDLE_FROM_STDIN = "-"  # the child's argument when its socket comes as share bytes on stdin

# What `signal.signal` takes and returns: a function of (signal number, frame), SIG_DFL or SIG_IGN, or None
# (a handler not installed from Python).
SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


# --- stop signals ----------------------------------------------------------------------------
def stop_signals() -> tuple[int, ...]:
    """The signals that ask `toll` to stop: Ctrl-C and SIGTERM, and Ctrl-Break on Windows."""
    found = [signal.SIGINT, signal.SIGTERM]
    if WINDOWS and hasattr(signal, "SIGBREAK"):
        found.append(signal.SIGBREAK)
    return tuple(found)


def interrupt_signals() -> tuple[int, ...]:
    """The signals a person sends from the keyboard: Ctrl-C, and Ctrl-Break on Windows."""
    return tuple(s for s in stop_signals() if s != signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (and Ctrl-Break) in the main thread until the block ends, then deliver it.

    A message cut by KeyboardInterrupt halfway through reading it is lost; holding the signal
    while one is read keeps it whole. The same way on every platform: a handler notes the signal
    and the previous handler gets it when the block ends. (`signal.pthread_sigmask` is POSIX-only,
    and holds nothing once another thread is running: the kernel hands the signal to that thread
    and Python runs the handler in the main thread all the same.) A system call the signal
    interrupts is retried (PEP 475). Other threads cannot take signals: there this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[tuple[int, FrameType | None]] = []

    def note(signum: int, frame: FrameType | None) -> None:
        arrived.append((signum, frame))

    previous = {sig: signal.signal(sig, note) for sig in interrupt_signals() if signal.getsignal(sig) is not None}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            _deliver(previous[arrived[0][0]], *arrived[0])


def _deliver(handler: SignalHandler, signum: int, frame: FrameType | None) -> None:
    """Run what a signal would have run had it not been held."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_IGN:
        return
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt  # the default for Ctrl-C, as Python would raise it
    else:
        signal.raise_signal(signum)  # the default action (Ctrl-Break ends the process)


@contextmanager
def handling_stop_signals(handler: Callable[[int, FrameType | None], object] | int) -> Iterator[None]:
    """Install `handler` for the stop signals for the block (main thread only), then restore."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in stop_signals()}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- locks -----------------------------------------------------------------------------------
class LockBusy(Exception):
    """Another process holds the lock."""


def take_lock(path: Path) -> BaseFileLock:
    """Take `path`'s lock (call `.release()` when done), or raise LockBusy at once if another
    process holds it. The operating system drops it when the process dies, however it dies."""
    # Without fcntl off Windows (only in a test's simulated platform) filelock falls back to a soft lock,
    # and says so in a warning nobody can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lazy: filelock takes ~15 ms to import (logging, secrets, decimal), and this module is on the path of
        # `toll --help` (a third of a bare `import typer`), which never takes a lock
        from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock: BaseFileLock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockBusy(str(path)) from None
    return lock


# --- durable files ---------------------------------------------------------------------------
def replace_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """`os.replace`, which on Windows retries while another process holds the target open."""
    if not WINDOWS:
        os.replace(source, target)
        return
    deadline = time.monotonic() + REPLACE_RETRY_SECONDS
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:  # a sharing violation: a reader has the target open
            if time.monotonic() >= deadline:
                raise
            time.sleep(REPLACE_RETRY_PAUSE)


def remove_file(path: str | os.PathLike[str]) -> bool:
    """Delete a file (gone already counts); on Windows, retry while another process holds it open.
    False if it is still held after that: the caller leaves it for a later run."""
    deadline = time.monotonic() + (REPLACE_RETRY_SECONDS if WINDOWS else 0.0)
    while True:
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return True
        except PermissionError:
            if not WINDOWS:
                raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(REPLACE_RETRY_PAUSE)


def fsync_folder(path: str | os.PathLike[str]) -> None:
    """Make a rename in `path` durable: fsync the folder on POSIX; nothing to do on Windows."""
    if WINDOWS:
        return  # folders cannot be opened; NTFS journals the rename itself
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a file system that refuses to open folders gives no way to sync them
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a closed file's bytes to disk (reopened for writing: Windows fsyncs only writable handles)."""
    with open(path, "r+b") as handle:
        os.fsync(handle.fileno())


# --- the scoring child -----------------------------------------------------------------------
def own_group_options() -> dict[str, Any]:
    """Popen options so the terminal's Ctrl-C reaches only us, not the child."""
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


def start_child_with_socket(argv: Sequence[str], sock: socket.socket, **options: Any) -> subprocess.Popen[bytes]:
    """Start `argv + [handle]` in its own session or group, giving it `sock`; the child calls
    `socket_handle_from_parent(handle)`. The caller closes its copy of `sock` afterwards."""
    options = {**options, **own_group_options()}
    if not WINDOWS:
        return subprocess.Popen([*argv, str(sock.fileno())], pass_fds=(sock.fileno(),), **options)
    options.pop("stdin", None)
    process: subprocess.Popen[bytes] = subprocess.Popen([*argv, CHILD_HANDLE_FROM_STDIN], stdin=subprocess.PIPE, **options)
    stdin: IO[bytes] | None = process.stdin
    assert stdin is not None
    try:
        stdin.write(sock.share(process.pid))  # type: ignore[attr-defined]  # Windows only
        stdin.close()
        process.stdin = None  # given: nothing more goes that way
    except OSError:
        process.kill()
        process.wait()
        raise
    return process


def socket_handle_from_parent(argument: str) -> int:
    """In the child: the descriptor (POSIX) or handle (Windows) of the socket to the parent."""
    if argument != CHILD_HANDLE_FROM_STDIN:
        return int(argument)
    shared = sys.stdin.buffer.read()
    return socket.fromshare(shared).detach()  # type: ignore[attr-defined]  # Windows only


def ignore_interrupts() -> None:
    """In a child: the keyboard's signals are for the parent, which stops us."""
    for sig in interrupt_signals():
        signal.signal(sig, signal.SIG_IGN)


# --- other processes -------------------------------------------------------------------------
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
STILL_ACTIVE = 259  # GetExitCodeProcess's "exit code" of a process still running
ERROR_ACCESS_DENIED = 5
WINDOWS_PID_MAX = 0xFFFFFFFF  # a process id is a DWORD there


def process_alive(pid: int) -> bool:
    """Whether process `pid` is running (one we may not signal, another user's, counts). Any int may
    be asked about (a pid read from a file): one no process can have is not alive."""
    if pid <= 0:
        return False  # 0 and negatives name process groups on POSIX, not a process
    if WINDOWS:
        return pid <= WINDOWS_PID_MAX and _windows_process_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks (never on Windows: there 0 is CTRL_C_EVENT)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and belongs to someone else
    except (OSError, OverflowError):  # OverflowError: beyond pid_t, so no process's
        return False
    return True


def _windows_process_alive(pid: int) -> bool:
    import ctypes  # lazy: Windows only (ctypes.windll); ~1.3 ms to import that `toll --help` elsewhere need not pay

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]  # Windows only
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return kernel32.GetLastError() == ERROR_ACCESS_DENIED  # it exists, and belongs to someone else
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


# --- terminals -------------------------------------------------------------------------------
def can_encode(stream: object, text: str) -> bool:
    """Whether `stream` (or a Rich console: anything with an `encoding`) can show `text`."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def tolerate_unencodable_output() -> None:
    """A console or pipe whose encoding cannot show a character gets its escape (\\u2588) instead
    of a crash (Windows pipes use the ANSI code page, such as cp1252, with strict errors)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not can_encode(stream, "\u2588\u2014"):
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
