"""The app's scoring in a child process, so a backfill scores on the other core.

Why a process: krcf 0.4.0 holds the GIL in `update` and `attribution` (bench/README.md), so a
thread cannot score beside the generator, but a child process can. The parent keeps what must be
its own: counting records into windows, persisting, alerting, checkpoints. The child does the rest
of each window: the forest step, the score rows and alerts (`AnomalyApp.score`) and the window's
lines of the score file (`ScoredWindow.table_lines`), so the parent's share per window is small.

`ScoringProcess` stands where the app's scorer stands (`to_bytes()` for checkpoints, `mode`), and
adds `send(windows)` (one message per batch; it does not wait), `ready()` and `receive()` (the
oldest window's `ScoredWindow`, waiting for it). Answers come in the order windows were sent, so
the model moves exactly as it would inline and its bytes are the same. A writer thread does the
sending, so the caller never waits on a full socket (the 2-4 MB model while the child starts), and
both sides never wait on each other: the caller bounds the windows in flight and reads answers.

The child starts on the first `send`, or earlier with `start()` (it then imports while the caller
works, and loads the model with the first `send`); until it has scored, `to_bytes()` answers with
the model it was given. It runs in its own session (its own process group on Windows), so
the terminal's Ctrl-C reaches only the parent, which can still drain and checkpoint; and Ctrl-C
is held while the parent reads one answer, so no message is ever cut. The child exits when told
to, or when its socket closes because the parent died (however it died, on every platform: the
operating system closes a dead process's sockets); oscompat says how each platform does these.
Its failure, or its death mid-step, is a `ScoringProcessError` (a `TollError`) in the caller,
after which every request is refused.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Literal, NoReturn

from tollcli.anomaly.app import AnomalyApp, AnomalyConfig, ScoredWindow
from tollcli.anomaly.rcf import StationScore, load_scorer
from tollcli.anomaly.windows import ClosedWindow
from tollcli.errors import TollError
from tollcli.oscompat import ignore_interrupts, interrupts_held, socket_handle_from_parent, start_child_with_socket

STOP_TIMEOUT_SECONDS = 5.0

# The messages, as pickled over the socket (plain tuples: the child runs as `__main__`, so a class
# of this module would not unpickle in the parent). The parent sends one request at a time:
LoadRequest = tuple[Literal["load"], tuple[dict[str, Any], bytes]]  # AnomalyConfig.to_json(), the model's bytes
WindowsRequest = tuple[Literal["windows"], list[ClosedWindow]]  # one answer per window
SaveRequest = tuple[Literal["save"], None]  # one answer: the model's bytes (to_bytes)
StopRequest = tuple[Literal["stop"], None]  # no answer: the child exits
Request = LoadRequest | WindowsRequest | SaveRequest | StopRequest
# and the child answers each message with a list of answers (empty: its greeting):
Answer = tuple[Literal["ok"], ScoredWindow | bytes] | tuple[Literal["error"], str]  # "error": its text, ending the list


class ScoringProcessError(TollError):
    """The child failed or died: it must not score another window."""


class ScoringProcess:
    """The app's scorer, in a child process; one thread at a time."""

    def __init__(self, config: AnomalyConfig, model: bytes) -> None:
        self.config = config
        self.mode = config.mode
        self.stations = config.stations
        self.model = model  # what the child loads, and the answer to to_bytes() until it has scored
        self.process: subprocess.Popen[bytes] | None = None
        self.connection: Connection | None = None
        self.in_flight = 0  # windows sent, answers not yet read
        self.received: deque[Answer] = deque()  # answers read, not yet taken (see receive)
        self.broken: str | None = None
        self.outbox: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.loaded = False  # the load message is queued
        self.up = False  # the child has greeted us: it has imported the app

    # the scorer's interface -------------------------------------------------------------------
    def score(self, window: ClosedWindow) -> list[StationScore]:
        """One window, waited for (the feed uses send/receive instead)."""
        self.send([window])
        return self.receive().rows

    def to_bytes(self) -> bytes:
        self._check()
        if not self.loaded:
            return self.model
        if self.in_flight or self.received:
            raise ScoringProcessError(f"{self.in_flight + len(self.received)} windows are still waiting to be taken")
        self._post(("save", None), answers=1)
        model = self._take()
        if not isinstance(model, bytes):
            self._fail(f"it answered a save with a {type(model).__name__}")
        return model

    # windows in, scored windows out -----------------------------------------------------------
    def send(self, windows: list[ClosedWindow]) -> None:
        if windows:
            self._post(("windows", windows), answers=len(windows))

    def ready(self) -> bool:
        if self.received:
            return True
        return self.connection is not None and self.in_flight > 0 and self.connection.poll(0)

    def receive(self) -> ScoredWindow:
        """The oldest window's `ScoredWindow`, waiting for it.

        A Ctrl-C meanwhile is held until the message is read and kept: it is raised after, and
        the answer is the next `receive`'s, so no message is cut and no answer is lost."""
        scored = self._take()
        if not isinstance(scored, ScoredWindow):
            self._fail(f"it answered a window with a {type(scored).__name__}")
        return scored

    def _take(self) -> ScoredWindow | bytes:
        """The oldest answer, waiting for it (see receive); an error answer fails here."""
        if not self.received:
            self._check()
            if self.connection is None or self.in_flight == 0:
                raise ScoringProcessError("no window is waiting for an answer")
            with interrupts_held():  # a held Ctrl-C is raised as this ends, with the answers kept
                while not self.received:  # (the child's greeting carries no answer)
                    self.received.extend(self._read())
        answer = self.received.popleft()
        if answer[0] == "error":
            self._fail(f"scoring failed in it: {answer[1]}")
        return answer[1]

    # the child --------------------------------------------------------------------------------
    def _post(self, message: Request, *, answers: int) -> None:
        self._check()
        self.start()
        if not self.loaded:
            self.loaded = True
            self.outbox.put(("load", (self.config.to_json(), self.model)))  # its failure answers the first request
        self.outbox.put(message)
        self.in_flight += answers

    def is_up(self) -> bool:
        """Whether the child has started (imported the app); does not wait. Raises if it died."""
        if self.up or self.connection is None:
            return self.up
        self._check()
        with interrupts_held():
            while not self.up and self.connection.poll(0):
                self.received.extend(self._read())
        return self.up

    def _read(self) -> list[Answer]:
        """One message's answers: ("ok", answer) each, up to an ("error", text) that ends it. The
        child's first message is an empty greeting: it has started."""
        assert self.connection is not None
        try:
            answers: list[Answer] = self.connection.recv()
        except (EOFError, OSError) as exc:
            self._fail(self._death_note(exc))
        self.up = True
        self.in_flight -= len(answers)
        return answers

    def _check(self) -> None:
        if self.broken is not None:
            raise ScoringProcessError(f"the anomaly scoring process failed earlier ({self.broken})")

    def _fail(self, note: str) -> NoReturn:
        self.broken = note
        raise ScoringProcessError(f"the anomaly scoring process stopped: {note}")

    def start(self) -> None:
        """Start the child now (it imports the app, then waits for the model); once only."""
        if self.connection is not None or self.broken is not None:
            return
        ours, theirs = socket.socketpair()
        try:
            self.process = start_child_with_socket(  # in its own session: the terminal's Ctrl-C is for the parent
                [sys.executable, "-m", "tollcli.backends.local.scoring_process"],
                theirs,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # a crash's last line goes into our error, not onto the terminal
            )
        except OSError as exc:
            ours.close()
            self.broken = f"it could not start: {exc}"
            raise ScoringProcessError(f"could not start the anomaly scoring process: {exc}") from None
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        self.writer = threading.Thread(target=self._write, args=(self.connection,), name="toll-scoring-writer", daemon=True)
        self.writer.start()

    def _write(self, connection: Connection) -> None:
        """The writer thread: messages in order until None; a broken socket shows in `receive`."""
        while (message := self.outbox.get()) is not None:
            try:
                connection.send(message)
            except (OSError, ValueError):  # the child died (or we closed): receive reports it
                return

    def _death_note(self, exc: BaseException) -> str:
        if self.process is None:
            return type(exc).__name__
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return f"its connection broke ({type(exc).__name__})"
        said = self.process.stderr.read().decode("utf-8", "replace").strip().splitlines() if self.process.stderr else []
        return f"it exited with status {status}" + (f": {said[-1]}" if said else "")

    def close(self) -> None:
        """Stop the child (answers not yet taken are dropped); safe to call twice."""
        connection, process, writer = self.connection, self.process, self.writer
        self.connection = self.writer = None
        if writer is not None:
            self.outbox.put(("stop", None))
            self.outbox.put(None)
            writer.join(timeout=STOP_TIMEOUT_SECONDS)
        if connection is not None:
            connection.close()
        if process is not None and process.poll() is None:
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stderr is not None:
            process.stderr.close()

    def discard(self) -> None:
        """Stop a child that was never given a window, without waiting for it to finish starting."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.close()


def serve(connection: Connection) -> int:
    """The child: greet, load the app's model, then score windows in order until told to stop or orphaned."""
    connection.send([])  # the greeting: imported and ready for the model
    app: AnomalyApp | None = None
    failure = "no model loaded"
    while True:
        try:
            message: Request = connection.recv()
        except (EOFError, OSError):
            return 0  # the parent is gone
        if message[0] == "stop":
            return 0
        if message[0] == "load":
            try:
                config = AnomalyConfig.from_json(message[1][0])
                app = AnomalyApp(config, scorer=load_scorer(config.mode, message[1][1], config.stations))
            except Exception as exc:  # answered with the first request
                failure = f"the model did not load: {type(exc).__name__}: {exc}"
            continue
        answers: list[Answer] = []
        windows: Sequence[ClosedWindow | None] = message[1] if message[0] == "windows" else [None]  # None: "save"
        for window in windows:
            try:
                if app is None:
                    raise RuntimeError(failure)
                answers.append(("ok", app.scorer.to_bytes() if window is None else _scored(app, window)))
            except Exception as exc:  # every failure goes back to the parent, as text; it ends the message
                answers.append(("error", f"{type(exc).__name__}: {exc}"))
                app, failure = None, "an earlier window failed"  # a model that failed mid-step is not trusted
                break
        connection.send(answers)


def _scored(app: AnomalyApp, window: ClosedWindow) -> ScoredWindow:
    return app.score(window).encoded_now()  # the parent only writes these bytes


if __name__ == "__main__":
    ignore_interrupts()  # and we run in our own session or process group anyway
    sys.exit(serve(Connection(socket_handle_from_parent(sys.argv[1]))))
