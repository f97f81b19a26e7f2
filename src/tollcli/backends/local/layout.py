"""The home's layout as the local engine, compaction and anomaly feed see it.

`LocalHome` is what they need of the local backend, its folders and its ledger: a protocol rather
than `LocalBackend` itself, so that they depend on nothing above them and `backend.py` imports them
without a cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from tollcli.errors import TollError
from tollcli.state import Ledger, Resource

CATALOG_FOLDER = "catalog"  # <home>/catalog/: what queries worked out (object checks, translations)
CATALOG_RESOURCE = ("query_cache", "catalog")
COMPACTED_FOLDER = "compacted"  # <home>/compacted/<table>/: `toll compact`'s Parquet parts and manifest
DELIVERED_LOG = "delivered.jsonl"  # in the catalog: the objects toll's delivery wrote, known well-formed


class LocalHome(Protocol):
    """A home on disk laid out like the S3 bucket (see `tollcli.backends.local`)."""

    keep_translations: bool  # our own SQL may cache its translation under the home; a user's may not

    @property
    def home(self) -> Path: ...

    @property
    def bucket_path(self) -> Path: ...

    def load_ledger(self) -> Ledger | None: ...

    def require_ledger(self) -> Ledger: ...

    def record_path(self, ledger: Ledger, kind: str, name: str, path: Path, **settings: Any) -> Resource: ...


def record_catalog(backend: LocalHome) -> None:
    ledger = backend.load_ledger()
    kind, name = CATALOG_RESOURCE
    if ledger is not None and ledger.find(kind, name) is None:
        backend.record_path(ledger, kind, name, backend.home / CATALOG_FOLDER)


def catalog_folder(backend: LocalHome) -> Path:
    """<home>/catalog/, recorded in the ledger so that teardown removes it (a cache: never an error)."""
    try:
        record_catalog(backend)
    except (OSError, TollError):
        pass
    return backend.home / CATALOG_FOLDER


def delivered_log_path(backend: LocalHome) -> Path:
    """Where the local delivery stream records the well-formed objects it wrote (in the catalog folder)."""
    return catalog_folder(backend) / DELIVERED_LOG
