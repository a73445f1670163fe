"""Settings: load, merge and validate pmax's configuration, once, at load.

`config/default.toml` is the schema: every key that exists there is a setting, its
default fixes the setting's type, and `engine.config_model` derives one frozen,
typed dataclass per table from it. Layers merge in this order, later winning: the
defaults, the user file (`~/.config/pmax/config.toml` or `--config`), the
environment (`PMAX_<SECTION>__<KEY>`, nested tables `PMAX_FORECAST__GARCH__DIST`)
and command-line overrides. Then every rule in `engine.config_rules` runs. An
unknown key, an unknown `PMAX_…` variable, a value of the wrong type or one that
breaks a rule raises `ConfigError` naming the file or variable and the key path;
secrets are never echoed. Tables whose default is empty (`[keymap]`) accept any key
with a string value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.config_model import (
    DEFAULT_CONFIG_PATH,
    REPO_ROOT,
    build_model,
    deep_copy,
    is_open_table,
    is_secret,
    leaf_keys,
    load_defaults,
)
from engine.config_rules import check_values
from engine.errors import ConfigError, UsageError

__all__ = [
    "Config",
    "Section",
    "load_config",
    "load_defaults",
    "user_config_path",
    "user_data_dir",
    "REPO_ROOT",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "EXTRA_ENV_VARS",
    "validator",
]

ENV_PREFIX = "PMAX_"
#: `PMAX_…` variables that are not settings (anything else must name a setting).
EXTRA_ENV_VARS = {"PMAX_DEBUG": "print a traceback on an internal error"}
DEFAULTS_ORIGIN = "config/default.toml"

Validator = Callable[[Any], "str | None"]
_VALIDATORS: dict[str, Validator] = {}


def validator(key: str) -> Callable[[Validator], Validator]:
    """Add an extra check for one dotted key (kept for callers; `config_rules.RULES` holds the rules)."""

    def register(fn: Validator) -> Validator:
        _VALIDATORS[key] = fn
        return fn

    return register


def user_config_path() -> Path:
    """Where the user's own config file lives (XDG_CONFIG_HOME honoured)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pmax" / "config.toml"


def user_data_dir() -> Path:
    """Where pmax keeps its database by default (XDG_DATA_HOME honoured)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pmax"


class Section(Mapping[str, Any]):
    """A read-only view of one table's typed model, with attribute and key access."""

    def __init__(self, name: str, model: Any) -> None:
        self._name = name
        self._model = model

    def _value(self, key: str) -> Any:
        if isinstance(self._model, dict):
            return self._model[key]
        if key not in self._keys():
            raise KeyError(key)
        value = getattr(self._model, key)
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            return Section(f"{self._name}.{key}", value)
        return list(value) if isinstance(value, list) else value

    def _keys(self) -> list[str]:
        if isinstance(self._model, dict):
            return list(self._model)
        return [f.name for f in dataclasses.fields(self._model)]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._value(key)
        except KeyError:
            raise AttributeError(f"config section [{self._name}] has no key {key!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._value(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @property
    def model(self) -> Any:
        """The frozen dataclass behind this section."""
        return self._model

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._model!r})"


class Config:
    """The merged, validated settings; read-only. `cfg.forecast.level`, `cfg.get("a.b")`."""

    def __init__(
        self, values: dict[str, Any], user_path: Path | None, origins: Mapping[str, str] | None = None
    ) -> None:
        self._values = values
        self.user_path = user_path
        self.origins: dict[str, str] = dict(origins or {})
        self._models = {name: (dict(v) if is_open_table(name) else build_model(name, v)) for name, v in values.items()}

    def __getattr__(self, name: str) -> Section:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return Section(name, self._models[name])
        except KeyError:
            raise AttributeError(f"config has no section [{name}]") from None

    def section(self, name: str) -> Section:
        return getattr(self, name)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self._values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return deep_copy(node) if isinstance(node, dict) else (list(node) if isinstance(node, list) else node)

    def to_dict(self) -> dict[str, Any]:
        return deep_copy(self._values)

    def public_dict(self) -> dict[str, Any]:
        """The settings with every secret blanked: safe to hash, store or log."""
        values = deep_copy(self._values)
        for dotted in leaf_keys():
            if is_secret(dotted):
                node = values
                *parents, key = dotted.split(".")
                for part in parents:
                    node = node[part]
                node[key] = "<set>" if node[key] else ""
        return values

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "override") -> Config:
        """A new Config with dotted-key overrides applied and validated."""
        values = deep_copy(self._values)
        origins = dict(self.origins)
        defaults = load_defaults()
        for dotted, raw in overrides.items():
            _set_dotted(values, defaults, dotted, raw, source, parse_strings=False)
            origins[dotted] = source
        _validate(values, origins)
        return Config(values, self.user_path, origins)


def load_config(
    path: Path | str | None = None, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Load defaults < user file < environment < overrides, strictly, and check every rule.

    Args:
        path: an explicit config file (must exist); None means the user file if any.
        env: the environment to read `PMAX_…` variables from (default os.environ).
        overrides: dotted keys set from command-line flags.
    """
    defaults = load_defaults()
    values = deep_copy(defaults)
    origins: dict[str, str] = {}
    user_path = Path(path).expanduser() if path else user_config_path()
    if path and not user_path.is_file():
        raise ConfigError(f"config file {user_path} does not exist", "check the --config path")
    if user_path.is_file():
        user = _read_toml(user_path)
        _merge(values, defaults, user, str(user_path), "", origins)
    environ = os.environ if env is None else env
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in EXTRA_ENV_VARS:
            continue
        dotted = _env_key(name)
        source = f"environment variable {name}"
        _set_dotted(values, defaults, dotted, raw, source, parse_strings=True)
        origins[dotted] = source
    for dotted, raw in (overrides or {}).items():
        _set_dotted(values, defaults, dotted, raw, "command line", parse_strings=False)
        origins[dotted] = "command line"
    _validate(values, origins)
    return Config(values, user_path, origins)


def check_until(config: Config, until: dt.date | None) -> None:
    """UsageError when a replay's `--until` falls before its first session (`replay.start`):
    such a run or sweep would do nothing, so it is refused before any database is opened."""
    if until is not None and until < config.replay.start:
        raise UsageError(
            f"--until {until} is before the replay start {config.replay.start}",
            "pass a later --until, or set [replay] start earlier",
        )


def env_name(dotted: str) -> str:
    """The environment variable that sets a dotted key (forecast.garch.dist -> PMAX_FORECAST__GARCH__DIST)."""
    return ENV_PREFIX + "__".join(part.upper() for part in dotted.split("."))


def _env_key(name: str) -> str:
    """The dotted key a `PMAX_…` variable sets; ConfigError with a suggestion if none."""
    dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
    parent = dotted.rpartition(".")[0]
    if dotted in leaf_keys() or (parent and is_open_table(parent)):
        return dotted
    known = [env_name(k) for k in leaf_keys() if not is_open_table(k)] + list(EXTRA_ENV_VARS)
    close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "settings are PMAX_<SECTION>__<KEY>, e.g. PMAX_REPLAY__START"
    raise ConfigError(
        f"environment variable {name} is not a pmax setting (unknown key {dotted})", f"{hint} (or unset it)"
    )


def _validate(values: dict[str, Any], origins: Mapping[str, str]) -> None:
    flat = {k: _lookup(values, k) for k in leaf_keys() if not is_open_table(k)}

    def origin(key: str) -> str:
        return origins.get(key, DEFAULTS_ORIGIN)

    check_values(flat, origin)
    for dotted, check in _VALIDATORS.items():
        if dotted in flat and (problem := check(flat[dotted])):
            if is_secret(dotted):
                problem = problem.split(", got ")[0]
            raise ConfigError(f"{origin(dotted)}: {dotted} {problem}")


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the file's syntax") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def _merge(values: dict, defaults: dict, user: dict, source: str, prefix: str, origins: dict[str, str]) -> None:
    open_table = not defaults and prefix != ""
    for key, value in user.items():
        path = f"{prefix}{key}"
        if open_table:
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(f"{source}: key {path} must be a string, number or boolean")
            values[key] = value
            origins[path] = source
            continue
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            known = ", ".join(sorted(defaults)) or "none"
            hint = (
                f"did you mean {prefix}{close[0]}?"
                if close
                else (f"known keys here: {known}" if prefix else f"known sections: {known}")
            )
            raise ConfigError(f"{source}: unknown key {path}", hint)
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {path} must be a table [{path}]")
            _merge(values[key], default, value, source, f"{path}.", origins)
        else:
            values[key] = _check_type(value, default, source, path)
            origins[path] = source


def _check_type(value: Any, default: Any, source: str, path: str) -> Any:
    expected = _type_name(default)
    ok: bool
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, dt.datetime):
        ok = isinstance(value, dt.datetime)
    elif isinstance(default, dt.date):
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    elif isinstance(default, list):
        ok = isinstance(value, list)
        if ok and default:
            value = [_check_type(v, default[0], source, path) for v in value]
        elif ok:
            ok = all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        shown = "" if is_secret(path) else f" {value!r}"
        raise ConfigError(f"{source}: {path} must be {expected}, got {_type_name(value)}{shown}")
    return value


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date (YYYY-MM-DD)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a string" if isinstance(value, str) else type(value).__name__


def _set_dotted(values: dict, defaults: dict, dotted: str, raw: Any, source: str, parse_strings: bool) -> None:
    parts = dotted.split(".")
    node_v, node_d = values, defaults
    for i, part in enumerate(parts[:-1]):
        if part not in node_d or not isinstance(node_d[part], dict):
            raise ConfigError(f"{source}: unknown key {'.'.join(parts[: i + 1])}")
        node_v, node_d = node_v[part], node_d[part]
    key = parts[-1]
    if not node_d and len(parts) > 1:  # open table such as [keymap]
        node_v[key] = raw
        return
    if key not in node_d or isinstance(node_d[key], dict):
        raise ConfigError(f"{source}: unknown key {dotted}")
    value = _parse_string(raw, node_d[key], source, dotted) if parse_strings and isinstance(raw, str) else raw
    node_v[key] = _check_type(value, node_d[key], source, dotted)


def _parse_string(raw: str, default: Any, source: str, path: str) -> Any:
    text = raw.strip()
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, dt.date):
            return dt.date.fromisoformat(text)
        if isinstance(default, list):
            items = [t.strip() for t in text.split(",") if t.strip()]
            return [_parse_string(t, default[0], source, path) for t in items] if default else items
    except ValueError:
        shown = "" if is_secret(path) else f", got {raw!r}"
        raise ConfigError(f"{source}: {path} must be {_type_name(default)}{shown}") from None
    return raw
