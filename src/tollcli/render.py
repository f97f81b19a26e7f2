"""Rich rendering shared by commands: tables, bar charts, sizes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from tollcli.backends.base import StatusReport
from tollcli.oscompat import can_encode

BAR_BLOCK = "\u2588"  # a full block, where the console's encoding has one
BAR_ASCII = "#"  # a console in a code page without it (cp1252 on Windows) gets this


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _describe(details: dict[str, Any]) -> str:
    shown = []
    for key, value in details.items():
        if key in {"columns"}:
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif key == "bytes":
            value = human_bytes(value)
        shown.append(f"{key}={value}")
    return "; ".join(shown)


def render_status(console: Console, report: StatusReport) -> None:
    console.print(f"[bold]{report.backend}[/] backend, home {report.home}")
    if report.resources:
        table = Table("kind", "name", "state", "details", show_lines=False)
        for item in report.resources:
            style = "green" if item.state.lower() in {"present", "active", "available"} else "red"
            table.add_row(item.kind, item.name, f"[{style}]{item.state}[/]", _describe(item.details))
        console.print(table)
    if report.unknown:
        console.print("[yellow]Tagged by toll but not in this ledger:[/]")
        for item in report.unknown:
            console.print(f"  {item.kind} {item.name} ({item.state})")
    if report.monthly_cost_usd is not None:
        console.print(f"Cost to keep: about ${report.monthly_cost_usd:.2f} a month")
    for note in report.notes:
        console.print(note)


def bar(console: Console, length: int) -> str:
    """`length` bar characters: blocks, or ASCII where the console's encoding cannot show blocks."""
    return (BAR_BLOCK if can_encode(console, BAR_BLOCK) else BAR_ASCII) * max(0, length)


def bar_chart(console: Console, labels: Sequence[str], values: Sequence[float], *, width: int = 40, title: str = "") -> None:
    """A horizontal bar chart in the terminal."""
    if title:
        console.print(f"[bold]{title}[/]")
    top = max((abs(v) for v in values), default=0) or 1
    label_width = max((len(str(label)) for label in labels), default=0)
    for label, value in zip(labels, values):
        shown = bar(console, round(width * abs(value) / top))
        console.print(
            f"{label!s:>{label_width}} {shown} {value:,.0f}"
            if float(value).is_integer()
            else f"{label!s:>{label_width}} {shown} {value:,.2f}"
        )
