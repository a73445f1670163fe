"""The offline backend: no model; the routed tool rows rendered as a Markdown answer.

It is the default when no model is available, so ``pmax ask`` works on any machine;
every number it prints is a stored value, formatted by ``copilot.render``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from copilot.backends.base import LLMBackend, ToolCaller, process_memory
from copilot.prompt import Prompt
from copilot.render import enable_model_hint
from copilot.sentences import render_results


class OfflineBackend(LLMBackend):
    """Renders tool results; ``reason`` says why no model is in use (shown once)."""

    name = "offline"
    generative = False

    def __init__(self, settings: Any, reason: str = "") -> None:
        super().__init__(settings)
        self.reason = reason
        self._hinted = False

    def generate(
        self, prompt: Prompt, cancel: threading.Event | None = None, call_tool: ToolCaller | None = None
    ) -> Iterator[str]:
        body = render_results(prompt.results, self.settings.max_rows)
        # Stream paragraph by paragraph so the pane fills the same way as with a model.
        for i, part in enumerate(body.split("\n\n")):
            if cancel is not None and cancel.is_set():
                return
            yield ("\n\n" if i else "") + part

    def hint(self) -> Iterator[str]:
        """The "no model" note, once per backend (one per session): never repeated."""
        if not self._hinted:
            self._hinted = True
            yield "\n\n" + enable_model_hint(self.reason)

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": None,
            "device": "none (no generation)",
            "memory": process_memory(),
            "loaded": True,
            "note": self.reason or None,
        }
