"""Where shipped files live: `templates/` is at the repository root in a checkout and inside
the package (`tollcli/templates`) in a wheel; `template_path` finds it in both."""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path

from tollcli.errors import TollError, UsageError


@lru_cache(maxsize=1)
def templates_dir() -> Path:
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise TollError("the templates folder is missing from this installation of tollcli; reinstall it")


def template_path(*parts: str) -> Path:
    """The shipped file `templates/<parts...>`."""
    path = templates_dir().joinpath(*parts)
    if not path.exists():
        raise TollError(f"shipped template {'/'.join(parts)} is missing; reinstall tollcli")
    return path


def read_template(*parts: str) -> str:
    return template_path(*parts).read_text(encoding="utf-8")


USER_FILE_LIMIT = 1 << 20  # a KDG template or a rate profile is at most a few hundred KB


def read_user_file(path: Path, what: str, *, limit: int = USER_FILE_LIMIT) -> str:
    """A file the user named (a template, a rate profile), with one-line errors naming it as `what`.

    Only a regular file of at most `limit` bytes is read (never `/dev/zero`, a FIFO or a folder,
    which could block or grow without end), and it must be UTF-8.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore the flag)
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise UsageError(f"{what} {path} is not a regular file")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {limit // 1024} KB: is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {what} {path}: not valid UTF-8 (byte {exc.start})") from None
