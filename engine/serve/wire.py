"""What travels between owner and readers, besides Arrow tables.

Flight carries the bytes; this module fixes the small JSON bodies inside tickets and
actions: query parameters (dates keep their type), engine events (past-tense
dataclasses, rebuilt on the reader's side under the same class name), and the prefix
that marks a refused statement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

REFUSED = "refused: "
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EVENT_TYPES: dict[str, type] = {}
_KNOWN: dict[str, type] = {}  # event classes rebuilt as themselves (isinstance works on them)


def register_events(*classes: type) -> None:
    """Rebuild events of these dataclasses as real instances, not `RemoteEvent`s."""
    for cls in classes:
        _KNOWN[cls.__name__] = cls


def encode_value(value: Any) -> Any:
    """A JSON-safe form of one query parameter; dates are tagged so they stay dates."""
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "$date":
            return dt.date.fromisoformat(text)
        if tag == "$datetime":
            return dt.datetime.fromisoformat(text)
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def query_ticket(token: str, sql: str, params: Any) -> bytes:
    return json.dumps({"token": token, "sql": sql, "params": encode_value(list(params or []))}).encode()


def event_json(event: Any) -> str:
    """An engine event as `{"type": name, "fields": {...}}`."""
    fields = (
        {f.name: getattr(event, f.name) for f in dataclasses.fields(event)} if dataclasses.is_dataclass(event) else {}
    )
    return json.dumps({"type": type(event).__name__, "fields": fields}, default=str)


class RemoteEvent:
    """An event received from the owner: same class name and fields as the original."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    if TYPE_CHECKING:  # fields are the original event's, set at run time

        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({inner})"


def event_from_json(text: str) -> Any:
    """Rebuild an event: a registered class (`register_events`) as itself, any other as a
    `RemoteEvent` whose `type(e).__name__` is the owner's class name."""
    data = json.loads(text)
    name = str(data.get("type", "Event"))
    fields = {
        k: dt.date.fromisoformat(v) if isinstance(v, str) and _DATE.match(v) else v
        for k, v in (data.get("fields") or {}).items()
    }
    known = _KNOWN.get(name)
    if known is not None:
        try:
            return known(**fields)
        except TypeError:  # an owner of another version: fields differ
            pass
    cls = _EVENT_TYPES.get(name)
    if cls is None:
        cls = _EVENT_TYPES[name] = type(name, (RemoteEvent,), {})
    return cls(**fields)


def server_message(exc: BaseException) -> str:
    """The owner's one-line message inside a Flight error's text."""
    text = str(exc)
    for cut in (". Detail:", ". gRPC client debug context:", "\n"):
        text = text.split(cut, 1)[0]
    return text.strip()


def _register_engine_events() -> None:
    from engine import events

    register_events(
        *(
            c
            for c in vars(events).values()
            if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event
        )
    )


_register_engine_events()
