"""The compaction manifest: which Parquet parts replaced which CSV objects of one table.

`<home>/compacted/<table>/manifest.json` is the truth for both readers of a table: the query
engine reads the parts it lists plus every CSV object it does not list as a source, and
`toll compact` (`compact.py`) appends a part only after the part is in place and removes the
sources only after the manifest is saved. Every path in it is relative and is checked to stay
inside its folder before anything is read or deleted.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollcli.backends.local.layout import COMPACTED_FOLDER, LocalHome
from tollcli.errors import TollError
from tollcli.oscompat import remove_file
from tollcli.state import atomic_write_json

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
# (folder, location asked for, home) -> (the manifest's bytes, its location, parts, sources) as last checked
_CHECKED: dict[tuple[Path, Path | None, Path], tuple[bytes, Path, tuple[dict[str, Any], ...], Any]] = {}


def resolve_location(value: str | Path) -> Path:
    return Path(value).expanduser().resolve()


@dataclass
class CompactionManifest:
    """The Parquet parts of one table and the CSV objects each replaced (paths relative)."""

    folder: Path  # <home>/compacted/<table>
    location: Path  # the table's CSV location
    parts: list[dict[str, Any]] = field(default_factory=list)
    _sources: tuple[int, frozenset[str]] | None = field(default=None, repr=False, compare=False)  # see source_paths

    @classmethod
    def load(cls, backend: LocalHome, table: str, location: Path | None = None) -> CompactionManifest:
        """The table's manifest, checked (`check`) once per content: every query loads it, and an
        unchanged file (the same bytes) reuses the parts checked before instead of parsing again."""
        folder = (backend.home / COMPACTED_FOLDER / table).resolve()
        path = folder / MANIFEST_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            raise TollError(f"the compaction manifest {path} is unreadable ({exc}); fix or remove it by hand") from None
        key = (folder, location, backend.home.resolve())
        known = _CHECKED.get(key)
        if known is not None and known[0] == raw:
            return cls(folder=folder, location=known[1], parts=list(known[2]), _sources=known[3])
        try:
            data = json.loads(raw) if raw else {}
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise TollError(f"the compaction manifest {path} is unreadable ({exc}); fix or remove it by hand") from None
        stored_location = data.get("location")
        chosen = location or (Path(stored_location) if stored_location else backend.bucket_path)
        parts = data.get("parts") or []
        if not isinstance(parts, list):
            raise TollError(f"the compaction manifest {path} is corrupt (its parts are not a list)")
        manifest = cls(folder=folder, location=resolve_location(chosen), parts=list(parts))
        manifest.check(backend.home)
        manifest.source_paths()
        _CHECKED[key] = (raw, manifest.location, tuple(manifest.parts), manifest._sources)
        while len(_CHECKED) > 8:
            del _CHECKED[next(iter(_CHECKED))]
        return manifest

    def check(self, home: Path) -> None:
        """Refuse a manifest whose parts or sources point outside their folders (a hand-edited one
        could otherwise make queries read, and `toll compact` delete, any file).

        Names only: each part and source must be a plain relative path (no `..`, not absolute).
        What the names lead to is checked where it is used: a part when it is read
        (`readable_parts`: no link on the way), a source right before it is deleted (`delete_source`)."""
        home = home.resolve()
        if not _strictly_inside(self.location, home):
            raise TollError(
                f"the compaction manifest {self.path} names the location {self.location}, outside the home: refusing it"
            )
        for part in self.parts:
            try:
                parquet, sources = str(part["parquet"]), [str(s) for s in part["sources"]]
            except (KeyError, TypeError):
                raise TollError(f"the compaction manifest {self.path} is corrupt (a part without parquet/sources)") from None
            if not _plain_relative(parquet):
                raise TollError(f"the compaction manifest {self.path} lists {parquet!r}, outside {self.folder}: refusing it")
            for source in sources:
                if not _plain_relative(source):
                    raise TollError(f"the compaction manifest {self.path} lists {source!r}, outside {self.location}: refusing it")

    def readable_parts(self) -> list[Path]:
        """The parts that exist, each a regular file reached through real folders below `folder`
        (no symbolic link anywhere on the way: with names checked by `check`, that keeps every
        part inside the folder, as resolving would, at the cost of one lstat per file and folder)."""
        found = []
        base = str(self.folder)
        real_folders = {base}
        for part in self.parts:
            path = os.path.join(base, str(part["parquet"]))
            try:
                info: os.stat_result | None = os.lstat(path)
            except FileNotFoundError:
                continue  # tidied away by `toll compact` (the manifest was read before)
            except NotADirectoryError:
                info = None
            folder = os.path.dirname(path)
            while folder not in real_folders:
                try:
                    is_folder = stat.S_ISDIR(os.lstat(folder).st_mode)
                except OSError:
                    is_folder = False
                if not is_folder or os.path.dirname(folder) == folder:
                    raise TollError(f"{folder} is not a folder toll made (a link?): refusing to read {path}")
                real_folders.add(folder)
                folder = os.path.dirname(folder)
            if info is None or not stat.S_ISREG(info.st_mode):
                raise TollError(f"{path} is not a Parquet part toll wrote (a link?): refusing to read it")
            found.append(Path(path))
        return found

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def save(self) -> None:
        atomic_write_json(self.path, {"version": MANIFEST_VERSION, "location": str(self.location), "parts": self.parts})

    def parquet_paths(self) -> list[Path]:
        return [self.folder / str(part["parquet"]) for part in self.parts]

    def source_paths(self) -> frozenset[str]:
        """The CSV objects the parts replaced (full paths); worked out once per list of parts."""
        if self._sources is None or self._sources[0] != len(self.parts):  # (parts are only ever appended)
            base = str(self.location)
            paths = frozenset(os.path.join(base, str(source)) for part in self.parts for source in part["sources"])
            self._sources = (len(self.parts), paths)
        return self._sources[1]

    def skipped_rows(self) -> int:
        return sum(int(part.get("skipped", 0)) for part in self.parts)

    def rows(self) -> int:
        return sum(int(part.get("rows", 0)) for part in self.parts)


def _plain_relative(name: str) -> bool:
    """A relative path that stays below its folder by name: not absolute, no `..`, not empty."""
    parts = name.replace("\\", "/").split("/")
    return name not in ("", ".") and not os.path.isabs(name) and parts[0] != "" and ".." not in parts and ":" not in parts[0]


def delete_source(location: Path, path: str | Path) -> bool:
    """Delete a compacted CSV object, but only if it really is a file below `location` (no link out).
    False when Windows keeps it because another process holds it open (the next run tries again)."""
    if _strictly_inside(Path(path), location) and not os.path.islink(path):
        return remove_file(path)
    else:
        raise TollError(f"{path} is not a delivered object below {location}: refusing to delete it")


def _strictly_inside(path: Path, folder: Path) -> bool:
    """`path` (resolved, so `..` and symbolic links count) is below `folder`, and not `folder` itself."""
    return folder.resolve() in resolve_location(path).parents
