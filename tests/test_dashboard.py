"""`toll dashboard`: one offline HTML file, checked for content and loaded in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollcli.backends import open_backend
from tollcli.cli import app
from tollcli.config import resolve_settings
from tollcli.dashboard import (
    HEIGHT,
    MARGIN_BOTTOM,
    DashboardData,
    WindowScore,
    choose_resolution,
    collect_dashboard_data,
    expected_series,
    parse_time,
    render_dashboard,
    warm_up_bands,
)

EXPECTED_SERIES = {"traffic": 10, "totals": 1, "plates": 1, "anomaly": 1}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def toll(home: Path, *args: str) -> object:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the workshop's story, made by the individual commands: 5 minutes of traffic,
    the anomaly app, 3 steady minutes and 1 minute skewed to 35South."""
    home = tmp_path_factory.mktemp("lake") / "home"
    toll(home, "setup")
    phases = [
        ("2026-11-28T10:00:00Z", "5m", None),
        ("2026-11-28T10:05:00Z", "3m", None),
        ("2026-11-28T10:08:00Z", "1m", "35South"),
    ]
    for number, (start, duration, skew) in enumerate(phases):
        if number == 1:
            toll(home, "deploy", "--replay")
        if skew:
            toll(home, "skew", "--station", skew)
        toll(home, "generate", "--backfill", "--start", start, "--duration", duration, "--seed", str(number), "--quiet")
    return home


@pytest.fixture(scope="module")
def page(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("page") / "dashboard.html"
    result = toll(lake, "dashboard", "--out", str(out), "--format", "json")
    return out, json.loads(result.stdout)  # type: ignore[attr-defined]


def test_the_command_reports_every_chart(page: tuple[Path, dict]) -> None:
    out, summary = page
    assert summary["charts"] == EXPECTED_SERIES
    assert summary["records"] == 9 * 60 * 100
    assert summary["alerts"] >= 1
    assert out.stat().st_mode & 0o777 == 0o644


def test_the_page_loads_nothing(page: tuple[Path, dict]) -> None:
    html = page[0].read_text(encoding="utf-8")
    assert "default-src 'none'" in html  # the browser refuses any fetch the page might try
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "http://" not in html and "https://" not in html and "@import" not in html
    assert html.count("<svg") == 4


def test_captions_answer_the_workshop_questions_like_toll_query(lake: Path, page: tuple[Path, dict]) -> None:
    html = page[0].read_text(encoding="utf-8")
    busiest = json.loads(toll(lake, "query", "busiest", "--format", "json").stdout)  # type: ignore[attr-defined]
    plate = json.loads(toll(lake, "query", "most-active", "--format", "json").stdout)  # type: ignore[attr-defined]
    top_station, top_plate = busiest["rows"][0], plate["rows"][0]
    assert f"Which is the busiest toll station? {top_station['station']}, with {top_station['records']:,}" in html
    assert f"Who is the most active user by license plate? {top_plate['plate']}, with {top_plate['records']:,}" in html
    assert "Which station reports less traffic? 35South" in html
    assert "35South surges" in html
    assert "alerting on 35South" in html and "threshold 2.5" in html


def test_the_score_line_starts_after_the_warm_up_which_is_shaded(lake: Path, page: tuple[Path, dict]) -> None:
    html = page[0].read_text(encoding="utf-8")
    scores = json.loads(toll(lake, "alerts", "--scores", "--format", "json").stdout)["scores"]  # type: ignore[attr-defined]
    windows = sorted({r["window_start"] for r in scores})
    warming = sorted({r["window_start"] for r in scores if r["explanation"] == "warming up"})
    assert len(warming) == 32 and warming == windows[:32]
    figure = html[html.index('data-chart="anomaly"') :]
    path = re.search(r'data-series="window score"[^>]*d="([^"]+)"', figure)
    assert path
    points = re.findall(r"[ML]([\d.]+),([\d.]+)", path.group(1))
    assert len(points) == len(windows) - 32  # one point per scored window, none for the warm-up
    assert all(float(y) < HEIGHT - MARGIN_BOTTOM for _x, y in points)  # no line at 0
    band = re.search(r'<rect class="band" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', figure)
    assert band and "warming up</text>" in figure
    band_end = float(band.group(1)) + float(band.group(2))
    assert abs(band_end - float(points[0][0])) < 0.2  # the band ends where the first score is drawn
    assert "The first 32 warmed the forest up (shaded: no score yet)." in html
    alert = json.loads(toll(lake, "alerts", "--format", "json").stdout)["alerts"][0]  # type: ignore[attr-defined]
    assert f"<td>{alert['vehicle_count']:,} (usually {alert['baseline_count']:g})</td>" in figure


def test_warm_up_bands_and_a_chart_with_no_score_yet() -> None:
    def w(start: float, warming: bool) -> WindowScore:
        return WindowScore(start=start, label=str(start), score=0.0 if warming else 1.0, vehicles=1, warming_up=warming)

    windows = [w(0, True), w(10, True), w(20, False), w(30, True), w(40, False), w(50, True)]
    assert warm_up_bands(windows) == [(0, 20, "warming up"), (30, 40, "warming up"), (50, 60, "warming up")]
    assert warm_up_bands([w(0, False)]) == []
    data = DashboardData(backend="local", generated_at="now", scores=[w(0, True), w(10, True)])
    html = render_dashboard(data)
    assert expected_series(data)["anomaly"] == 0 and 'data-series="window score"' not in html
    assert '<rect class="band"' in html and "no window has a score yet" in html
    one = render_dashboard(DashboardData(backend="local", generated_at="now", scores=[w(0, True)], traffic={"A1": [(0.0, 5)]}))
    assert "1 window scored;" in one and "per 1 min, 1 station." in one  # never "1 windows", "1 stations"


def test_without_the_anomaly_app_the_chart_says_what_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    toll(home, "setup")
    toll(home, "generate", "--backfill", "--count", "3000", "--seed", "1", "--quiet")
    summary = json.loads(toll(home, "dashboard", "--out", str(tmp_path / "d.html"), "--format", "json").stdout)  # type: ignore[attr-defined]
    assert summary["charts"] == {**EXPECTED_SERIES, "anomaly": 0}
    assert "No anomaly app is deployed: run `toll deploy`" in (tmp_path / "d.html").read_text(encoding="utf-8")


def test_before_any_alert_the_threshold_is_the_one_the_backend_says_was_deployed(tmp_path: Path) -> None:
    """No alert carries a threshold yet: the dashboard asks the backend what `toll deploy` set."""
    home = tmp_path / "home"
    toll(home, "setup")
    backend = open_backend(resolve_settings(backend=None, home=str(home), region=None, profile=None))
    assert backend.deployed_anomaly_threshold() is None
    toll(home, "deploy", "--threshold", "3.5")
    assert backend.deployed_anomaly_threshold() == 3.5
    toll(home, "generate", "--backfill", "--count", "3000", "--seed", "1", "--quiet")
    data = collect_dashboard_data(backend)
    assert data.alerts == [] and data.scores and data.threshold == 3.5
    assert "threshold 3.5" in render_dashboard(data)


def test_bad_usage_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(tmp_path / "none"), "dashboard", "--out", str(tmp_path / "d.html")])
    assert result.exit_code == 2 and f"run `toll --home {(tmp_path / 'none').resolve()} setup` first" in result.stderr
    result = runner.invoke(app, ["--home", str(tmp_path / "none"), "dashboard", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.stderr
    assert not (tmp_path / "none").exists() and not (tmp_path / "d.html").exists()


def test_names_from_the_data_are_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    data = DashboardData(
        backend="local",
        generated_at="now",
        records=3,
        traffic={hostile: [(0.0, 1), (10.0, 2)]},
        totals=[(hostile, 3)],
        plates=[("P&Q", 3)],
        scores=[WindowScore(start=0.0, label="w", score=3.0, vehicles=3, alert_stations=[hostile])],
    )
    html = render_dashboard(data)
    assert hostile not in html and "&lt;script&gt;" in html and "P&amp;Q" in html


def test_time_buckets_and_resolution() -> None:
    assert parse_time("2026-11-28T10:00:10.250Z") == parse_time("2026-11-28T10:00:1") + 0.25
    assert parse_time("2026-11-28T10") == parse_time("2026-11-28T10:00")
    assert parse_time("not a date") is None
    assert choose_resolution("2026-11-28T10:00:00Z", "2026-11-28T10:17:00Z") == (10, 18)
    assert choose_resolution("2026-11-28T10:00:00Z", "2026-11-28T20:00:00Z") == (60, 16)
    assert choose_resolution("2026-11-01T00:00:00Z", "2026-11-28T00:00:00Z") == (3600, 13)


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
    )


def page_status(dom: str) -> dict[str, str]:
    tag = re.search(r'<div id="status"[^>]*>', dom)
    assert tag, dom[-2000:]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0)))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_the_page_draws_every_chart_in_chromium(page: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = page
    loaded = chromium(tmp_path, out.resolve().as_uri(), "--dump-dom")
    status = page_status(loaded.stdout)
    assert status["status"] == "ok", status
    assert status["errors"] == "0" and status["mismatched"] == "0"
    assert status["series"] == " ".join(f"{k}={v}" for k, v in EXPECTED_SERIES.items())
    assert ":CONSOLE" not in loaded.stderr, [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    shot = tmp_path / "dashboard.png"
    chromium(tmp_path, out.resolve().as_uri(), f"--screenshot={shot}", "--window-size=1300,1250", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_the_status_catches_errors_and_network_use(page: tuple[Path, dict], tmp_path: Path) -> None:
    """The check above would fail a page that throws or reaches for the network: prove it."""
    broken = tmp_path / "broken.html"
    html = page[0].read_text(encoding="utf-8")
    injected = '<img src="http://127.0.0.1:9/x.png"><script>notDefinedAnywhere();</script>'
    broken.write_text(html.replace("</main>", injected + "</main>", 1), encoding="utf-8")
    status = page_status(chromium(tmp_path, broken.resolve().as_uri(), "--dump-dom").stdout)
    assert status["status"] == "failed"
    assert "notDefinedAnywhere" in status["error-messages"] and "blocked http://127.0.0.1:9/x.png" in status["error-messages"]
