"""What every command shares: the context object, the `--format`/`--quiet`/`--timeout` options, the event printer
and JSON printing."""

from __future__ import annotations

import inspect
import json
import re
import sys
from dataclasses import asdict, dataclass, field, is_dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from tollcli.config import DEFAULT_QUERY_TIMEOUT, Settings, resolve_settings
from tollcli.render import literal
from tollcli.state import toll_command_for
from tollcli.units import DURATION_HELP

if TYPE_CHECKING:
    from tollcli.backends import Backend
    from tollcli.backends.reports import EventCallback


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"


def summary_format_option(help: str = "table or json.") -> Any:
    """`--format table|json`, the one declaration every command's summary format uses (default table).
    (typer.Option's declared return type is Any: it stands in for the parameter's default.)"""
    return typer.Option(SummaryFormat.table, "--format", help=help)


def output_format_option(help: str = "table, json or csv.") -> Any:
    """`--format table|json|csv`, for commands that print rows (default table)."""
    return typer.Option(OutputFormat.table, "--format", help=help)


def timeout_option(help: str = f"Stop the query after this long (exit 1): {DURATION_HELP}.") -> Any:
    """`--timeout DURATION` for commands that run a query (default `config.DEFAULT_QUERY_TIMEOUT`); its text
    is read by `cli.query.set_timeout`."""
    return typer.Option(f"{DEFAULT_QUERY_TIMEOUT:g}s", "--timeout", metavar="DURATION", help=help)


def quiet_option(help: str = "No progress and no summary.") -> Any:
    """`--quiet`/`-q`: a flag, default off."""
    return typer.Option(False, "--quiet", "-q", help=help)


def event_printer(app: AppContext, *, quiet: bool) -> EventCallback:
    """The `on_event` for setup, teardown, compact, deploy and publish: each event indented on stderr,
    printed literally; none when quiet (a JSON summary keeps stderr for errors)."""
    if quiet:
        # lazy: the backend interface (its report dataclasses) takes ~6 ms to import; `toll --help` need not pay it
        from tollcli.backends.reports import ignore_event

        return ignore_event
    return lambda message: app.err_console.print(literal(f"  {message}"))


# Piped or redirected output is never hard-wrapped: lines stay whole (soft wrap) and tables get room
# for their columns; a terminal gets its own width.
PIPE_WIDTH = 240


def make_console(*, stderr: bool = False) -> Console:
    # emoji=False: data such as `root:x:0` must not turn into an emoji (tollcli.render prints data literally)
    console = Console(stderr=stderr, highlight=False, emoji=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True, width=max(console.width, PIPE_WIDTH))
    return console


def rule_width(console: Console) -> int:
    """A section rule as wide as the terminal, or 80 columns in a file."""
    return console.width if console.is_terminal else 80


@dataclass
class AppContext:
    """Built by the root callback; commands get the backend and consoles from here."""

    settings: Settings
    console: Console = field(default_factory=make_console)
    err_console: Console = field(default_factory=lambda: make_console(stderr=True))
    _backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from tollcli.backends import open_backend  # lazy: see event_printer

            self._backend = open_backend(self.settings)
        return self._backend


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:  # a command invoked without the root callback (tests of sub-apps)
        obj = AppContext(settings=resolve_settings(backend=None, home=None, region=None, profile=None))
        ctx.obj = obj
    return obj


def suggested_toll(app: AppContext) -> str:
    """`toll`, with `--home` when a pasted command needs it to reach this home."""
    return toll_command_for(app.settings.home)


def to_jsonable(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def print_json(payload: object) -> None:
    """Machine-readable output: stdout only, nothing else printed."""
    sys.stdout.write(json.dumps(to_jsonable(payload), indent=2, default=str) + "\n")
    sys.stdout.flush()


_KEPT_LINE = re.compile(r"^(?:\s|[-*] )")  # a list item or an indented line starts a line of its own


def reflow_help(text: str | None) -> str | None:
    """A command's help as Typer should print it: each paragraph one line, for Rich to wrap at the
    terminal's width. (Typer keeps a docstring's line breaks after its first paragraph, so at 200
    columns the help broke where the source did.) Paragraphs are separated by a blank line; a
    list item ("- ", "* ") or an indented line keeps its own line, and a paragraph starting with
    click's \\b marker is left as written."""
    if not text:
        return text
    help_text, cut, rest = inspect.cleandoc(text).partition("\f")
    paragraphs = []
    for paragraph in help_text.split("\n\n"):
        if paragraph.startswith("\b"):
            paragraphs.append(paragraph)
            continue
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not _KEPT_LINE.match(line):
                lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs).strip() + (f"\n\f{rest}" if cut else "")


def reflow_command_help(app: typer.Typer) -> None:
    """reflow_help for every command and group of `app`, sub-apps included."""
    for command in app.registered_commands:
        command.help = reflow_help(command.help or inspect.getdoc(command.callback))
    for group in app.registered_groups:
        if isinstance(group.help, str):
            group.help = reflow_help(group.help)
        if group.typer_instance is not None:
            info = group.typer_instance.info
            if isinstance(info.help, str):
                info.help = reflow_help(info.help)
            reflow_command_help(group.typer_instance)
