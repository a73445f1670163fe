"""What ``pmax copilot status`` reports: the backend that would answer, and for
``auto`` every candidate it tried and why it was passed over; plus the number-check
rate stored in ``copilot_checks``. Loads no model.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from copilot.settings import CopilotSettings

if TYPE_CHECKING:
    from engine.store.connection import Queryable


def status_report(settings: CopilotSettings, config: Any = None) -> dict[str, Any]:
    """Backend status; ``error`` is set when the configured backend cannot answer."""
    from copilot.backends import make_backend
    from copilot.backends.base import ModelNotFoundError
    from copilot.backends.hf_loading import resolve_model
    from copilot.backends.openai_backend import OpenAIBackend

    try:
        info = dict(make_backend(settings, config).status())
    except ModelNotFoundError as exc:
        info = {
            "backend": settings.backend,
            "model": settings.model,
            "available": False,
            "error": exc.message,
            "hint": exc.hint,
        }
    if settings.backend == "transformers" and "error" not in info:
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if settings.model.endswith(".gguf") and importlib.util.find_spec("gguf") is None:
            missing.append("gguf")
        if missing:
            info["error"] = f"missing Python packages: {', '.join(missing)}"
            info["hint"] = f"pip install {' '.join(missing)}"
    if settings.backend == "auto":
        tried = []
        try:
            resolve_model(settings.model, False)
            tried.append(f"transformers: {settings.model} is available")
        except ModelNotFoundError as exc:
            tried.append(f"transformers: {exc.message}")
        if settings.openai_model:
            why = OpenAIBackend(settings).unreachable(2.0)
            tried.append(f"openai: {why}" if why else f"openai: {settings.openai_base_url} answers")
        else:
            tried.append("openai: not tried ([copilot] openai_model is empty)")
        info["auto_tried"] = tried
        info.pop("error", None)  # auto always answers (offline at worst)
    info["configured_backend"] = settings.backend
    info["allow_download"] = settings.allow_download
    return info


def add_check_rate(info: dict[str, Any], con: Queryable) -> None:
    """Attach the stored number-check rate per backend (skipped before migration 50)."""
    from copilot.history import check_rate

    try:
        info["number_checks"] = check_rate(con)
    except Exception as exc:  # noqa: BLE001 - an old store without copilot_checks
        info["number_checks"] = {"note": f"not available: {exc}".split("\n")[0]}
