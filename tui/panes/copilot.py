"""Copilot pane: ask questions about the store, read streamed Markdown answers.

The session (`copilot.session.CopilotSession`) is created lazily on a worker thread
by the app's copilot factory; its `stream(question, cancel)` runs on that thread and
every fragment goes to a Textual `MarkdownStream` on the UI thread, which batches
updates. `escape` sets the cancel event (before un-zooming a zoomed pane); a cancelled
answer still ends with its sources. Sources come from `session.last_answer`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from tui.keymap import bindings
from tui.panes.base import Pane

if TYPE_CHECKING:  # Markdown (markdown-it, pygments) loads with the first question: a faster start
    from textual.widgets.markdown import MarkdownStream

INTRO = (
    "Ask about signals, forecasts, risk, positions or trades, e.g. "
    "“why is AAPL a BUY?”. Answers cite the stored rows they use; the copilot "
    "never places orders."
)
UNAVAILABLE = (
    "The copilot is not available: {why}. It answers from the store once the "
    "copilot package and a backend are set up ([copilot] in the config)."
)

SessionFactory = Callable[[], Any]


class CopilotPane(Pane):
    """Chat history, the question box and the sources of the last answer."""

    PANE_ID: ClassVar[str] = "copilot"
    TITLE: ClassVar[str] = "Copilot"
    BINDINGS = bindings("copilot")

    def __init__(self, session_factory: SessionFactory | None = None, cursor_blink: bool = True) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.cursor_blink = cursor_blink
        self._session: Any = None
        self._unavailable: str | None = None if session_factory else "no copilot factory was given"
        self._cancel: threading.Event | None = None
        self._lock = threading.Lock()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="cp-chat"):
            text = INTRO if self._unavailable is None else UNAVAILABLE.format(why=self._unavailable)
            yield Static(text, id="cp-intro", classes="note")
        yield Static("", id="cp-sources", markup=False)
        box = Input(placeholder="Ask the copilot… (enter sends; esc cancels or leaves)", id="cp-input")
        box.cursor_blink = self.cursor_blink
        yield box

    def primary(self) -> Input:
        return self.query_one("#cp-input", Input)

    @property
    def busy(self) -> bool:
        return self._cancel is not None

    def action_focus_input(self) -> None:
        self.primary().focus()

    def action_cancel(self) -> None:
        """esc: cancel the answer being written, else leave the question box (so q, tab… work)."""
        if self._cancel is not None:
            self._cancel.set()
            self.notify("Cancelling the answer…", timeout=2)
        elif self.primary().has_focus:
            self.query_one("#cp-chat", VerticalScroll).focus()

    @on(Input.Submitted, "#cp-input")
    async def _ask(self, event: Input.Submitted) -> None:
        event.stop()
        question = event.value.strip()
        if not question:
            return
        if self.busy:
            self.notify("Wait for the current answer, or press esc to cancel it.", severity="warning")
            return
        event.input.value = ""
        chat = self.query_one("#cp-chat", VerticalScroll)
        await chat.mount(Static(Text.assemble(("you ", "bold"), question), classes="cp-question"))
        from textual.widgets import Markdown

        answer = Markdown("", classes="cp-answer")
        await chat.mount(answer)
        chat.anchor()
        self._cancel = threading.Event()
        # While an answer is written, esc cancels it first, even in a zoomed pane
        # (Textual would un-zoom before any binding sees the key).
        self.screen.ESCAPE_TO_MINIMIZE = False  # type: ignore[misc]  # this screen only, not the class
        self.query_one("#cp-sources", Static).update("")
        self._run_question(question, Markdown.get_stream(answer), self._cancel)

    def _get_session(self) -> Any:
        """Create the session on first use (worker thread: it may load a model)."""
        with self._lock:
            if self._session is None and self._unavailable is None and self.session_factory is not None:
                try:
                    self._session = self.session_factory()
                except Exception as exc:  # noqa: BLE001 - any failure means "no copilot", shown to the user
                    self._unavailable = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            return self._session

    @work(thread=True, group="copilot", exit_on_error=False)
    def _run_question(self, question: str, stream: MarkdownStream, cancel: threading.Event) -> None:
        session = self._get_session()
        error: str | None = None
        if session is None:
            error = UNAVAILABLE.format(why=self._unavailable)
        else:
            try:
                # Read to the end even when cancelled: the session stops at the next
                # token and still writes "(stopped)" and the sources of the partial answer.
                for fragment in session.stream(question, cancel):
                    self.app.call_from_thread(stream.write, fragment)  # type: ignore[arg-type]  # as below
            except Exception as exc:  # noqa: BLE001 - shown in the chat instead of crashing the app
                error = f"**The copilot failed:** {getattr(exc, 'message', None) or exc}"
        answer = getattr(session, "last_answer", None) if session is not None else None
        # Ignored: Textual's `Callable[..., T | Awaitable[T]]` makes mypy solve T = Never for a coroutine.
        self.app.call_from_thread(self._finish, stream, answer, error, cancel.is_set())  # type: ignore[arg-type]

    async def _finish(self, stream: MarkdownStream, answer: Any, error: str | None, cancelled: bool) -> None:
        if error:
            await stream.write(f"\n\n{error}")
        if cancelled and "(stopped)" not in (getattr(answer, "text", "") or ""):
            await stream.write("\n\n*(cancelled)*")
        await stream.stop()
        self._cancel = None
        self.screen.ESCAPE_TO_MINIMIZE = None  # type: ignore[misc]  # back to the app's default
        # The answer itself ends with its sources list; this line only says who answered.
        meta = ""
        if answer is not None:
            total = (getattr(answer, "timings", None) or {}).get("total_s")
            n_sources = len(getattr(answer, "sources", None) or [])
            meta = (
                f"{getattr(answer, 'backend', '?')}"
                + (f" · {total:.1f}s" if total is not None else "")
                + f" · {n_sources} source{'s' if n_sources != 1 else ''}"
            )
        self.query_one("#cp-sources", Static).update(meta)
