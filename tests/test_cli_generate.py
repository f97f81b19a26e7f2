"""`toll generate` and `toll skew` through the CLI: in process, and as real processes that are
interrupted, killed with -9 and skewed while running."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tollcli.paths import template_path

RECORD = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,[0-9A-Za-z]+,[0-9A-Z]+")
WORKSHOP = str(template_path("kdg", "workshop.txt"))
SKEWED = str(template_path("kdg", "skewed.txt"))


def bucket_objects(home: Path) -> list[Path]:
    """Delivered objects; in-flight temporary files start with '.' and are not objects."""
    bucket = home / "bucket"
    return sorted(p for p in bucket.rglob("*") if p.is_file() and not p.name.startswith(".")) if bucket.exists() else []


def bucket_lines(home: Path) -> list[bytes]:
    return b"".join(p.read_bytes() for p in bucket_objects(home)).splitlines()


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("toll: error: ")
    return lines[0]


def test_backfill_count_is_exact_and_the_summary_matches_the_bucket(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    result = toll("generate", "--backfill", "--count", "12345", "--seed", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = bucket_lines(home)
    assert summary["records"] == len(lines) == 12345 and summary["failed"] == 0
    assert all(RECORD.fullmatch(line) for line in lines)
    assert sum(summary["per_station"].values()) == 12345


def test_seed_and_start_give_byte_identical_buckets(toll, tmp_path: Path) -> None:
    contents = []
    for name in ("one", "two"):
        home = str(tmp_path / name)
        assert toll("setup", home_dir=home).exit_code == 0
        args = ("generate", "--backfill", "--count", "20000", "--seed", "9", "--start", "2026-11-28T08:00:00Z", "--quiet")
        assert toll(*args, home_dir=home).exit_code == 0
        objects = bucket_objects(Path(home))
        keys = [re.sub(r"-[0-9a-f-]{36}$", "", str(p.relative_to(home))) for p in objects]
        contents.append((keys, [p.read_bytes() for p in objects]))
    assert contents[0] == contents[1]
    assert contents[0][0][0] == "bucket/2026/11/28/08/toll-data-stream-1-2026-11-28-08-00-00"


def test_the_workshop_templates_run_as_given(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    for template in (WORKSHOP, SKEWED):
        result = toll("generate", "--template", template, "--backfill", "--count", "500", "--quiet")
        assert result.exit_code == 0, result.output
    lines = bucket_lines(home)
    assert len(lines) == 1000
    assert all(re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d,[0-9A-Za-z]+,[0-9A-Z]+", line) for line in lines)


def test_sample_prints_records_and_sends_nothing(toll, home: Path) -> None:
    result = toll("generate", "--sample", "5", "--template", WORKSHOP)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 5
    assert not home.exists()  # no setup needed, nothing written


def test_output_dash_writes_records_to_stdout_not_the_stream(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    result = toll("generate", "--output", "-", "--backfill", "--count", "300", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 300 and all(RECORD.fullmatch(x.encode()) for x in result.stdout.splitlines())
    assert bucket_objects(home) == []


def test_generate_skew_starts_skewed(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    result = toll("generate", "--backfill", "--count", "20000", "--seed", "3", "--skew", "TX290", "--format", "json")
    summary = json.loads(result.stdout)
    assert summary["per_station"]["TX290"] / 20000 == pytest.approx(0.1 / 0.37, abs=0.02)
    dropped = json.loads(
        toll("generate", "--backfill", "--count", "5000", "--skew", "TX290", "--drop", "--format", "json").stdout
    )
    assert dropped["per_station"]["TX290"] == 0


def test_rate_profile_sets_the_rate_by_hour(toll, home: Path, tmp_path: Path) -> None:
    assert toll("setup").exit_code == 0
    profile = tmp_path / "profile.csv"
    profile.write_text("hour,rate,noise\n0,1,0\n9,2,0\n")
    args = ("generate", "--rate-profile", str(profile), "--backfill", "--start", "2026-11-28T08:30:00Z", "--duration", "1h")
    summary = json.loads(toll(*args, "--format", "json").stdout)
    assert summary["records"] == 1800 + 3600 == len(bucket_lines(home))  # half an hour at 1/s, half at 2/s
    both = toll("generate", "--rate", "5", "--rate-profile", str(profile), "--count", "5")
    assert both.exit_code == 2 and "not both" in one_error_line(both)
    # --smooth: 08:30-09:00 ramps from 1/s toward 2/s (08:30 is half-way: 1.5/s .. 2/s), then 09:00-09:30 stays at 2/s.
    smooth = json.loads(toll(*args, "--smooth", "--format", "json").stdout)
    assert smooth["records"] == sum(60 * (1 + m / 60) for m in range(30, 60)) + 3600
    alone = toll("generate", "--smooth", "--count", "5")
    assert alone.exit_code == 2 and "--smooth" in one_error_line(alone)


BAD_TEMPLATES = {
    "unbalanced.txt": "{{date.now}},{{random.arrayElement([1,2])}",
    "negative.txt": '{{random.weightedArrayElement({"weights": [0.5, -0.5], "data": ["a", "b"]})}}',
    "zero.txt": '{{random.weightedArrayElement({"weights": [0, 0], "data": ["a", "b"]})}}',
    "length.txt": '{{random.weightedArrayElement({"weights": [1, 1, 1], "data": ["a", "b"]})}}',
    "helper.txt": "{{hacker.phrasing}}",
}


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "0"],
        ["--rate", "-5"],
        ["--rate", "abc"],
        ["--rate", "nan"],
        ["--count", "0"],
        ["--duration", "soon"],
        ["--duration", "5x"],
        ["--start", "yesterday", "--backfill", "--count", "5"],
        ["--output", "file.csv"],
        ["--skew", "Nowhere"],
        *[["--template", name] for name in BAD_TEMPLATES],
        ["--template", "missing.txt"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(toll, home: Path, tmp_path: Path, args: list[str]) -> None:
    assert toll("setup").exit_code == 0
    for name, text in BAD_TEMPLATES.items():
        (tmp_path / name).write_text(text)
    args = [str(tmp_path / a) if a in BAD_TEMPLATES or a == "missing.txt" else a for a in args]
    before = sorted(p.name for p in home.rglob("*"))
    result = toll("generate", "--count", "10", *args) if "--count" not in args else toll("generate", *args)
    assert result.exit_code == 2, result.output
    one_error_line(result)
    assert sorted(p.name for p in home.rglob("*")) == before


def test_generate_before_setup_says_what_to_do(toll, home: Path) -> None:
    result = toll("generate", "--count", "5")
    assert result.exit_code == 2 and f"toll --home {home.resolve()} setup" in one_error_line(result)


def test_skew_validates_records_resets_and_is_torn_down(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    unknown = toll("skew", "--station", "Exit1")
    assert unknown.exit_code == 2 and "183A, SH130" in one_error_line(unknown)
    result = toll("skew", "--station", "35South", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["mode"] == "divert" and payload["weights"]["35South"] == 0.1 and payload["weights"]["183A"] == 0.02
    assert json.loads((home / "skew.json").read_text())["station"] == "35South"
    assert any(r["kind"] == "skew" for r in json.loads((home / "ledger.json").read_text())["resources"])
    drop = json.loads(toll("skew", "--station", "TX45", "--drop", "--format", "json").stdout)
    assert drop["mode"] == "drop" and drop["weights"]["TX45"] == 0
    # a later generate picks up the skew in force
    summary = json.loads(toll("generate", "--backfill", "--count", "2000", "--format", "json").stdout)
    assert summary["per_station"]["TX45"] == 0 and summary["skew"]["mode"] == "drop"
    assert toll("skew", "--reset").exit_code == 0 and not (home / "skew.json").exists()
    assert toll("skew", "--station", "183A").exit_code == 0
    assert toll("skew", "--reset", "--station", "183A").exit_code == 2
    assert toll("teardown", "--yes").exit_code == 0
    assert not home.exists()


# --- real processes --------------------------------------------------------------------------


def start_generate(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tollcli", "--home", str(home), "generate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_kill_9_leaves_only_whole_objects(toll_process, home: Path) -> None:
    assert toll_process("setup", "--buffer-mb", "1").returncode == 0
    process = start_generate(home, "--backfill", "--count", "50000000", "--quiet")
    try:
        wait_for(lambda: len(bucket_objects(home)) >= 3, "objects")
    finally:
        process.kill()
        process.wait()
    objects = bucket_objects(home)
    assert objects
    for path in objects:
        data = path.read_bytes()
        assert data.endswith(b"\n")
        assert all(RECORD.fullmatch(line) for line in data.splitlines())
    status = json.loads(toll_process("status", "--format", "json").stdout)
    bucket = next(r for r in status["resources"] if r["kind"] == "bucket")
    assert bucket["details"]["objects"] == len(objects)


def test_ctrl_c_flushes_and_the_summary_equals_the_bucket(toll_process, home: Path) -> None:
    assert toll_process("setup", "--buffer-seconds", "5").returncode == 0
    process = start_generate(home, "--rate", "2000", "--format", "json")
    wait_for(lambda: bucket_objects(home), "the first object")  # it is running and buffering the next
    delivered_before = len(bucket_lines(home))
    time.sleep(1)  # records pile up in the buffer (its interval is 5 s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err  # 128 + SIGINT, as shells report it, after the summary
    summary = json.loads(out)
    assert summary["stopped_by"] == "Ctrl-C"
    assert summary["records"] == len(bucket_lines(home)) > delivered_before  # the buffer was flushed


def test_skew_reaches_a_running_generator_process(toll_process, home: Path) -> None:
    assert toll_process("setup", "--buffer-seconds", "1").returncode == 0
    process = start_generate(home, "--rate", "1000", "--quiet")
    try:
        wait_for(lambda: bucket_objects(home), "the first object")
        assert toll_process("skew", "--station", "35South").returncode == 0
        skewed_at = time.time()

        def diverted() -> bool:
            late = [line for line in bucket_lines(home) if line[:23] > _iso(skewed_at + 1)]
            return len(late) >= 500 and sum(b",35South," in line for line in late) / len(late) > 0.15

        wait_for(diverted, "traffic to divert to 35South")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 130  # stopped by Ctrl-C


def _iso(epoch: float) -> bytes:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)).encode() + f".{int(epoch * 1000) % 1000:03d}".encode()


def test_rate_is_held_for_a_short_run(toll_process, home: Path) -> None:
    assert toll_process("setup").returncode == 0
    result = toll_process("generate", "--rate", "500", "--count", "500", "--format", "json")
    summary = json.loads(result.stdout)
    assert summary["records"] == 500 == len(bucket_lines(home)) and summary["stopped_by"] == "count"
