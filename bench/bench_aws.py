"""Benchmark the AWS delivery path against a moto server on 127.0.0.1 (no AWS account needed).

    /work/venv/bin/python bench/bench_aws.py [--records 10000] [--baseline-records 2000]

Starts `moto_server` on a free port, runs `toll setup`'s code against it, then in one run:
- `FirehoseSink` (PutRecordBatch, 500 records a call) sending --records records as the generator
  hands them over (chunks of 128), with 1 and 4 concurrent calls: API calls and records/s;
- the KDG-style baseline: one `PutRecord` call per record, --baseline-records of them.
Prints API calls per 10,000 records (the floor is 20) and the ratios. moto writes one S3 object
per call and never throttles, so records/s here measures our overhead plus moto's, not AWS's.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from tollcli.records import RecordChunk

CHUNK = 128


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
            return server, url
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("moto_server did not start")


def records(count: int, offset: int = 0) -> list[bytes]:
    stations = [b"35South", b"SH130", b"TX45", b"Exit29", b"183A"]
    return [b"2026-11-28T10:%02d:%02dZ,%s,P%07d\n" % (i // 60 % 60, i % 60, stations[i % 5], offset + i) for i in range(count)]


def run_sink(backend: object, lines: list[bytes], workers: int) -> tuple[float, int, int]:
    from tollcli.backends.aws.firehose import FirehoseSink

    aws = backend.client_for(None)  # type: ignore[attr-defined]
    sink = FirehoseSink(aws, "toll-data-stream", realtime=False, workers=workers)
    began = time.perf_counter()
    for start in range(0, len(lines), CHUNK):
        part = lines[start : start + CHUNK]
        sink.write(RecordChunk(lines=b"".join(part), count=len(part), event_times=np.zeros(len(part))))
    sink.close()
    elapsed = time.perf_counter() - began
    stats = sink.stats
    assert stats.accepted == len(lines) and stats.failed == 0, stats
    return elapsed, stats.api_calls, stats.accepted


def run_put_record_loop(backend: object, lines: list[bytes]) -> float:
    client = backend.client_for(None).client("firehose")  # type: ignore[attr-defined]
    began = time.perf_counter()
    for line in lines:
        client.put_record(DeliveryStreamName="toll-data-stream", Record={"Data": line})
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--baseline-records", type=int, default=2_000)
    args = parser.parse_args()

    server, url = start_moto()
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-west-2")
    try:
        from tollcli.backends.aws import AwsBackend
        from tollcli.config import Settings

        home = Path(tempfile.mkdtemp(prefix="toll-bench-aws-")) / "home"
        backend = AwsBackend(Settings(backend="aws", home=home, region="us-west-2"))
        backend.setup(buffer_mb=1, buffer_seconds=60)

        results = {}
        for workers in (1, 4):
            elapsed, calls, sent = run_sink(backend, records(args.records, offset=workers * 10_000_000), workers)
            results[workers] = (elapsed, calls, sent)
            print(
                f"FirehoseSink, {workers} in flight: {sent:,} records in {calls} PutRecordBatch calls "
                f"({calls * 10_000 / sent:.0f} per 10,000; floor 20), {elapsed:.2f} s, {sent / elapsed:,.0f} records/s"
            )
        base_lines = records(args.baseline_records, offset=90_000_000)
        base_elapsed = run_put_record_loop(backend, base_lines)
        base_rate = len(base_lines) / base_elapsed
        print(
            f"put_record loop (baseline): {len(base_lines):,} records in {len(base_lines):,} calls "
            f"(10,000 per 10,000), {base_elapsed:.2f} s, {base_rate:,.0f} records/s"
        )
        for workers, (elapsed, calls, sent) in results.items():
            print(
                f"ratio, {workers} in flight vs baseline: {10_000 / (calls * 10_000 / sent):.0f}x fewer API calls, "
                f"{sent / elapsed / base_rate:.1f}x records/s"
            )
        report = backend.teardown()
        if report.failed:
            print(f"teardown left: {report.failed}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
