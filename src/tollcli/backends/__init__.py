"""Backends: `open_backend(settings)` picks one with pipx's precedence (flag, ledger, env).

`base.py` is the interface and `reports.py` its result types: all that the CLI and the shared layer
import. `local/` and `aws/` are the two implementations, each a package whole; this module is the
only one outside them that imports them."""

from __future__ import annotations

from dataclasses import replace

from tollcli.backends.base import Backend
from tollcli.config import Settings
from tollcli.errors import UsageError
from tollcli.state import Ledger


def open_backend(settings: Settings) -> Backend:
    """The backend for these settings; a home set up with one backend keeps using it."""
    ledger = Ledger.load(settings.ledger_path)
    if ledger is not None and ledger.backend != settings.backend:
        if settings.backend_explicit:
            raise UsageError(
                f"{settings.home} holds a {ledger.backend} stack, not {settings.backend}: "
                f"use --backend {ledger.backend} or another --home"
            )
        settings = replace(settings, backend=ledger.backend)
    # lazy: only the chosen backend loads; the AWS one (boto3 and its models) takes ~0.2 s to
    # import, which a local command never needs (bench/bench_startup.py).
    if settings.backend == "local":
        from tollcli.backends.local import LocalBackend  # lazy: see above

        return LocalBackend(settings)
    from tollcli.backends.aws import AwsBackend  # lazy: see above

    return AwsBackend(settings)


__all__ = ["Backend", "open_backend"]
