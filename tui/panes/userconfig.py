"""Persisting the TUI's choices (watchlist, theme) to the user's config file.

The user file is plain TOML (`~/.config/pmax/config.toml`, or the file named with
`--config`). We read it with `tomllib`, change one dotted key and write it back with
a small writer that covers what config files hold: tables, strings, numbers,
booleans, dates and flat lists. Comments in the file are not preserved.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

_BARE_KEY = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def default_user_path() -> Path:
    """The user config file (XDG_CONFIG_HOME honoured), as engine.config resolves it."""
    from engine.config import user_config_path

    return user_config_path()


def set_user_value(dotted: str, value: Any, path: Path | None = None) -> Path:
    """Set `dotted` (e.g. "data.watchlist") in the user file, creating it if needed.

    Args:
        dotted: the key path, section first.
        value: a TOML-representable value.
        path: the file; None means the default user config file.

    Returns:
        The path written.
    """
    target = path or default_user_path()
    data: dict[str, Any] = {}
    if target.is_file():
        try:
            data = tomllib.loads(target.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{target}: not valid TOML ({exc})", "fix the file, then try again") from None
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{target}: {part} is not a table", "fix the file, then try again")
        node = child
    node[parts[-1]] = value
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".toml.tmp")
    tmp.write_text(dumps(data), encoding="utf-8")
    os.replace(tmp, target)
    return target


def dumps(data: Mapping[str, Any]) -> str:
    """Serialise a mapping to TOML text (tables after plain keys, recursively)."""
    lines: list[str] = []
    _write_table(lines, data, prefix=())
    return "\n".join(lines).strip() + "\n"


def _write_table(lines: list[str], table: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if prefix and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in prefix) + "]")
    for key, value in scalars:
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables:
        _write_table(lines, value, prefix + (key,))


def _key(key: str) -> str:
    return key if key and set(key) <= _BARE_KEY else _string(key)


def _string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{out}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
