"""How `toll workshop` tells its steps on the console: each step a titled section, progress on stderr.

A module of its own so that `tollcli.cli.workshop` need not import `tollcli.workshop` (and with it the
generator, the queries and the anomaly app) until the workshop runs: that keeps `toll --help` fast.
"""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.status import Status

from tollcli.cli.common import rule_width
from tollcli.workshop import StepReport, WorkshopReporter

STATUS_MARKS = {
    "ok": "[green]done[/]",
    "warning": "[yellow]done, with a warning[/]",
    "failed": "[red]failed[/]",
    "interrupted": "[red]interrupted[/]",
    "skipped": "[dim]skipped[/]",
}


class ConsoleReporter(WorkshopReporter):
    """Each step as a titled section an instructor can teach from."""

    def __init__(self, console: Console, progress_console: Console) -> None:
        self.console = console
        self.progress_console = progress_console
        self._status: Status | None = None

    def begin(self, step: StepReport) -> None:
        self.console.print()
        self.console.print(
            Rule(f"[bold]Step {step.number}/{step.total}: {step.title}[/]", align="left"), width=rule_width(self.console)
        )
        self.console.print(f"[dim]replaces:[/] {step.replaces}")
        self.console.print(f"[dim]command: [/] [cyan]{step.command}[/]")

    def line(self, step: StepReport, text: str) -> None:
        self._stop_progress()
        self.console.print(f"  {text}", markup=False, highlight=False)

    def progress(self, step: StepReport, text: str) -> None:
        if self._status is None:
            self._status = self.progress_console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def _stop_progress(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def end(self, step: StepReport) -> None:
        self._stop_progress()
        self.console.print(f"  {STATUS_MARKS.get(step.status, step.status)} in {step.elapsed_s:.1f} s")
