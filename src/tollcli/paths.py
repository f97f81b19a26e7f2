"""Where shipped files live: `templates/` is at the repository root in a checkout and inside
the package (`tollcli/templates`) in a wheel; `template_path` finds it in both."""

from __future__ import annotations

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


def read_user_file(path: Path, what: str) -> str:
    """A file the user named (a template, a rate profile), with one-line errors naming it as `what`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
