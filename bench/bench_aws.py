"""Benchmark the AWS delivery path against a moto server on 127.0.0.1 (no AWS account needed).

    /work/venv/bin/python bench/bench_aws.py [--records 10000] [--baseline-records 2000]

Starts `moto_server` on a free port, runs `toll setup`'s code against it, then in one run:
- `FirehoseSink` sending --records lines as the generator hands them over (chunks of 128), with 1 and
  4 concurrent calls, packed (many lines per Firehose record, the default) and a line per record
  (`record_bytes=1`, 500 records a call): API calls, Firehose records (billing units), billed bytes
  (each record rounded up to 5 KB) and lines/s;
- the KDG-style baseline: one `PutRecord` call per record, --baseline-records of them.
Prints API calls per 10,000 lines and the ratios (calls, billed bytes, lines/s). moto writes one S3 object
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


def run_sink(backend: object, lines: list[bytes], workers: int, record_bytes: int) -> tuple[float, int, int, int, int]:
    from tollcli.backends.aws.sinks import FirehoseSink

    aws = backend.client_for(None)  # type: ignore[attr-defined]
    sink = FirehoseSink(aws, "toll-data-stream", realtime=False, workers=workers, record_bytes=record_bytes)
    began = time.perf_counter()
    for start in range(0, len(lines), CHUNK):
        part = lines[start : start + CHUNK]
        sink.write(RecordChunk(lines=b"".join(part), count=len(part), event_times=np.zeros(len(part))))
    sink.close()
    elapsed = time.perf_counter() - began
    stats = sink.stats
    assert stats.accepted == len(lines) and stats.failed == 0, stats
    return elapsed, stats.api_calls, stats.accepted, stats.stream_records, stats.billed_bytes


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
        for label, record_bytes in (("packed", 1000 * 1024), ("a line per record", 1)):
            for workers in (1, 4):
                lines = records(args.records, offset=(workers + 10 * record_bytes % 7) * 10_000_000)
                elapsed, calls, sent, units, billed = run_sink(backend, lines, workers, record_bytes)
                results[(label, workers)] = (elapsed, calls, sent, units, billed)
                print(
                    f"FirehoseSink, {label}, {workers} in flight: {sent:,} lines in {calls} calls, {units:,} Firehose "
                    f"records billed as {billed / 1024**2:,.2f} MiB, {elapsed:.2f} s, {sent / elapsed:,.0f} lines/s"
                )
        base_lines = records(args.baseline_records, offset=90_000_000)
        base_elapsed = run_put_record_loop(backend, base_lines)
        base_rate = len(base_lines) / base_elapsed
        print(
            f"put_record loop (baseline): {len(base_lines):,} records in {len(base_lines):,} calls "
            f"(10,000 per 10,000), {base_elapsed:.2f} s, {base_rate:,.0f} records/s"
        )
        for (label, workers), (elapsed, calls, sent, _units, _billed) in results.items():
            print(
                f"ratio, {label}, {workers} in flight vs baseline: {sent / calls:,.0f}x "
                f"fewer API calls, {sent / elapsed / base_rate:.1f}x lines/s"
            )
        packed, single = results[("packed", 4)], results[("a line per record", 4)]
        print(
            f"ratio, packed vs a line per record: {single[4] / packed[4]:.0f}x fewer bytes billed, "
            f"{single[1] / packed[1]:.0f}x fewer calls, {packed[2] / packed[0] / (single[2] / single[0]):.1f}x lines/s"
        )
        report = backend.teardown()
        if report.failed:
            print(f"teardown left: {report.failed}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
