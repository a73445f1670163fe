"""Chat sessions: the one object the TUI pane and ``pmax ask`` talk to.

``CopilotSession.stream`` routes a question to read-only tools, lets the configured
backend write the answer (or renders the rows offline), appends the sources list,
caches the answer under the store's as-of fingerprint and saves the turn in
``copilot_messages``. Trade requests are answered by a fixed refusal before any
model sees them. Safe to call from a Textual thread worker: each call takes a
fresh cursor from ``cursor_factory`` in the calling thread, and calls are
serialised by a lock.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from copilot.backends import BackendUnavailableError, LLMBackend, OfflineBackend, make_backend
from copilot.cache import AnswerCache
from copilot.dates import store_sessions
from copilot.history import load_history, save_turn
from copilot.prompt import Prompt, build_prompt, data_block
from copilot.render import enable_model_hint, help_text, trade_refusal, uncovered
from copilot.router import route
from copilot.sentences import render_results
from copilot.settings import CopilotSettings
from copilot.tools import TOOLS, known_tickers, run_tool, store_as_of
from copilot.turn import STOPPED, Turn
from copilot.types import Answer, Citation, ToolResult

if TYPE_CHECKING:
    from engine.store.connection import Queryable


class CopilotSession:
    """One conversation with the copilot.

    Args:
        cursor_factory: returns a DuckDB connection/cursor to read the store (and to
            write ``copilot_messages``); called once per question, in the caller's thread.
        config: the app's ``Config`` (or a mapping / ``CopilotSettings``).
        backend: an explicit backend (tests, bench); default from ``[copilot] backend``.
        conversation_id: continue a stored conversation; default a new id.
    """

    def __init__(
        self,
        cursor_factory: Callable[[], Any],
        config: Any,
        *,
        backend: LLMBackend | None = None,
        conversation_id: str | None = None,
    ) -> None:
        self.settings = CopilotSettings.from_config(config)
        self._config = config
        self._cursor_factory = cursor_factory
        self._backend = backend
        self.conversation_id = conversation_id or uuid.uuid4().hex
        self._resume = conversation_id is not None
        self.cache = AnswerCache(self.settings.cache_size)
        self.last_answer: Answer | None = None
        self.last_results: list[ToolResult] = []  # the rows the last answer was given
        self._turns: list[tuple[str, str]] = []
        self._tickers: tuple[str, set[str], list[Any]] = ("", set(), [])
        self._lock = threading.Lock()

    # ---- public API ------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        """The answer writer, created on first use (may raise ModelNotFoundError)."""
        if self._backend is None:
            self._backend = make_backend(self.settings, self._config, tools=[spec.schema() for spec in TOOLS.values()])
        return self._backend

    def stream(self, question: str, cancel: threading.Event | None = None) -> Generator[str, None, None]:
        """Yield the answer as Markdown chunks; ``last_answer`` is set when it ends.

        Setting ``cancel`` stops generation at the next token; the partial answer is
        kept (marked stopped) but not cached. Consume or close the iterator.
        """
        return self._stream(question, cancel)

    def ask(self, question: str) -> Answer:
        """Answer without streaming."""
        for _ in self.stream(question):
            pass
        assert self.last_answer is not None
        return self.last_answer

    def history(self) -> list[dict[str, Any]]:
        """This conversation's stored messages (empty when nothing was saved)."""
        return load_history(self._cursor_factory(), self.conversation_id)

    def status(self) -> dict[str, Any]:
        """Backend, model, device and memory (does not load a model)."""
        out = dict(self.backend.status())
        out["configured_backend"] = self.settings.backend
        out["cache"] = {"answers": len(self.cache), "hits": self.cache.hits}
        return out

    # ---- the pipeline ----------------------------------------------------------------
    def _stream(self, question: str, cancel: threading.Event | None) -> Generator[str, None, None]:
        from engine.errors import InputError

        question = question.strip()
        if not question:
            raise InputError("the question is empty", hint='ask e.g. "What is our risk?"')
        with self._lock:
            t0 = time.perf_counter()
            con = self._cursor_factory()
            backend = self.backend
            if self._resume:
                self._turns = _pairs(load_history(con, self.conversation_id))
                self._resume = False
            as_of = store_as_of(con)
            key = self.cache.key(backend.name, self.settings.account, question, as_of)
            cached = self.cache.get(key)
            if cached is not None:
                yield cached.text
                turn = Turn(question, t0, backend, [], [], None)
                turn.used = cached.backend
                turn.parts = [cached.text.split("\n\n**Sources**")[0]]
                turn.guard.report.action = cached.checks.get("action", "verified")
                turn.looped = bool(cached.checks.get("looped"))
                self._finish(
                    con,
                    turn,
                    cached.text,
                    cached.sources,
                    {
                        "tools_s": 0.0,
                        "first_token_s": time.perf_counter() - t0,
                        "total_s": time.perf_counter() - t0,
                        "cached": 1.0,
                    },
                    cached.checks,
                    cached.source_rows,
                    cache_key=None,
                )
                return
            known, sessions = self._calendar(con, as_of)
            r = route(question, known, sessions)
            results = self._run_routed(con, r.call_list(), question)
            turn = Turn(question, t0, backend, results, [], r)
            turn.tools_s = time.perf_counter() - t0
            try:
                yield from turn.write(self._body(turn, con, cancel))
                cancelled = cancel is not None and cancel.is_set()
                if cancelled:
                    yield turn.emit(STOPPED)
                text, sources, rows = turn.close(required=r.kind == "tools")
                yield turn.emit(text)
            except GeneratorExit:  # the caller stopped reading (e.g. the pane on escape)
                turn.emit(STOPPED)
                text, sources, rows = turn.close(required=r.kind == "tools")
                turn.emit(text)
                self._finish(
                    con, turn, "".join(turn.parts), sources, turn.timings(True), turn.checks(), rows, cache_key=None
                )
                raise
            self._finish(
                con,
                turn,
                "".join(turn.parts),
                sources,
                turn.timings(cancelled),
                turn.checks(),
                rows,
                cache_key=None if cancelled else key,
            )

    def _body(self, turn: Turn, con: Queryable, cancel: threading.Event | None) -> Iterator[str]:
        """The answer's text before its sources: refusal, help, uncovered, or generated."""
        r, results, backend = turn.route, turn.results, turn.backend
        assert r is not None
        if r.kind == "trade":
            turn.used = "refusal"
            yield trade_refusal(r.tickers)
            if results:
                yield "\n\n" + render_results(results, self.settings.max_rows)
            return
        if r.kind in ("help", "uncovered"):
            turn.used = r.kind
            turn.guarded = False
            yield help_text() if r.kind == "help" else uncovered(r.note)
            if r.kind == "uncovered" and not backend.generative:
                yield from backend.hint()
            return
        try:
            yield from self._generate(backend, con, turn.question, results, turn.extra, cancel)
        except BackendUnavailableError as exc:
            if self.settings.backend != "auto":
                raise
            turn.used = "offline"
            yield (f"\n\n_The model backend failed ({exc.message}); answering from the store instead._\n\n")
            yield render_results(results, self.settings.max_rows)
            return
        if not backend.generative:
            turn.guard_finish()  # the note below is ours, not checked
            yield from backend.hint()
            return
        if cancel is not None and cancel.is_set():
            return
        turn.looped = bool(backend.stats.get("looped"))
        report = turn.guard_finish()
        if report.needs_fallback or turn.looped or not turn.model_text.strip():
            report.action = "fallback"
            why = (
                "the model repeated itself and was stopped"
                if turn.looped
                else "the model wrote no answer"
                if not turn.model_text.strip()
                else f"{len(report.unverified)} of its {report.numbers} numbers are not in the store"
            )
            yield (
                f"\n\n**From the store** (the model's answer is not shown as fact: {why}):"
                "\n\n" + render_results(results + turn.extra, self.settings.max_rows)
            )
        footer = report.footer()
        if footer:
            turn.trailer = "\n\n" + footer

    def _run_routed(self, con: Queryable, calls: list[tuple[str, dict[str, Any]]], question: str) -> list[ToolResult]:
        """Run the routed tools; a ticker's forecasts follow its signal's horizon unless
        the question names one, so "why?" answers stay on the horizon that decided."""
        results: list[ToolResult] = []
        horizons: dict[str, Any] = {}
        explicit = re.search(r"horizon|\bday|\bweek|\bmonth|\bsessions?\b", question, re.IGNORECASE)
        for name, args in calls:
            if name == "forecasts" and not explicit and args.get("ticker") in horizons:
                args = {**args, "horizon": horizons[args["ticker"]]}
            res = run_tool(con, self.settings.account, name, args)
            if name == "latest_signal" and res.rows and "ticker" in res.args:
                rec = res.records()[0]
                if rec.get("horizon") is not None:
                    horizons[rec["ticker"]] = int(rec["horizon"])
            results.append(res)
        return results

    def _generate(
        self,
        backend: LLMBackend,
        con: Queryable,
        question: str,
        results: list[ToolResult],
        extra: list[ToolResult],
        cancel: threading.Event | None,
    ) -> Iterator[str]:
        if not backend.generative:
            yield from backend.generate(Prompt(question, results), cancel)
            return
        backend.load()
        prompt = build_prompt(
            question,
            results,
            self._turns[-self.settings.history_turns :] if self.settings.history_turns else [],
            count_tokens=backend.count_tokens,
            context_tokens=backend.context_tokens,
            max_new_tokens=self.settings.max_new_tokens,
            max_rows=self.settings.max_rows,
            reserve_tokens=backend.tool_schema_tokens(),
        )
        prompt.max_new_tokens = self.settings.max_new_tokens  # this session's budget decides

        def call_tool(name: str, args: dict[str, Any]) -> str:
            res = run_tool(con, self.settings.account, name, args)
            extra.append(res)
            return data_block([res], self.settings.max_rows)

        yield from backend.generate(prompt, cancel, call_tool if backend.supports_tools else None)

    def _finish(
        self,
        con: Queryable,
        turn: Turn,
        text: str,
        sources: list[Citation],
        timings: dict[str, float],
        checks: dict[str, Any],
        source_rows: list[dict[str, Any]],
        cache_key: Any,
    ) -> None:
        answer = Answer(
            text=text,
            sources=list(sources),
            backend=turn.used,
            timings=timings,
            question=turn.question,
            checks=checks,
            source_rows=source_rows,
        )
        if cache_key is not None:
            self.cache.put(cache_key, answer)
        self.last_results = turn.results + turn.extra
        fed_back = turn.fed_back(timings.get("cancelled", 0.0) > 0)
        if fed_back:
            self._turns.append((turn.question, turn.body()))
        if self.settings.persist:
            save_turn(
                con,
                self.conversation_id,
                turn.question,
                text,
                list(sources),
                turn.used,
                checks if turn.guarded else None,
                fed_back,
            )
        self.last_answer = answer

    def _calendar(self, con: Queryable, as_of: str) -> tuple[set[str], list[Any]]:
        """Known tickers and stored sessions, re-read when the store changes."""
        if self._tickers[0] != as_of:
            self._tickers = (as_of, known_tickers(con), store_sessions(con, self.settings.account))
        return self._tickers[1], self._tickers[2]


def _pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs fit to send back to a model (loops and fallbacks left out)."""
    out: list[tuple[str, str]] = []
    pending: str | None = None
    for m in messages:
        if m["role"] == "user":
            pending = m["content"]
        elif m["role"] == "assistant" and pending is not None:
            if m.get("fed_back", True):
                out.append((pending, m["content"].split("\n\n**Sources")[0]))
            pending = None
    return out


__all__ = ["CopilotSession", "Answer", "Citation", "OfflineBackend", "enable_model_hint"]
