"""GRID.toml: a `[grid]` of dotted config keys → lists of values, and optional `[fixed]`.

`load_grid` reads the file and checks every key against the config schema
(`config/default.toml`) before anything runs: an unknown dotted key, a value of
the wrong type, or a value a settings check refuses raises `ConfigError` (exit 2)
naming the file and the key. The trials are the cartesian product of the grid's
lists, in file order, each applied over `[fixed]` over the base config.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import Config
from engine.errors import ConfigError

_TABLES = ("grid", "fixed")
# Keys a grid may not vary: they choose where results go or how the sweep itself runs.
_NOT_SWEEPABLE = ("app.db_path", "app.account", "sweep.", "tui.", "keymap.", "copilot.")


@dataclass(frozen=True)
class Trial:
    """One point of the grid: its own parameters and the config they make."""

    index: int
    params: dict[str, Any]
    config: Config


@dataclass(frozen=True)
class Grid:
    """A validated grid: the trials in order, and the keys it varies and fixes."""

    path: Path
    keys: tuple[str, ...]
    fixed: dict[str, Any]
    trials: tuple[Trial, ...]


def load_grid(path: str | Path, base: Config, overrides: Mapping[str, Any] | None = None) -> Grid:
    """Read and validate `path`; `overrides` (from flags such as --data) win over the file."""
    file = Path(path).expanduser()
    raw = _read(file)
    unknown = sorted(set(raw) - set(_TABLES))
    if unknown:
        raise ConfigError(f"{file}: unknown table [{unknown[0]}]", "a grid file has only [grid] and [fixed]")
    grid = _flatten(raw.get("grid", {}), file, "grid")
    fixed = _flatten(raw.get("fixed", {}), file, "fixed")
    if not grid:
        raise ConfigError(
            f"{file}: [grid] is empty", 'add dotted keys with lists of values, e.g. "signals.prob_band" = [0.01, 0.02]'
        )
    for key, values in grid.items():
        _check_sweepable(file, key)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{file}: [grid] {key} must be a non-empty list of values, got {values!r}")
    for key in fixed:
        _check_sweepable(file, key)
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ConfigError(f"{file}: {both[0]} is in both [grid] and [fixed]", "keep it in one of them")
    try:
        fixed_config = base.with_overrides({**fixed, **(overrides or {})}, source=f"{file} [fixed]")
    except ConfigError as exc:
        raise ConfigError(exc.message, exc.hint or "use the dotted keys and types of config/default.toml") from None
    keys = tuple(grid)
    trials = []
    for index, combo in enumerate(itertools.product(*(grid[k] for k in keys))):
        params = dict(zip(keys, combo, strict=True))
        try:
            config = fixed_config.with_overrides({**params, **(overrides or {})}, source=f"{file} [grid]")
        except ConfigError as exc:
            raise ConfigError(exc.message, exc.hint or "use the dotted keys and types of config/default.toml") from None
        trials.append(Trial(index, params, config))
    return Grid(file, keys, fixed, tuple(trials))


def _read(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ConfigError(f"grid file {file} does not exist", "pass the path of a GRID.toml file")
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})", "fix the file's syntax") from None


def _flatten(table: Any, file: Path, name: str) -> dict[str, Any]:
    """Dotted keys from either `"a.b" = …` or nested `[grid.a] b = …` spellings."""
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: {name} must be a table [{name}]")
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for sub, inner in _flatten(value, file, name).items():
                flat[f"{key}.{sub}"] = inner
        else:
            flat[key] = value
    return flat


def _check_sweepable(file: Path, key: str) -> None:
    if "." not in key:
        raise ConfigError(f"{file}: {key} is not a dotted config key", 'write "section.key", e.g. "signals.prob_band"')
    if any(key == p or (p.endswith(".") and key.startswith(p)) for p in _NOT_SWEEPABLE):
        raise ConfigError(f"{file}: {key} cannot be swept", "a grid varies settings that change results")
