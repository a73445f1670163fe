"""LLM backends behind one interface, and the choice between them.

``make_backend`` reads ``[copilot] backend``: ``offline``, ``transformers`` and
``openai`` are taken as asked (a missing model raises ``ModelNotFoundError`` at
once); ``auto`` picks a cached local model, else a configured local server that
answers, else the offline backend, which says how to enable a model.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from copilot.backends.base import BackendUnavailableError, LLMBackend, ModelNotFoundError, ToolCaller
from copilot.backends.offline import OfflineBackend
from copilot.settings import CopilotSettings


def _device_pref(settings: CopilotSettings, config: Any) -> str:
    if settings.device != "auto" or config is None or not hasattr(config, "get"):
        return settings.device
    try:
        value = config.get("device.device", "auto")
    except Exception:  # noqa: BLE001 - any config-like object: its own get() may raise anything
        return "auto"
    return value if isinstance(value, str) and value else "auto"


def make_backend(
    settings: CopilotSettings, config: Any = None, tools: list[dict[str, Any]] | None = None
) -> LLMBackend:
    """The backend ``settings.backend`` names (``auto`` resolved as described above)."""
    from copilot.backends.hf_loading import model_available, resolve_model
    from copilot.backends.openai_backend import OpenAIBackend
    from copilot.backends.transformers_backend import TransformersBackend

    choice = settings.backend
    if choice == "offline":
        return OfflineBackend(settings, reason='[copilot] backend = "offline"')
    if choice == "transformers":
        resolve_model(settings.model, settings.allow_download)  # fail fast, before torch
        return TransformersBackend(settings, device=_device_pref(settings, config), tools=tools)
    if choice == "openai":
        return OpenAIBackend(settings, tools=tools)
    have_torch = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))
    if have_torch and model_available(settings.model):
        return TransformersBackend(settings, device=_device_pref(settings, config), tools=tools)
    if settings.openai_model:
        server = OpenAIBackend(settings, tools=tools)
        if server.ping():
            return server
    reason = f"model {settings.model!r} is not on this machine" if settings.model else "no model configured"
    return OfflineBackend(settings, reason=reason)


__all__ = [
    "LLMBackend",
    "OfflineBackend",
    "ModelNotFoundError",
    "BackendUnavailableError",
    "ToolCaller",
    "make_backend",
]
