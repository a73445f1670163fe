"""The typed settings model, derived from `config/default.toml` at import.

`default.toml` is the single source of every setting's name, default, type and
documentation: this module reads it once and builds one frozen dataclass per table
(nested tables become nested dataclasses), with each field's type taken from its
default and its doc from the comment lines above it. Keys added to the TOML appear
here with no code change. Values are validated before a model is built
(`engine.config_rules`), so an instance always holds checked values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from functools import cache, partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "default.toml"

_TABLE = re.compile(r"^\[([A-Za-z0-9_.]+)\]\s*$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=")
# Keys whose values are credentials: never echoed in an error, a log or the database.
_SECRET = re.compile(r"(api_key|token|password|secret)$")


def is_secret(dotted: str) -> bool:
    """Whether a setting holds a credential (its value must never be printed)."""
    return bool(_SECRET.search(dotted.rsplit(".", 1)[-1]))


@cache
def _defaults_cached() -> dict[str, Any]:
    with DEFAULT_CONFIG_PATH.open("rb") as fh:
        return tomllib.load(fh)


def load_defaults() -> dict[str, Any]:
    """A fresh copy of the parsed default.toml."""
    return deep_copy(_defaults_cached())


def deep_copy(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: deep_copy(v) if isinstance(v, dict) else (list(v) if isinstance(v, list) else v) for k, v in values.items()
    }


@cache
def field_docs() -> dict[str, str]:
    """Dotted key -> the comment block written above it in default.toml."""
    docs: dict[str, str] = {}
    table, pending = "", []
    for line in DEFAULT_CONFIG_PATH.read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("#").strip())
        elif (m := _TABLE.match(text)) is not None:
            table, pending = m.group(1), []
        elif (m := _KEY.match(text)) is not None:
            docs[f"{table}.{m.group(1)}" if table else m.group(1)] = " ".join(pending)
            pending = []
        elif not text:
            continue
    return docs


def leaf_keys(tree: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Every dotted setting in the defaults (tables excluded), in file order."""
    tree = _defaults_cached() if tree is None else tree
    keys: list[str] = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            keys.extend(leaf_keys(value, f"{dotted}.") if value else [dotted])
        else:
            keys.append(dotted)
    return keys


def _annotation(default: Any) -> Any:
    if isinstance(default, bool):
        return bool
    if isinstance(default, list):
        inner = _annotation(default[0]) if default else str
        return list[inner]  # type: ignore[valid-type]
    if isinstance(default, (int, float, str, dt.datetime, dt.date)):
        return type(default)
    return Any


def _class_name(dotted: str) -> str:
    return "".join(part.title().replace("_", "") for part in dotted.split(".")) + "Settings"


@cache
def model_class(dotted: str) -> type:
    """The frozen dataclass for one table (e.g. "forecast" or "forecast.garch").

    Every field defaults to default.toml's value, so `model_class("quality")()` is the
    shipped [quality] table: no code re-declares a default.
    """
    node: Any = _defaults_cached()
    for part in dotted.split("."):
        node = node[part]
    docs = field_docs()
    specs: list[tuple[str, Any, Any]] = []
    for key, default in node.items():
        path = f"{dotted}.{key}"
        meta = {"doc": docs.get(path, "")}
        if isinstance(default, dict) and default:
            specs.append((key, model_class(path), dataclasses.field(default_factory=model_class(path))))
        elif isinstance(default, dict):  # an open table such as [keymap]
            specs.append((key, dict[str, str], dataclasses.field(default_factory=dict)))
        elif isinstance(default, list):
            specs.append(
                (key, _annotation(default), dataclasses.field(default_factory=partial(list, default), metadata=meta))
            )
        else:
            specs.append((key, _annotation(default), dataclasses.field(default=default, metadata=meta)))
    cls = dataclasses.make_dataclass(
        _class_name(dotted),
        specs,
        frozen=True,
        namespace={"__doc__": f"Typed [{dotted}] settings (config/default.toml)."},
    )
    cls.__module__ = __name__  # found again by name through the module __getattr__ (pickle)
    return cls


def _tables(tree: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    tree = _defaults_cached() if tree is None else tree
    out: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += [f"{prefix}{key}", *_tables(value, f"{prefix}{key}.")]
    return out


def __getattr__(name: str) -> type:
    """Resolve a model class by name (`QualitySettings`), so instances pickle across processes."""
    for dotted in _tables():
        if _class_name(dotted) == name:
            return model_class(dotted)
    raise AttributeError(name)


def build_model(dotted: str, values: dict[str, Any]) -> Any:
    """An instance of the table's model holding the (already validated) `values`."""
    cls = model_class(dotted)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        value = values[field.name]
        if dataclasses.is_dataclass(field.type):
            value = build_model(f"{dotted}.{field.name}", value)
        kwargs[field.name] = value
    return cls(**kwargs)


def section_names() -> list[str]:
    return list(_defaults_cached())


def is_open_table(dotted: str) -> bool:
    """Tables whose default is empty (`[keymap]`) accept any key with a string value."""
    node: Any = _defaults_cached()
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, dict) and not node
