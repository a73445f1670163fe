"""The ``LLMBackend`` interface every answer writer implements, and its errors.

A backend turns a ``Prompt`` (chat messages plus the routed tool results) into a
stream of Markdown chunks. Backends that support function calling receive a
``call_tool`` callback for extra read-only look-ups; they never see a cursor, so
they cannot reach the store (or the broker) any other way.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from copilot.prompt import Prompt, approx_tokens
from copilot.settings import CopilotSettings
from engine.errors import PmaxError, UsageError

# call_tool(name, arguments) -> the tool's rows as text for the model
ToolCaller = Callable[[str, dict[str, Any]], str]


class ModelNotFoundError(UsageError):
    """The configured model's weights are not on this machine."""


class BackendUnavailableError(PmaxError):
    """A model backend cannot answer right now (server down, generation failed)."""


class LLMBackend(ABC):
    """Writes answers. Subclasses are small; heavy imports happen in ``load``."""

    name: ClassVar[str]
    generative: ClassVar[bool] = True  # False: renders tool rows, writes no prose
    supports_tools: bool = False  # function calling (a backend may decide on load)

    def __init__(self, settings: CopilotSettings) -> None:
        self.settings = settings
        self._load_lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        """Load weights or check the server once; later calls return at once."""
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self) -> None:
        """Subclasses: the slow part of ``load``."""

    @property
    def context_tokens(self) -> int:
        return self.settings.context_tokens

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def tool_schema_tokens(self) -> int:
        """Prompt tokens the offered tool schemas take (0 when none are offered)."""
        return 0

    @abstractmethod
    def generate(
        self, prompt: Prompt, cancel: threading.Event | None = None, call_tool: ToolCaller | None = None
    ) -> Iterator[str]:
        """Yield Markdown chunks; stop early (without raising) when ``cancel`` is set."""

    def hint(self) -> Iterator[str]:
        """A note after an answer written without a model (offline only)."""
        return iter(())

    def status(self) -> dict[str, Any]:
        """What ``pmax copilot status`` shows: backend, model, device, memory."""
        return {"backend": self.name, "model": None, "device": None, "memory": {}, "loaded": self._loaded}

    @property
    def stats(self) -> dict[str, float]:
        """Numbers about the last generation (tokens, tokens_per_s) where known."""
        return getattr(self, "_stats", {})


def process_memory() -> dict[str, float]:
    """Resident memory of this process in MiB (Linux /proc; empty elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return {"process_rss_mib": round(int(line.split()[1]) / 1024, 1)}
    except OSError:
        pass
    return {}
