"""The `toll` command line: parse, call the core, render. No business logic lives here.

Errors: the core raises `TollError`/`UsageError`; `TollGroup` turns them (and click's own
usage errors) into one line on stderr and exit 1 or 2. Set `TOLL_TRACEBACK=1` to see the
traceback instead.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperGroup, TyperOption  # TyperGroup: the documented base for Typer(cls=...)

from tollcli import __version__
from tollcli.cli import anomaly, generate, query, setup, workshop
from tollcli.cli.common import AppContext, reflow_command_help
from tollcli.config import resolve_settings
from tollcli.errors import ExitStatus, Interrupted, TollError
from tollcli.oscompat import tolerate_unencodable_output
from tollcli.render import escape_controls

if TYPE_CHECKING:
    # The one name tollcli takes from Typer's private modules, for type checking only (nothing imports it
    # at run time): Typer 0.29 vendors click as typer._click and exports no name for the context class
    # that make_context and invoke are declared with (typer.Context is a subclass: a parameter typed with
    # it would not match the methods it overrides).
    from typer._click.core import Context as ClickContext

# The one place tollcli changes Typer's behaviour: Typer 0.29's help shows a flag's type (`--yes -y <bool>`)
# as if it took a value (`--yes true` is refused). Our own flags could pass metavar="", but --help and
# --install-completion are made by Typer itself, so the fix is made where Typer renders an option's type.
# A flag shows no type. (test_newcomer checks every command's help for `<bool>`.) The method is not part of
# Typer's documented API: a release without it leaves the help as Typer draws it, and every command still runs.
_typer_display_type_rich: Callable[[TyperOption, ClickContext], str | None] | None = getattr(
    TyperOption, "display_type_rich", None
)


def _display_type_rich(self: TyperOption, ctx: ClickContext) -> str | None:
    if getattr(self, "is_flag", False) and self.metavar is None:
        return None
    assert _typer_display_type_rich is not None  # (only installed when it exists)
    return _typer_display_type_rich(self, ctx)


if _typer_display_type_rich is not None:
    TyperOption.display_type_rich = _display_type_rich  # type: ignore[method-assign]

T = TypeVar("T")

GLOBAL_OPTIONS = {"--backend": True, "--home": True, "--region": True, "--profile": True}  # option: takes a value


def hoist_global_options(args: list[str]) -> list[str]:
    """`toll setup --home x` as `toll --home x setup`: global options typed after the command are
    moved before it (no command has an option of the same name). Stops at `--`."""
    front: list[str] = []
    rest: list[str] = []
    seen_command = False
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if seen_command and name in GLOBAL_OPTIONS:
            if "=" in arg or index + 1 >= len(args):
                front.append(arg)
            else:
                front.extend(args[index : index + 2])
                index += 1
        else:
            if not arg.startswith("-") and not seen_command and not (rest and rest[-1].split("=", 1)[0] in GLOBAL_OPTIONS
                                                                      and "=" not in rest[-1]):  # fmt: skip
                seen_command = True
            rest.append(arg)
        index += 1
    return front + rest


def fail_line(message: str) -> None:
    """The one line a user sees for a known failure."""
    typer.echo(f"toll: error: {escape_controls(message)}", err=True)


def _is_help_request(exc: typer.TyperException) -> bool:
    """`toll` alone: the parser raises its help as an error (exit 2), to be printed as Typer does.
    Typer exports no name for that error; its own rich_utils recognizes it by class name too."""
    return type(exc).__name__ == "NoArgsIsHelpError"


class TollGroup(TyperGroup):
    """Maps our exceptions and click's usage errors to one line and an exit status."""

    def _guard(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return call(*args, **kwargs)
        except TollError as exc:
            if os.environ.get("TOLL_TRACEBACK"):
                raise
            fail_line(exc.message)
            raise typer.Exit(int(exc.exit_status)) from None
        except typer.TyperException as exc:  # the parser's errors (click's, vendored by Typer) derive from it
            if _is_help_request(exc) or os.environ.get("TOLL_TRACEBACK"):
                raise
            hint = ""
            usage_context = getattr(exc, "ctx", None)  # a usage error names the command it was parsing
            if usage_context is not None:
                hint = f" (see '{usage_context.command_path} --help')"
            fail_line(f"{exc.format_message()}{hint}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal a command turned into one: 128 + its number
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            fail_line("interrupted" if signum == signal.SIGINT else "terminated")
            raise typer.Exit(exc.exit_status if isinstance(exc, Interrupted) else int(ExitStatus.INTERRUPTED)) from None

    def make_context(
        self, info_name: str | None, args: list[str], parent: ClickContext | None = None, **extra: Any
    ) -> ClickContext:
        if parent is None:
            args = hoist_global_options(list(args))
        return self._guard(super().make_context, info_name, args, parent, **extra)

    def invoke(self, ctx: ClickContext) -> Any:
        return self._guard(super().invoke, ctx)


app = typer.Typer(
    cls=TollGroup,
    name="toll",
    help="Run the Analyticon toll-road streaming-analytics workshop end to end, "
    "on your laptop (the default, no AWS account) or on AWS (--backend aws).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"toll {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    backend: str = typer.Option(
        None,
        "--backend",
        metavar="local|aws",
        help="Where the pipeline runs: local (a lake folder and DuckDB) or aws. "
        "Env TOLL_BACKEND; default local; a home already set up keeps its backend.",
        show_default=False,
    ),
    home: str = typer.Option(
        None,
        "--home",
        metavar="DIR",
        help="Folder for the local lake, the ledger of created resources, state and alerts. Env TOLL_HOME; default ./.toll.",
        show_default=False,
    ),
    region: str = typer.Option(None, "--region", help="AWS region (aws backend). Env TOLL_REGION or AWS_REGION."),
    profile: str = typer.Option(None, "--profile", help="AWS profile (aws backend). Env TOLL_PROFILE or AWS_PROFILE."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    settings = resolve_settings(backend=backend, home=home, region=region, profile=profile)
    ctx.obj = AppContext(settings=settings)


def _register() -> None:
    """Attach each topic's commands; a module per topic keeps this file small."""
    for topic in (setup, generate, query, anomaly, workshop):
        topic.register(app)
    reflow_command_help(app)


_register()


def main() -> None:
    """Console-script entry point."""
    tolerate_unencodable_output()
    app(prog_name="toll")
    sys.exit(0)
