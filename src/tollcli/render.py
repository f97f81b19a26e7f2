"""Rich rendering shared by commands: tables, bar charts, sizes, and data printed as data.

Anything that comes from the user or from records (values, column names, station names, paths,
settings) is printed literally: through `literal()` (a Rich `Text`: no markup, no emoji codes) or,
inside a message that has markup of its own, `safe()` (markup escaped). Both show control
characters escaped (`\x1b`, `\n`), so data cannot move the cursor, recolour or clear a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tollcli.oscompat import can_encode

if TYPE_CHECKING:
    from tollcli.backends.reports import StatusReport

BAR_BLOCK = "\u2588"  # a full block, where the console's encoding has one
BAR_ASCII = "#"  # a console in a code page without it (cp1252 on Windows) gets this

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` with control characters (C0, C1, DEL, bidirectional overrides) shown as escapes."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def literal(value: object) -> Text:
    """A value to print exactly as it is (control characters escaped): never markup, never emoji."""
    return Text(escape_controls(str(value)))


def safe(value: object) -> str:
    """A value to embed in a message that uses markup: its own brackets printed as they are."""
    return escape(escape_controls(str(value)))


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
    console.print(f"[bold]{report.backend}[/] backend, home {safe(report.home)}")
    if report.resources:
        # lazy: rich.table takes ~4 ms to import; `toll --version` draws no table (cli/__init__ imports this module)
        from rich.table import Table

        table = Table("kind", "name", "state", "details", show_lines=False)
        for item in report.resources:
            style = "green" if item.state.lower() in {"present", "active", "available"} else "red"
            table.add_row(
                literal(item.kind), literal(item.name), f"[{style}]{safe(item.state)}[/]", literal(_describe(item.details))
            )
        console.print(table)
    if report.unknown:
        console.print("[yellow]Tagged by toll but not in this ledger:[/]")
        for item in report.unknown:
            console.print(literal(f"  {item.kind} {item.name} ({item.state})"))
    if report.monthly_cost_usd is not None:
        console.print(f"Cost to keep: about ${report.monthly_cost_usd:.2f} a month")
    for note in report.notes:
        console.print(literal(note))


def bar(console: Console, length: int) -> str:
    """`length` bar characters: blocks, or ASCII where the console's encoding cannot show blocks."""
    return (BAR_BLOCK if can_encode(console, BAR_BLOCK) else BAR_ASCII) * max(0, length)


def bar_chart(console: Console, labels: Sequence[str], values: Sequence[float], *, width: int = 40, title: str = "") -> None:
    """A horizontal bar chart in the terminal."""
    if title:
        console.print(f"[bold]{title}[/]")
    top = max((abs(v) for v in values), default=0) or 1
    label_width = max((len(escape_controls(str(label))) for label in labels), default=0)
    for label, value in zip(labels, values):
        shown = f"{escape_controls(str(label)):>{label_width}} {bar(console, round(width * abs(value) / top))} "
        console.print(Text(shown + (f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}")))
