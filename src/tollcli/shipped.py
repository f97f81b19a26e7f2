"""Files shipped with toll that users can name instead of giving a path.

`--template workshop|skewed` are the workshop's two KDG templates (`templates/kdg/*.txt`) and
`--rate-profile rush-hour` the shipped rate profiles (`templates/rate-profiles/*.csv`); they live in
the package (`tollcli/templates` in a wheel), so they work from any folder, not only in a clone.
An existing file always wins over a shipped name; anything else is a UsageError listing the names.
"""

from __future__ import annotations

from pathlib import Path

from tollcli.errors import UsageError
from tollcli.paths import templates_dir

KINDS = {
    "template": ("kdg", ".txt", "--template"),
    "rate-profile": ("rate-profiles", ".csv", "--rate-profile"),
}


def shipped_names(kind: str) -> list[str]:
    folder, suffix, _option = KINDS[kind]
    return sorted(path.name[: -len(suffix)] for path in (templates_dir() / folder).glob(f"*{suffix}"))


def shipped_path(kind: str, name: str) -> Path | None:
    folder, suffix, _option = KINDS[kind]
    if name in shipped_names(kind):
        return templates_dir() / folder / f"{name}{suffix}"
    return None


def resolve_file(kind: str, value: str | Path) -> Path:
    """A path the user gave, or the shipped file of that name (`rush-hour`, `skewed`)."""
    text = str(value)
    path = Path(text).expanduser()
    try:
        if path.exists():
            return path
    except OSError:  # a name the file system refuses (too long, say): not a file, so maybe a shipped name
        pass
    shipped = shipped_path(kind, text)
    if shipped is not None:
        return shipped
    _folder, _suffix, option = KINDS[kind]
    if "/" in text or "\\" in text or "." in path.name:
        return path  # meant as a file: reading it says it does not exist
    raise UsageError(f"{option} {text!r} is neither a file nor a shipped name: use one of {', '.join(shipped_names(kind))}")
