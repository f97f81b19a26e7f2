"""Is `toll workshop`'s output the same before and after a change? (issue 19: a refactor changes nothing)

    git archive 55a188b | tar -x -C /tmp/before
    PYTHONPATH=src /work/venv/bin/python bench/compare_workshop.py --before /tmp/before/src [--seeds 1 2 3]

For each seed, runs the seeded local workshop from both source folders (a fresh subprocess and a fresh
home each), in table form (steps on stdout) and in json form (the report on stdout, steps on stderr),
and compares what they print once the clock is masked: instants, clock times, durations and the
temporary folder names are what may differ between two runs of the same code; everything else (every
count, share, answer, score and alert) must be equal. Prints one line per comparison and exits 1 on
any difference, showing the first differing lines.

The dashboard is not compared: its charts are drawn against the wall clock (where the backfill's
minutes fall), so two runs of the same code already differ in their coordinates.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "<instant>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?"), "<instant>"),
    (re.compile(r"\b\d\d:\d\d(:\d\d)?( UTC)?\b"), "<clock>"),
    (re.compile(r"\d+(\.\d+)? s\b"), "<seconds> s"),
    (re.compile(r'"(seconds|elapsed[a-z_]*|duration[a-z_]*|started|finished|[a-z_]*_at)": [^,}\n]+'), r'"\1": <clock>'),
    (re.compile(r"pid \d+"), "pid <pid>"),
]


def masked(text: str, home: str) -> str:
    text = text.replace(home, "<home>")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def run_workshop(src: str, seed: int, form: str, work: Path) -> tuple[str, str]:
    """(stdout, stderr) of one seeded local workshop from `src`, clock masked."""
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    env = {**os.environ, "PYTHONPATH": src, "COLUMNS": "120", "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "tollcli", "--home", home, "workshop", "--seed", str(seed)]
    argv += ["--format", form, "--dashboard", str(Path(home).with_suffix(".html"))]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"the workshop from {src} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return masked(done.stdout, home), masked(done.stderr, home)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, metavar="SRC", help="the src/ folder of the tree before the change")
    parser.add_argument("--after", default=SRC, metavar="SRC", help="the src/ folder after it (default: this tree's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    differences = 0
    with tempfile.TemporaryDirectory(prefix="toll-compare-") as folder:
        for seed in args.seeds:
            for form in ("table", "json"):
                before = run_workshop(args.before, seed, form, Path(folder))
                after = run_workshop(args.after, seed, form, Path(folder))
                for stream, old, new in zip(("stdout", "stderr"), before, after):
                    label = f"seed {seed}, --format {form}, {stream}"
                    if old == new:
                        print(f"same       {label} ({len(new.splitlines())} lines)")
                        continue
                    differences += 1
                    print(f"DIFFERENT  {label}")
                    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=1)
                    print("\n".join(list(diff)[:20]))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
