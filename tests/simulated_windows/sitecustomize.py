"""A Windows-like Python on Linux: what tests/test_platform_simulated.py runs `toll` in.

Put this folder first on PYTHONPATH and Python imports it at start-up, in every process (the
scoring child inherits the environment). It takes away what Windows lacks or refuses:

- the POSIX-only modules (`fcntl`, `termios`, `pwd`, `grp`, `resource`, `tty`, `pty`): an import
  hook raises ModuleNotFoundError, as on Windows;
- the POSIX-only functions of `signal` and `os` (`pthread_sigmask`, `setsid`, `killpg`,
  `getpgid`, ...): deleted. Constants stay (subprocess's kill() reads signal.SIGKILL on Linux;
  on Windows it calls TerminateProcess), and so does `os.waitpid` (Windows has it);
- Windows' refusals: `os.open` of a folder (PermissionError), `os.fsync` of a descriptor opened
  read-only (EBADF), `os.rename` onto an existing file (FileExistsError); and `shutil.rmtree`
  takes the path it takes on Windows (no folder descriptors);
- `os.kill(pid, 0)`, the POSIX "is it alive?" check: on Windows signal 0 is CTRL_C_EVENT, a
  console Ctrl-C sent to the process group, so here it raises AssertionError saying so.

What a simulation cannot take away: `sys.platform` stays "linux" (the standard library reads it
at import), so the code still takes oscompat's POSIX branches where it asks for Windows by name;
those branches are unit-tested with the platform patched (tests/test_platform.py). So the one
`os.kill(pid, 0)` allowed is oscompat.process_alive's POSIX branch: anywhere else it is refused.

Each process appends "pid parent-pid argv" to the file named by TOLL_SIMULATION_LOG, so a test
can tell which processes ran here.
"""

import errno
import importlib.abc
import os
import shutil
import signal
import stat
import sys

REFUSED_MODULES = {"fcntl", "termios", "pwd", "grp", "resource", "tty", "pty"}
REMOVED = {
    signal: ["pthread_sigmask", "pthread_kill", "sigpending", "sigwait", "sigwaitinfo", "sigtimedwait", "setitimer",
             "getitimer", "alarm", "pause", "siginterrupt"],
    os: ["setsid", "getsid", "killpg", "getpgid", "setpgid", "getpgrp", "setpgrp", "fork", "forkpty", "getuid",
         "geteuid", "getgid", "getegid", "setuid", "setgid", "getgroups", "chown", "lchown", "fchown", "mkfifo",
         "mknod", "nice", "getloadavg", "sync", "wait", "wait3", "wait4"],
}  # fmt: skip


class RefusePosixOnlyModules(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in REFUSED_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r} (a simulated Windows)", name=name)
        return None


sys.meta_path.insert(0, RefusePosixOnlyModules())
for _name in REFUSED_MODULES:
    sys.modules.pop(_name, None)
for _module, _names in REMOVED.items():
    for _name in _names:
        if hasattr(_module, _name):
            delattr(_module, _name)

_open, _fsync, _rename = os.open, os.fsync, os.rename


def _windows_open(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
    if dir_fd is None and os.path.isdir(path):
        raise PermissionError(errno.EACCES, "Permission denied (a simulated Windows opens no folder)", path)
    return _open(path, flags, mode, dir_fd=dir_fd)


def _windows_fsync(fd):  # type: ignore[no-untyped-def]
    number = fd if isinstance(fd, int) else fd.fileno()
    try:
        with open(f"/proc/self/fdinfo/{number}") as info:
            flags = int(next(line for line in info if line.startswith("flags:")).split()[1], 8)
    except (OSError, StopIteration, ValueError):
        flags = os.O_RDWR
    if stat.S_ISDIR(os.fstat(number).st_mode) or flags & os.O_ACCMODE == os.O_RDONLY:
        raise OSError(errno.EBADF, "Bad file descriptor (a simulated Windows fsyncs only files open for writing)")
    return _fsync(number)


def _windows_rename(src, dst, *, src_dir_fd=None, dst_dir_fd=None):  # type: ignore[no-untyped-def]
    if os.path.exists(dst):
        raise FileExistsError(errno.EEXIST, "Cannot create a file when that file already exists", dst)
    return _rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


_kill = os.kill
CTRL_C_EVENT = 0  # signal.CTRL_C_EVENT on Windows


def _windows_kill(pid, sig):  # type: ignore[no-untyped-def]
    caller = sys._getframe(1)
    in_oscompat_posix_branch = caller.f_globals.get("__name__") == "tollcli.oscompat" and caller.f_code.co_name == "process_alive"
    if sig == CTRL_C_EVENT and not in_oscompat_posix_branch:
        raise AssertionError(  # not an OSError: no `except OSError` may quietly take it for "not running"
            f"os.kill({pid}, 0) on Windows sends a console Ctrl-C (CTRL_C_EVENT), it checks nothing: "
            "use tollcli.oscompat.process_alive (a simulated Windows)"
        )
    return _kill(pid, sig)


os.open, os.fsync, os.rename, os.kill = _windows_open, _windows_fsync, _windows_rename, _windows_kill
shutil._use_fd_functions = False  # rmtree without folder descriptors, as the standard library does on Windows

if os.environ.get("TOLL_SIMULATION_LOG"):
    with open(os.environ["TOLL_SIMULATION_LOG"], "a", encoding="utf-8") as _log:
        _log.write(f"{os.getpid()} {os.getppid()} {' '.join(sys.argv)}\n")
