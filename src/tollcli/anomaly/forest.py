"""The forest's steps, run here (`LocalForest`) or in a child process (`ProcessForest`).

A scorer asks its forest one step per window: `window` (default mode: the point's attribution,
then the point is added) or `rows` (workshop mode: each value scored, then added, in order). Both
forests give the same answers and the same model bytes.

Why a process: krcf 0.4.0 holds the GIL in `update` and `attribution` (bench/README.md), so a
thread cannot score beside the generator, but a child process can, on the other core. The child
runs this file by path and imports only the standard library, `tollcli.errors` and krcf (~40 ms
to start, not the ~300 ms of numpy and the app), so a backfill's first windows do not wait long.
It starts on the first step, not before: a run that closes no window never pays for it, and until
then `to_bytes()` answers with the model it was given. It ignores the terminal's Ctrl-C (its own
session), so an interrupted run can still drain and checkpoint; it exits when told to, or when its
socket closes because the parent died. Its failure, or its death mid-step, comes back as a
`ForestProcessError` in the caller, after which the forest refuses every request.

Keep this module's imports to the standard library, `tollcli.errors` and (lazily) krcf: the child
runs it alone.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from tollcli.errors import TollError

STOP_TIMEOUT_SECONDS = 5.0


def window_step(forest: Any, point: list[float]) -> tuple[list[float], list[float]]:
    """Default mode: attribution (HIGH and LOW per dimension; they sum to the score), then update."""
    attribution = forest.attribution(point)  # one traversal gives the score and its split
    forest.update(point)
    return list(attribution["high"]), list(attribution["low"])


def rows_step(forest: Any, values: list[float]) -> list[float]:
    """Workshop mode: each one-dimensional value scored, then added, in order."""
    scores = []
    for value in values:
        point = [value]
        scores.append(float(forest.score(point)))
        forest.update(point)
    return scores


def step(forest: Any, kind: str, payload: Any) -> Any:
    if kind == "window":
        return window_step(forest, payload)
    if kind == "rows":
        return rows_step(forest, payload)
    raise ValueError(f"unknown step {kind!r}")


class LocalForest:
    """A krcf forest in this process."""

    def __init__(self, forest: Any) -> None:
        self.forest = forest

    @classmethod
    def create(cls, options: dict[str, Any]) -> LocalForest:
        import krcf

        return cls(krcf.RandomCutForest(options))

    @classmethod
    def from_bytes(cls, model: bytes) -> LocalForest:
        import krcf

        return cls(krcf.RandomCutForest.from_msgpack(model))

    def step(self, kind: str, payload: Any) -> Any:
        return step(self.forest, kind, payload)

    def to_bytes(self) -> bytes:
        return bytes(self.forest.to_msgpack())

    def close(self) -> None:
        pass


class ForestProcessError(TollError):
    """The child failed or died: it must not score another window."""


class ProcessForest:
    """The same steps answered by a forest in a child process, in the order they were sent.

    `send(steps)` hands over a batch of steps in one message and does not wait; `receive` takes
    the oldest step's answer (waiting for its batch), `ready` says whether one is there. A caller
    keeps a bounded number of steps in flight (their answers must fit the socket's buffer, or both
    sides would wait on each other) and receives them all before `to_bytes`. One thread only.
    One message per batch, not per window: a message costs a wake-up of the other process. A
    writer thread does the sending, so the caller never waits on a full socket (the 4 MB model,
    while the child is still starting) and both sides never wait on each other.
    """

    def __init__(self, model: bytes) -> None:
        self.model = model  # what the child loads, and the answer to to_bytes() until it has stepped
        self.process: subprocess.Popen[bytes] | None = None
        self.connection: Connection | None = None
        self.in_flight = 0  # sent, not yet read
        self.received: deque[tuple[str, Any]] = deque()  # read, not yet taken (see receive)
        self.broken: str | None = None
        self.outbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None

    def send(self, steps: list[tuple[str, Any]]) -> None:
        """Steps `(kind, payload)`, answered in this order."""
        if not steps:
            return
        self._check()
        if self.connection is None:
            self._start()
        assert self.connection is not None
        self.outbox.put(("steps", steps))
        self.in_flight += len(steps)

    def ready(self) -> bool:
        if self.received:
            return True
        return self.connection is not None and self.in_flight > 0 and self.connection.poll(0)

    def receive(self) -> Any:
        """The oldest step's answer (waits for it).

        A Ctrl-C meanwhile is held until the message is read and kept: it is raised after, and
        the answer is the next `receive`'s, so no message is cut and no answer is lost."""
        if not self.received:
            self._check()
            if self.connection is None or self.in_flight == 0:
                raise ForestProcessError("no step is waiting for an answer")
            masked = _block_sigint()
            try:
                self.received.extend(self._read())
            finally:
                _restore_signals(masked)  # a held Ctrl-C is raised here, with the answer kept
        status, answer = self.received.popleft()
        if status != "ok":
            self._fail(f"scoring failed in it: {answer}")
        return answer

    def _read(self) -> list[tuple[str, Any]]:
        """One batch's answers: ("ok", answer) each, up to an ("error", text) that ends it."""
        assert self.connection is not None
        try:
            answers = self.connection.recv()
        except (EOFError, OSError) as exc:
            self._fail(self._death_note(exc))
        self.in_flight -= len(answers)
        return answers

    def step(self, kind: str, payload: Any) -> Any:
        self.send([(kind, payload)])
        return self.receive()

    def to_bytes(self) -> bytes:
        self._check()
        if self.process is None:
            return self.model
        if self.in_flight or self.received:
            raise ForestProcessError(f"{self.in_flight + len(self.received)} steps are still waiting to be taken")
        return self.step("save", None)

    def _check(self) -> None:
        if self.broken is not None:
            raise ForestProcessError(f"the anomaly scorer process failed earlier ({self.broken})")

    def _fail(self, note: str) -> NoReturn:
        self.broken = note
        raise ForestProcessError(f"the anomaly scorer process stopped: {note}")

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # the terminal's Ctrl-C is for the parent, which then stops us
            )
        except OSError as exc:
            ours.close()
            self._fail(f"could not start it: {exc}")
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        self.outbox.put(("load", self.model))  # no answer: the first batch's answers say it loaded
        self.writer = threading.Thread(target=self._write, args=(self.connection,), name="toll-forest-writer", daemon=True)
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
            return f"it exited with status {self.process.wait(timeout=STOP_TIMEOUT_SECONDS)}"
        except subprocess.TimeoutExpired:
            return f"its connection broke ({type(exc).__name__})"

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


def _block_sigint() -> bool:
    """Hold SIGINT (delivered on restore) while one message is read: a cut message is lost."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _restore_signals(masked: bool) -> None:
    if masked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def serve(connection: Connection) -> int:
    """The child: load the model, then answer steps in order until told to stop or orphaned."""
    import krcf

    forest: Any = None
    failure = "no model loaded"
    while True:
        try:
            kind, payload = connection.recv()
        except (EOFError, OSError):
            return 0  # the parent is gone
        if kind == "stop":
            return 0
        if kind == "load":
            try:
                forest = krcf.RandomCutForest.from_msgpack(payload)
            except Exception as exc:  # answered with the first batch
                failure = f"the model did not load: {type(exc).__name__}: {exc}"
            continue
        answers: list[tuple[str, Any]] = []
        for step_kind, step_payload in payload:
            try:
                if forest is None:
                    raise RuntimeError(failure)
                answer = bytes(forest.to_msgpack()) if step_kind == "save" else step(forest, step_kind, step_payload)
            except Exception as exc:  # every failure goes back to the parent, as text; it ends the batch
                answers.append(("error", f"{type(exc).__name__}: {exc}"))
                forest, failure = None, "an earlier step failed"  # a model that failed mid-step is not trusted
                break
            answers.append(("ok", answer))
        connection.send(answers)


if __name__ == "__main__":
    # Run by path: sys.path[0] is this folder, whose module names shadow nothing we import.
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # and we run in our own session anyway
    sys.exit(serve(Connection(int(sys.argv[1]))))
