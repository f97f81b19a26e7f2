"""The wheel carries `templates/` inside the package, and `template_path` finds it there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_template_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tollcli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = ROOT / "templates"
    shipped = {f"tollcli/templates/{p.relative_to(templates).as_posix()}" for p in templates.rglob("*") if p.is_file()}
    assert shipped, "templates/ is empty"
    assert shipped <= names, sorted(shipped - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "toll = tollcli.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
