"""One question's answer in the making: the text streamed through the number check,
first-token and decode timings, and the sources the answer actually used.

``CopilotSession`` creates a ``Turn`` per question and writes the answer through
it; the Turn decides nothing about routing or backends. Its ``checks()`` and
``close()`` give what ``--json``, the Sources list and ``copilot_checks`` show.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from copilot.checks import CheckReport, NumberGuard, check_text, used_sources
from copilot.render import dedupe, render_sources
from copilot.types import Citation, ToolResult

STOPPED = "\n\n_(stopped)_"


class Turn:
    """Text, timings and checks of one answer (see module docstring)."""

    def __init__(
        self, question: str, t0: float, backend: Any, results: list[ToolResult], extra: list[ToolResult], route: Any
    ) -> None:
        self.question = question
        self.t0 = t0
        self.backend = backend
        self.results = results
        self.extra = extra
        self.route = route
        self.used = backend.name
        self.tools_s = 0.0
        self.guard = NumberGuard(results, question, extra=extra)
        self.guarded = True
        self.looped = False
        self.trailer = ""
        self.model_text = ""
        self.parts: list[str] = []
        self._first: float | None = None
        self._finished = False
        self._pending = ""
        self._body = ""

    # ---- writing ---------------------------------------------------------------------
    def emit(self, chunk: str) -> str:
        if chunk and self._first is None:
            self._first = time.perf_counter() - self.t0
        self.parts.append(chunk)
        return chunk

    def write(self, body: Iterator[str]) -> Iterator[str]:
        """Emit ``body``'s chunks, numbers checked (and rewritten) until the check ends."""
        for chunk in body:
            if self._pending:
                yield self.emit(self._pending)
                self._pending = ""
            if self.guarded and not self._finished:
                self.model_text += chunk
                out = self.guard.feed(chunk)
                if out:
                    yield self.emit(out)
            else:
                yield self.emit(chunk)
        if self.guarded and not self._finished:
            self.guard_finish()
        if self._pending:
            yield self.emit(self._pending)
            self._pending = ""

    def guard_finish(self) -> CheckReport:
        """End the check: the held-back tail is emitted before any later text."""
        if not self._finished:
            self._pending += self.guard.finish()
            self._finished = True
        return self.guard.report

    # ---- results ---------------------------------------------------------------------
    def close(self, required: bool) -> tuple[str, list[Citation], list[dict[str, Any]]]:
        """The trailer and Sources text, the citations used and their row values."""
        self._body = "".join(self.parts)
        rows: list[dict[str, Any]] = []
        every = dedupe(c for res in self.results + self.extra for c in res.all_citations())
        cites = every
        if self.guarded:
            final = check_text(self._body, self.results + self.extra, self.question)
            pairs = used_sources(final, self.guard.evidence)
            if pairs:
                cites = [c for c, _ in pairs]
                rows = [{**c.to_dict(), "rows": r} for c, r in pairs]
        return self.trailer + render_sources(cites, required=required), cites, rows

    def checks(self) -> dict[str, Any]:
        out = (
            self.guard.report.to_dict()
            if self.guarded
            else {"numbers": 0, "verified": 0, "unverified": 0, "unverified_values": [], "action": "none"}
        )
        out["looped"] = self.looped
        return out

    def timings(self, cancelled: bool) -> dict[str, float]:
        """Seconds and tokens: first_token_s is when the user saw text; model figures
        (prompt tokens, decode tokens/s counting tokens) come from the backend."""
        out = {
            "tools_s": self.tools_s,
            "first_token_s": self._first or 0.0,
            "total_s": time.perf_counter() - self.t0,
            "cached": 0.0,
            "cancelled": 1.0 if cancelled else 0.0,
        }
        if self.used == self.backend.name and self.backend.generative:
            stats = self.backend.stats
            for key in ("prompt_tokens", "tokens", "decode_tokens_per_s", "tool_rounds"):
                if key in stats:
                    out[key] = float(stats[key])
            if "first_token_s" in stats:
                out["model_first_token_s"] = float(stats["first_token_s"])
            out["tokens_per_s"] = float(stats.get("decode_tokens_per_s", 0.0))
        return out

    def fed_back(self, cancelled: bool) -> bool:
        """May this answer go back to the model as history?"""
        kind = self.route.kind if self.route is not None else "tools"  # None: from the cache
        return not cancelled and not self.looped and kind == "tools" and self.guard.report.action != "fallback"

    def body(self) -> str:
        return self._body or "".join(self.parts)
