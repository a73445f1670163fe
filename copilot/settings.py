"""The copilot's settings, read once from the ``[copilot]`` config section.

``CopilotSettings.from_config`` accepts the engine's ``Config`` (anything with
``section(name)``/``get(dotted)``) or a plain mapping, so the copilot stays usable in
tests and tools that build settings by hand. The fields and their defaults are not
declared here: ``CopilotSettings`` extends the ``[copilot]`` model that
``engine.config_model`` derives from config/default.toml (the single source of
defaults), adding only the account the copilot reads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from engine.config_model import model_class
from engine.device import parse_device  # light: never imports torch at module level
from engine.errors import UsageError

BACKENDS = ("auto", "offline", "transformers", "openai")
QUANTIZATIONS = ("auto", "nf4", "bf16", "fp32")
TOOL_CALLING = ("auto", "on", "off")


@dataclass(frozen=True)
class CopilotSettings(model_class("copilot")):  # type: ignore[misc]
    """Typed ``[copilot]`` settings (fields and defaults from config/default.toml) plus the account."""

    account: str = model_class("app")().account  # default.toml's app.account

    @classmethod
    def from_config(cls, config: Any) -> "CopilotSettings":
        """Build from a ``Config`` (``section("copilot")``), a mapping, or None."""
        section: Mapping[str, Any] = {}
        account = None
        if config is None:
            section = {}
        elif isinstance(config, CopilotSettings):
            return config
        elif hasattr(config, "section"):
            try:
                section = config.section("copilot")
            except Exception:  # a Config without the section: use defaults
                section = {}
            account = _account_of(config)
        elif isinstance(config, Mapping):
            section = config.get("copilot", config)  # whole tree or just the section
        known = {f.name for f in fields(cls)}
        values = {k: section[k] for k in section if k in known}
        if account and "account" not in values:
            values["account"] = account
        out = cls(**values)
        out.validate()
        return out

    def with_(self, **changes: Any) -> "CopilotSettings":
        return replace(self, **changes)

    def validate(self) -> None:
        from engine.errors import ConfigError

        for key in _CHECKS:
            problem = _CHECKS[key](getattr(self, key))
            if problem:
                raise ConfigError(f"copilot.{key} {problem}",
                                  hint=f"fix copilot.{key} in your config (see config/default.toml)")
        if self.context_tokens <= self.max_new_tokens:
            raise ConfigError(
                "copilot.context_tokens must exceed copilot.max_new_tokens",
                hint="e.g. context_tokens = 8192, max_new_tokens = 512")


def _account_of(config: Any) -> str | None:
    for key in ("app.account", "broker.account"):
        try:
            value = config.get(key)
        except Exception:
            continue
        if isinstance(value, str) and value:
            return value
    return None


def _one_of(allowed: tuple[str, ...]) -> Any:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}, got {value!r}"
    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be positive, got {value!r}"


def _device(value: Any) -> str | None:
    try:
        parse_device(value)
    except UsageError:
        return f"must be auto, cpu, cuda or cuda:N, got {value!r}"
    return None


_CHECKS = {"backend": _one_of(BACKENDS), "quantization": _one_of(QUANTIZATIONS),
           "tool_calling": _one_of(TOOL_CALLING), "device": _device,
           "context_tokens": _positive, "max_new_tokens": _positive, "timeout_s": _positive,
           "cache_size": lambda v: None if v >= 0 else f"must be zero or more, got {v!r}",
           "max_rows": _positive, "repetition_penalty": _positive}


def _register() -> None:
    """Let ``load_config`` reject a bad [copilot] value with the file and key named."""
    from engine.config import validator

    for key, check in _CHECKS.items():
        validator(f"copilot.{key}")(check)


_register()
