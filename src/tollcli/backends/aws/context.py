"""`AwsContext`: what each AWS component (the anomaly app, QuickSight) gets from `AwsBackend`,
instead of the backend itself and its private methods: the one client, the ledger, the stack's
name, the home, the injected `sleep`, and what Section 1 recorded (bucket, workgroup)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tollcli.backends.aws.client import AwsClient
from tollcli.backends.aws.names import KIND_BUCKET, KIND_DATABASE, KIND_WORKGROUP
from tollcli.state import Ledger


@dataclass(frozen=True)
class AwsContext:
    aws: AwsClient  # every call goes through it (retries, waits, error translation)
    ledger: Ledger
    stack: str
    home: Path
    sleep: Callable[[float], None]

    def recorded(self, kind: str) -> str | None:
        """The name of Section 1's resource of this kind, when setup finished making it."""
        resource = self.ledger.find(kind)
        if resource is None or resource.settings.get("state") == "creating":
            return None
        return resource.name

    @property
    def bucket(self) -> str | None:
        return self.recorded(KIND_BUCKET)

    @property
    def workgroup(self) -> str | None:
        return self.recorded(KIND_WORKGROUP)

    @property
    def has_database(self) -> bool:
        return self.recorded(KIND_DATABASE) is not None
