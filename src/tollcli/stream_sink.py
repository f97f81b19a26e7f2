"""`toll generate --output -` (or a file): records go to a byte stream instead of a delivery stream.

It is a `RecordSink` like the backends' delivery streams, so the generator writes to it the same way,
and it needs no backend at all: `--output` works before `toll setup`.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from tollcli.backends.base import RecordSink
from tollcli.backends.reports import SinkStats
from tollcli.records import RecordChunk


class StreamSink(RecordSink):
    """`--output -`: records go to a byte stream (stdout) instead of the delivery stream."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._stats = SinkStats()

    @property
    def stats(self) -> SinkStats:
        return self._stats

    def write(self, chunk: RecordChunk) -> None:
        self._stream.write(chunk.lines)
        self._stream.flush()
        self._stats.accepted += chunk.count
        self._stats.api_calls += 1

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            pass

    def close(self) -> None:
        self.flush()
