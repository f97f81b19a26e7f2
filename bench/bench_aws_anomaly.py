"""What keeping the model in S3 costs the Lambda function, per window (moto S3 in process).

Baseline: the shared core scoring a window in memory (`AnomalyApp.score`), as the local backend
does. Measured: the handler's whole final invoke (load the ~4 MB checkpoint from S3, score,
write the scored window, save the checkpoint), and the counting invokes in records/s.

    /work/venv/bin/python bench/bench_aws_anomaly.py --windows 60
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3
from moto import mock_aws

from tollcli.anomaly.app import AnomalyApp, AnomalyConfig
from tollcli.anomaly.rcf import WORKSHOP_STATIONS
from tollcli.anomaly.windows import ClosedWindow
from tollcli.backends.aws.lambda_handler import CONFIG_VARIABLE, HandlerConfig, process

REGION = "us-west-2"
BUCKET = "toll-bench-anomaly"
START = datetime(2026, 11, 28, 9, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--records", type=int, default=1000, help="records per window (rate 100 x 10 s)")
    args = parser.parse_args()
    rng = random.Random(1)
    windows = [dict.fromkeys(WORKSHOP_STATIONS, 0) for _ in range(args.windows)]
    for counts in windows:
        for station in rng.choices(WORKSHOP_STATIONS, k=args.records):
            counts[station] += 1

    app = AnomalyApp(AnomalyConfig())
    in_memory = []
    for i, counts in enumerate(windows):
        start = (START + timedelta(seconds=10 * i)).timestamp()
        t0 = time.perf_counter()
        app.score(ClosedWindow(start, start + 10, counts, 0, 0))
        in_memory.append(time.perf_counter() - t0)

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        topic = sns.create_topic(Name="bench")["TopicArn"]
        env = {"TOLL_BUCKET": BUCKET, "TOLL_TOPIC_ARN": topic, CONFIG_VARIABLE: json.dumps(AnomalyConfig().to_json())}
        config = HandlerConfig.from_environ(env)
        batch = [
            {
                "kinesis": {
                    "data": base64.b64encode(f"2026-11-28T09:00:00Z,{s},ABC123\n".encode()).decode(),
                    "sequenceNumber": str(n),
                }
            }
            for n, s in enumerate(rng.choices(WORKSHOP_STATIONS, k=500))
        ]
        t0 = time.perf_counter()
        for _ in range(40):
            process({"Records": batch, "state": {}, "window": {"start": "x", "end": "x"}}, config=config, s3=s3, sns=sns)
        counting_rate = 40 * len(batch) / (time.perf_counter() - t0)
        final = []
        for i, counts in enumerate(windows):
            stamp = (START + timedelta(seconds=10 * i)).isoformat().replace("+00:00", "Z")
            event = {"Records": [], "state": {"counts": counts, "records": args.records, "rejected": 0},
                     "window": {"start": stamp, "end": stamp}, "isFinalInvokeForWindow": True}  # fmt: skip
            t0 = time.perf_counter()
            process(event, config=config, s3=s3, sns=sns)
            final.append(time.perf_counter() - t0)
        checkpoint = s3.head_object(Bucket=BUCKET, Key="anomaly/state/model.bin")["ContentLength"]

    base, measured = statistics.median(in_memory), statistics.median(final)
    forest = config.app.forest
    print(f"windows: {args.windows}, forest {forest.trees} x {forest.sample_size}, checkpoint {checkpoint / 1e6:.1f} MB")
    print(f"in-memory score per window (baseline): {base * 1e3:.2f} ms")
    print(f"final invoke with the model in S3:      {measured * 1e3:.1f} ms  (ratio {measured / base:.0f}x)")
    print(f"counting invokes: {counting_rate:,.0f} records/s (Lambda's 500-record batches)")


if __name__ == "__main__":
    main()
