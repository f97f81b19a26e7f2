"""The ledger: a JSON record of every resource `toll` created, so teardown removes exactly those.

Written atomically (temporary file in the same folder, then `os.replace`), versioned, and
read strictly: a ledger we cannot parse is bad input, never something to overwrite.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollcli.errors import UsageError
from tollcli.oscompat import replace_file
from tollcli.units import format_instant

LEDGER_VERSION = 1
LEDGER_TOOL = "tollcli"


def utc_now_iso() -> str:
    return format_instant(time.time(), timespec="seconds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` so that `path` is either the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(tmp, path)  # (on Windows, retried while a reader holds `path` open)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, payload: object) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def toll_command_for(home: Path | str) -> str:
    """`toll` as a suggested command must reach this same home when pasted anywhere: with `--home`
    unless it is the default one (./.toll from here, and TOLL_HOME unset)."""
    resolved = Path(home).resolve()
    if not os.environ.get("TOLL_HOME") and resolved == (Path.cwd() / ".toll").resolve():
        return "toll"
    return f"toll --home {shlex.quote(str(resolved))}"


# The generator's `<home>/event-time.json`: the last event time delivered into the home, where the next
# `--backfill` continues (see tollcli.generator, which writes it). Its names live here, beside the ledger
# that records the file, so that what reads only the home (`toll status`, a backend's teardown) need not
# import the generator (numpy and the KDG: ~75 ms).
EVENT_TIME_FILE = "event-time.json"
EVENT_TIME_KIND = "event-time"


def event_time_path(home: Path) -> Path:
    return Path(home) / EVENT_TIME_FILE


def read_last_event(home: Path) -> float | None:
    """Epoch seconds of the last event time delivered into this home, or None (nothing recorded)."""
    try:
        data = json.loads(event_time_path(home).read_text(encoding="utf-8"))
        return float(data["last_event_epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# `toll skew`'s `<home>/skew.json` (see tollcli.skew, which writes and watches it): its names live here for
# the same reason, and so that the backend interface can remove it at teardown without importing the skew
# module (which imports that interface back).
SKEW_FILE = "skew.json"
SKEW_KIND = "skew"


def skew_path(home: Path) -> Path:
    return Path(home) / SKEW_FILE


def describe_resource(kind: str, name: str, path: object = None) -> str:
    """`bucket bucket` says nothing: a local resource whose file or folder bears its name is named by its path."""
    what = kind.replace("_", " ")
    if path is not None and Path(str(path)).name == name:
        return f"{what} {Path(str(path)).resolve()}"
    return f"{what} {name}"


@dataclass
class Resource:
    """One thing `toll` made: its kind (bucket, stream, role, ...), name and settings."""

    kind: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now_iso)

    def describe(self) -> str:
        """For messages: `delivery stream toll-data-stream`, `bucket /abs/home/bucket` (a folder by its path)."""
        return describe_resource(self.kind, self.name, self.settings.get("path"))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "settings": self.settings, "created_at": self.created_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            settings=dict(data.get("settings") or {}),
            created_at=str(data.get("created_at") or utc_now_iso()),
        )


@dataclass
class Ledger:
    """Resources in creation order; teardown walks them in reverse."""

    path: Path
    backend: str
    stack: str
    resources: list[Resource] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now_iso)

    @classmethod
    def load(cls, path: Path) -> Ledger | None:
        """The ledger at `path`, or None when there is none; a corrupt one is a UsageError."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UsageError(f"cannot read the ledger {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("tool") != LEDGER_TOOL:
                raise ValueError("not a tollcli ledger")
            version = int(data.get("version", 0))
            if version > LEDGER_VERSION:
                raise ValueError(f"written by a newer tollcli (version {version})")
            return cls(
                path=path,
                backend=str(data["backend"]),
                stack=str(data.get("stack") or "toll"),
                resources=[Resource.from_json(item) for item in data.get("resources", [])],
                meta=dict(data.get("meta") or {}),
                created_at=str(data.get("created_at") or utc_now_iso()),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"the ledger {path} is corrupt ({exc}); fix or remove it by hand") from None

    def save(self) -> None:
        atomic_write_json(
            self.path,
            {
                "tool": LEDGER_TOOL,
                "version": LEDGER_VERSION,
                "backend": self.backend,
                "stack": self.stack,
                "created_at": self.created_at,
                "meta": self.meta,
                "resources": [r.to_json() for r in self.resources],
            },
        )

    def find(self, kind: str, name: str | None = None) -> Resource | None:
        for resource in self.resources:
            if resource.kind == kind and (name is None or resource.name == name):
                return resource
        return None

    def record(self, resource: Resource) -> Resource:
        """Add (or replace, same kind and name) a resource and save at once."""
        self.resources = [r for r in self.resources if not (r.kind == resource.kind and r.name == resource.name)]
        self.resources.append(resource)
        self.save()
        return resource

    def forget(self, kind: str, name: str) -> None:
        self.resources = [r for r in self.resources if not (r.kind == kind and r.name == name)]
        self.save()
