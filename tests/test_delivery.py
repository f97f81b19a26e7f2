"""Local delivery: Firehose's object names, size and interval hints, whole objects, exact bytes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from tollcli.backends.local.delivery import LocalDeliveryStream, object_key
from tollcli.errors import TollError
from tollcli.kdg import default_spec
from tollcli.kdg.factory import RecordFactory
from tollcli.records import RecordChunk
from tollcli.stream_sink import StreamSink
from tollcli.units import parse_instant as parse_start

KEY = re.compile(r"(\d{4})/(\d\d)/(\d\d)/(\d\d)/toll-data-stream-1-(\d{4})-(\d\d)-(\d\d)-(\d\d)-\d\d-\d\d-[0-9a-f-]{36}")
START = parse_start("2026-11-28T08:59:30Z").timestamp()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stream(bucket: Path, *, realtime: bool, size: int = 1 << 20, seconds: float = 60, **kw: object) -> LocalDeliveryStream:
    return LocalDeliveryStream(
        bucket=bucket, stream_name="toll-data-stream", buffer_bytes=size, buffer_seconds=seconds, realtime=realtime, **kw
    )


def objects(bucket: Path) -> list[Path]:
    return sorted(p for p in bucket.rglob("*") if p.is_file())


def chunk_of(n: int, first: int = 0, rate: float = 100) -> RecordChunk:
    return RecordFactory(default_spec(), seed=first).make_chunk(START + np.arange(first, first + n) / rate)


def test_object_key_is_firehose_style_in_utc() -> None:
    key = object_key("toll-data-stream", START, "0b3c9a2e-1c1d-4c8e-9d7e-0f1e2d3c4b5a")
    assert key == "2026/11/28/08/toll-data-stream-1-2026-11-28-08-59-30-0b3c9a2e-1c1d-4c8e-9d7e-0f1e2d3c4b5a"


def test_backfill_objects_follow_event_time_intervals(tmp_path: Path) -> None:
    sink = stream(tmp_path, realtime=False, seconds=60)
    sent = [chunk_of(10_000, i) for i in range(0, 30_000, 10_000)]  # 300 s of event time at 100/s
    for chunk in sent:
        sink.write(chunk)
    sink.close()
    found = objects(tmp_path)
    assert len(found) == 5 and sink.stats.objects == 5 and sink.stats.accepted == 30_000
    assert b"".join(p.read_bytes() for p in found) == b"".join(c.lines for c in sent)
    hours = [KEY.fullmatch(str(p.relative_to(tmp_path))).group(4) for p in found]
    assert hours == ["08", "09", "09", "09", "09"]  # keyed by each object's first event time
    for path in found:
        lines = path.read_bytes().splitlines()
        assert len(lines) == 6000
        first, last = lines[0][:23].decode(), lines[-1][:23].decode()
        span = parse_start(last).timestamp() - parse_start(first).timestamp()
        assert span < 60


def test_size_hint_splits_at_record_boundaries(tmp_path: Path) -> None:
    sink = stream(tmp_path, realtime=False, size=10_000, seconds=900)
    chunk = chunk_of(3000)
    sink.write(chunk)
    sink.close()
    found = objects(tmp_path)
    assert len(found) > 5
    for path in found[:-1]:
        data = path.read_bytes()
        assert data.endswith(b"\n") and 10_000 <= len(data) < 10_000 + 64
    assert b"".join(p.read_bytes() for p in found) == chunk.lines


def test_realtime_interval_counts_wall_time(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = stream(tmp_path, realtime=True, seconds=60, clock=clock)
    sink.write(chunk_of(100))
    clock.now += 59
    sink.write(chunk_of(100, 100))
    assert sink.stats.objects == 0
    clock.now += 1
    sink.poll()
    sink.flush()
    assert sink.stats.objects == 1 and sink.stats.accepted == 200
    sink.write(chunk_of(5, 200))
    sink.close()
    assert [len(p.read_bytes().splitlines()) for p in objects(tmp_path)] in ([200, 5], [5, 200])


def test_bytes_are_stored_exactly_as_sent_even_without_newlines(tmp_path: Path) -> None:
    sink = stream(tmp_path, realtime=False)
    sent = b"2026-11-28T08:00:00.000Z,183A,6LD7N2026-11-28T08:00:00.010Z,TX45,EDMTT"  # a producer that forgot '\n'
    sink.write(RecordChunk(lines=sent, count=2, event_times=np.array([START, START + 0.01])))
    sink.close()
    (only,) = objects(tmp_path)
    assert only.read_bytes() == sent


def test_close_is_idempotent_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    sink = stream(tmp_path, realtime=False, seconds=0)
    for i in range(3):
        sink.write(chunk_of(10, i * 10))
    sink.close()
    sink.close()
    assert len(objects(tmp_path)) == 3 and not any(p.name.startswith(".") for p in tmp_path.rglob("*"))
    with pytest.raises(TollError):
        sink.write(chunk_of(1))


def test_a_delivery_failure_is_reported_and_not_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "bucket"
    blocker.write_text("a file where the bucket should be")
    sink = stream(blocker, realtime=False, seconds=0)
    sink.write(chunk_of(10))
    with pytest.raises(TollError, match="cannot deliver"):
        sink.close()
    assert sink.stats.accepted == 0


def test_stream_sink_writes_the_records() -> None:
    out = io.BytesIO()
    sink = StreamSink(out)
    chunk = chunk_of(7)
    sink.write(chunk)
    sink.close()
    assert out.getvalue() == chunk.lines and sink.stats.accepted == 7
