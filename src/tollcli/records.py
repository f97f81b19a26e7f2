"""The toll record as it travels: CSV lines `date,toll,user\n`, in chunks.

A `RecordChunk` is what the generator hands to a sink and to the anomaly app: the exact bytes
to deliver plus the columns the anomaly app needs, so nothing re-parses what we just made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLUMNS = ("date", "toll", "user")


@dataclass
class RecordChunk:
    """`count` newline-terminated records, exactly as they are sent."""

    lines: bytes
    count: int
    event_times: np.ndarray  # float64 epoch seconds, one per record
    stations: np.ndarray | None = None  # station of each record (str objects), None if unknown
    station_codes: np.ndarray | None = None  # the same as indexes into station_names (faster to count)
    station_names: tuple[str, ...] | None = None

    def split_records(self) -> list[bytes]:
        """Each record (one line) with its trailing newline. The AWS sinks pack many lines into each
        Firehose or Kinesis record (`backends.aws.packing`); they split a chunk only to check that no
        single line is over the service's record size limit."""
        return self.lines.splitlines(keepends=True)
