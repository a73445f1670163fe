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
from typing import Any, Callable, Iterator

from copilot.backends import BackendUnavailableError, LLMBackend, OfflineBackend, make_backend
from copilot.cache import AnswerCache
from copilot.history import load_history, save_turn
from copilot.prompt import Prompt, build_prompt, data_block
from copilot.render import (dedupe, enable_model_hint, help_text, render_results, render_sources,
                            trade_refusal)
from copilot.router import route
from copilot.settings import CopilotSettings
from copilot.tools import TOOLS, known_tickers, run_tool, store_as_of
from copilot.types import Answer, Citation, ToolResult

STOPPED = "\n\n_(stopped)_"


class CopilotSession:
    """One conversation with the copilot.

    Args:
        cursor_factory: returns a DuckDB connection/cursor to read the store (and to
            write ``copilot_messages``); called once per question, in the caller's thread.
        config: the app's ``Config`` (or a mapping / ``CopilotSettings``).
        backend: an explicit backend (tests, bench); default from ``[copilot] backend``.
        conversation_id: continue a stored conversation; default a new id.
    """

    def __init__(self, cursor_factory: Callable[[], Any], config: Any, *,
                 backend: LLMBackend | None = None, conversation_id: str | None = None) -> None:
        self.settings = CopilotSettings.from_config(config)
        self._config = config
        self._cursor_factory = cursor_factory
        self._backend = backend
        self.conversation_id = conversation_id or uuid.uuid4().hex
        self._resume = conversation_id is not None
        self.cache = AnswerCache(self.settings.cache_size)
        self.last_answer: Answer | None = None
        self._turns: list[tuple[str, str]] = []
        self._tickers: tuple[str, set[str]] = ("", set())
        self._lock = threading.Lock()

    # ---- public API ------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        """The answer writer, created on first use (may raise ModelNotFoundError)."""
        if self._backend is None:
            self._backend = make_backend(self.settings, self._config,
                                         tools=[spec.schema() for spec in TOOLS.values()])
        return self._backend

    def stream(self, question: str, cancel: threading.Event | None = None) -> Iterator[str]:
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
    def _stream(self, question: str, cancel: threading.Event | None) -> Iterator[str]:
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
                timings = {"tools_s": 0.0, "first_token_s": time.perf_counter() - t0,
                           "total_s": time.perf_counter() - t0, "cached": 1.0}
                self._finish(con, question, cached.text, cached.text, cached.sources,
                             cached.backend, timings, cache_key=None)
                return
            r = route(question, self._known(con, as_of))
            results = self._run_routed(con, r.call_list(), question)
            tools_s = time.perf_counter() - t0
            parts: list[str] = []
            first: list[float] = []
            extra: list[ToolResult] = []
            used = backend.name

            def emit(chunk: str) -> str:
                if not first:
                    first.append(time.perf_counter() - t0)
                parts.append(chunk)
                return chunk

            def sources_now() -> list[Citation]:
                return dedupe(c for res in results + extra for c in res.all_citations())

            def timings_now(cancelled: bool) -> dict[str, float]:
                out = {"tools_s": tools_s, "first_token_s": first[0] if first else 0.0,
                       "total_s": time.perf_counter() - t0, "cached": 0.0,
                       "cancelled": 1.0 if cancelled else 0.0}
                if used == backend.name:
                    out.update({k: float(v) for k, v in backend.stats.items()
                                if k in ("tokens", "tokens_per_s", "prompt_tokens")})
                return out

            try:
                if r.kind == "trade":
                    used = "refusal"
                    yield emit(trade_refusal(r.tickers))
                    if results:
                        yield emit("\n\n" + render_results(results, self.settings.max_rows))
                elif r.kind == "help":
                    used = "help"
                    yield emit(help_text())
                else:
                    try:
                        for chunk in self._generate(backend, con, question, results, extra, cancel):
                            yield emit(chunk)
                    except BackendUnavailableError as exc:
                        if self.settings.backend != "auto":
                            raise
                        used = "offline"
                        yield emit(f"\n\n_The model backend failed ({exc.message}); answering "
                                   "from the store instead._\n\n")
                        yield emit(render_results(results, self.settings.max_rows))
                cancelled = cancel is not None and cancel.is_set()
                if cancelled:
                    yield emit(STOPPED)
                body = "".join(parts)
                sources = sources_now()
                tail = render_sources(sources, required=r.kind == "tools")
                yield emit(tail)
            except GeneratorExit:  # the caller stopped reading (e.g. the pane on escape)
                body = "".join(parts) + STOPPED
                sources = sources_now()
                tail = render_sources(sources, required=r.kind == "tools")
                self._finish(con, question, body + tail, body, sources, used,
                             timings_now(True), cache_key=None)
                raise
            self._finish(con, question, body + tail, body, sources, used,
                         timings_now(cancelled), cache_key=None if cancelled else key)

    def _run_routed(self, con: Any, calls: list[tuple[str, dict[str, Any]]],
                    question: str) -> list[ToolResult]:
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

    def _generate(self, backend: LLMBackend, con: Any, question: str, results: list[ToolResult],
                  extra: list[ToolResult], cancel: threading.Event | None) -> Iterator[str]:
        if not backend.generative:
            yield from backend.generate(Prompt(question, results), cancel)
            return
        backend.load()
        prompt = build_prompt(question, results, self._turns[-self.settings.history_turns:]
                              if self.settings.history_turns else [],
                              count_tokens=backend.count_tokens,
                              context_tokens=backend.context_tokens,
                              max_new_tokens=self.settings.max_new_tokens,
                              max_rows=self.settings.max_rows)

        def call_tool(name: str, args: dict[str, Any]) -> str:
            res = run_tool(con, self.settings.account, name, args)
            extra.append(res)
            return data_block([res], self.settings.max_rows)

        yield from backend.generate(prompt, cancel,
                                    call_tool if backend.supports_tools else None)

    def _finish(self, con: Any, question: str, text: str, body: str, sources: list[Citation],
                backend: str, timings: dict[str, float], cache_key: Any) -> None:
        answer = Answer(text=text, sources=list(sources), backend=backend, timings=timings,
                        question=question)
        if cache_key is not None:
            self.cache.put(cache_key, answer)
        self._turns.append((question, body))
        if self.settings.persist:
            save_turn(con, self.conversation_id, question, text, list(sources), backend)
        self.last_answer = answer

    def _known(self, con: Any, as_of: str) -> set[str]:
        if self._tickers[0] != as_of:
            self._tickers = (as_of, known_tickers(con))
        return self._tickers[1]


def _pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pending: str | None = None
    for m in messages:
        if m["role"] == "user":
            pending = m["content"]
        elif m["role"] == "assistant" and pending is not None:
            out.append((pending, m["content"]))
            pending = None
    return out


__all__ = ["CopilotSession", "Answer", "Citation", "OfflineBackend", "enable_model_hint"]
