"""Settings: load, merge and validate pmax's configuration.

`config/default.toml` is the schema: every key that exists there is a setting, and
its default value fixes the setting's type. Layers merge in this order, later
winning: the defaults, the user file (`~/.config/pmax/config.toml` or `--config`),
the environment (`PMAX_<SECTION>__<KEY>`) and command-line overrides. An unknown
key or a value of the wrong type raises `ConfigError` naming the source and the key
path. Tables whose default is empty (`[keymap]`) accept any key with a string value.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "default.toml"
ENV_PREFIX = "PMAX_"

Validator = Callable[[Any], "str | None"]
_VALIDATORS: dict[str, Validator] = {}


def validator(key: str) -> Callable[[Validator], Validator]:
    """Register a check for one dotted key; it returns an error text or None."""

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
    """A read-only view of one config table with attribute access."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self._values = values

    def __getattr__(self, key: str) -> Any:
        try:
            value = self._values[key]
        except KeyError:
            raise AttributeError(f"config section [{self._name}] has no key {key!r}") from None
        return Section(f"{self._name}.{key}", value) if isinstance(value, dict) else value

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._values!r})"


class Config:
    """The merged, validated settings; read-only."""

    def __init__(self, values: dict[str, Any], user_path: Path | None) -> None:
        self._values = values
        self.user_path = user_path

    def __getattr__(self, name: str) -> Section:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return Section(name, self._values[name])
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
        return node

    def to_dict(self) -> dict[str, Any]:
        return _deep_copy(self._values)

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "override") -> Config:
        """A new Config with dotted-key overrides applied and validated."""
        values = _deep_copy(self._values)
        defaults = load_defaults()
        for dotted, raw in overrides.items():
            _set_dotted(values, defaults, dotted, raw, source, parse_strings=False)
        _run_validators(values, source)
        return Config(values, self.user_path)


def load_defaults() -> dict[str, Any]:
    with DEFAULT_CONFIG_PATH.open("rb") as fh:
        return tomllib.load(fh)


def load_config(
    path: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load defaults < user file < environment < overrides, strictly.

    Args:
        path: an explicit config file (must exist); None means the user file if any.
        env: the environment to read `PMAX_…` variables from (default os.environ).
        overrides: dotted keys set from command-line flags.
    """
    defaults = load_defaults()
    values = _deep_copy(defaults)
    user_path = Path(path).expanduser() if path else user_config_path()
    if path and not user_path.is_file():
        raise ConfigError(f"config file {user_path} does not exist", "check the --config path")
    if user_path.is_file():
        user = _read_toml(user_path)
        _merge(values, defaults, user, str(user_path), prefix="")
    environ = os.environ if env is None else env
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].partition("__")
        dotted = f"{section.lower()}.{key.lower()}"
        _set_dotted(values, defaults, dotted, raw, f"environment variable {name}", parse_strings=True)
    for dotted, raw in (overrides or {}).items():
        _set_dotted(values, defaults, dotted, raw, "command line", parse_strings=False)
    _run_validators(values, str(user_path) if user_path.is_file() else "configuration")
    return Config(values, user_path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the file's syntax") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def _merge(values: dict, defaults: dict, user: dict, source: str, prefix: str) -> None:
    open_table = not defaults and prefix != ""
    for key, value in user.items():
        path = f"{prefix}{key}"
        if open_table:
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(f"{source}: key {path} must be a string, number or boolean")
            values[key] = value
            continue
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ConfigError(
                f"{source}: unknown key {path}",
                f"known keys here: {known}" if prefix else f"known sections: {known}",
            )
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {path} must be a table [{path}]")
            _merge(values[key], default, value, source, prefix=f"{path}.")
        else:
            values[key] = _check_type(value, default, source, path)


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
            value = [_check_type(v, default[0], source, f"{path}[{i}]") for i, v in enumerate(value)]
        elif ok:
            ok = all(isinstance(v, (str, int, float)) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(
            f"{source}: {path} must be {expected}, got {_type_name(value)} {value!r}"
        )
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
        raise ConfigError(f"{source}: {path} must be {_type_name(default)}, got {raw!r}") from None
    return raw


def _run_validators(values: dict, source: str) -> None:
    for dotted, check in _VALIDATORS.items():
        node: Any = values
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        problem = check(node)
        if problem:
            raise ConfigError(f"{source}: {dotted} {problem}")


def _deep_copy(values: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else (list(v) if isinstance(v, list) else v) for k, v in values.items()}


@validator("app.log_level")
def _validate_log_level(value: str) -> str | None:
    allowed = ("debug", "info", "warning", "error")
    return None if value in allowed else f"must be one of {', '.join(allowed)}, got {value!r}"


@validator("replay.interval_s")
def _validate_interval(value: float) -> str | None:
    return None if value >= 0 else "must be zero or more seconds"


@validator("app.account")
def _validate_account(value: str) -> str | None:
    return None if value.strip() else "must not be empty"
