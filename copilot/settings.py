"""The copilot's settings, read once from the ``[copilot]`` config section.

``CopilotSettings.from_config`` accepts the engine's ``Config`` (anything with
``section(name)``/``get(dotted)``) or a plain mapping, so the copilot stays usable in
tests and tools that build settings by hand. The fields and their defaults are not
declared here: ``CopilotSettings`` extends the ``[copilot]`` model that
``engine.config_model`` derives from config/default.toml (the single source of
defaults), adding only the account the copilot reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.config_model import model_class
from engine.config_rules import RULES


@dataclass(frozen=True)
class CopilotSettings(model_class("copilot")):  # type: ignore[misc]
    """Typed ``[copilot]`` settings (fields and defaults from config/default.toml) plus the account."""

    account: str = model_class("app")().account  # default.toml's app.account

    @classmethod
    def from_config(cls, config: Any) -> CopilotSettings:
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
            except Exception:  # noqa: BLE001 - a Config without the section: use defaults
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

    def with_(self, **changes: Any) -> CopilotSettings:
        return replace(self, **changes)

    def validate(self) -> None:
        """Hand-built settings meet the same rules as the config file's (engine.config_rules)."""
        from engine.errors import ConfigError

        for key in (f.name for f in fields(self)):  # the rules load_config applies
            check = RULES.get(f"copilot.{key}")
            problem = check(getattr(self, key)) if check is not None else None
            if problem:
                raise ConfigError(
                    f"copilot.{key} {problem}", hint=f"fix copilot.{key} in your config (see config/default.toml)"
                )
        if self.context_tokens <= self.max_new_tokens:
            raise ConfigError(
                "copilot.context_tokens must exceed copilot.max_new_tokens",
                hint="e.g. context_tokens = 8192, max_new_tokens = 512",
            )


def _account_of(config: Any) -> str | None:
    for key in ("app.account", "broker.account"):
        try:
            value = config.get(key)
        except Exception:  # noqa: BLE001 - any config-like object: its own get() may raise anything
            continue
        if isinstance(value, str) and value:
            return value
    return None
