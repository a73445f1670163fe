"""Talking to an owner beyond queries: its event stream, handover and loop control."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow.flight as fl

from engine.errors import OwnerGoneError
from engine.serve.rendezvous import OwnerInfo
from engine.serve.wire import RemoteEvent, event_from_json, server_message

__all__ = ["follow_events", "request_handover", "send_control"]


def _action(owner: OwnerInfo, kind: str, timeout_s: float, **body: Any) -> dict[str, Any]:
    client = fl.FlightClient(owner.socket)
    try:
        payload = json.dumps({"token": owner.token, **body}).encode()
        results = list(client.do_action(fl.Action(kind, payload), options=fl.FlightCallOptions(timeout=timeout_s)))
    except fl.FlightError as exc:
        raise OwnerGoneError(
            f"{owner.label} did not answer: {server_message(exc)}", "run the command again in a moment"
        ) from None
    finally:
        client.close()
    return json.loads(results[0].body.to_pybytes()) if results else {}


def request_handover(owner: OwnerInfo, requester: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Ask a TUI owner to let go of the file: {"ok": bool, "reason": str | None}."""
    return _action(owner, "handover", timeout_s, requester=requester)


def send_control(
    owner: OwnerInfo, command: str, args: dict[str, Any] | None = None, key: str | None = None, timeout_s: float = 10.0
) -> dict[str, Any]:
    """`pause`, `resume` or `step` the owner's loop, or `universe` {add, remove, liquidate},
    if it allows that (or `key` is its control key)."""
    return _action(owner, "control", timeout_s, command=command, args=args or {}, key=key)


def follow_events(owner: OwnerInfo, on_open: Callable[[], None] | None = None) -> Iterator[RemoteEvent]:
    """The owner's events as they are published; ends when the owner closes its endpoint.

    `on_open` is called once the owner has registered the stream (every event published
    from then on arrives). Raises OwnerGoneError when the stream breaks (the owner was killed).
    """
    client = fl.FlightClient(owner.socket)
    try:
        ticket = fl.Ticket(json.dumps({"token": owner.token, "stream": "events"}).encode())
        reader = client.do_get(ticket)
        if on_open is not None:
            on_open()
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                return
            for text in chunk.data.column(0).to_pylist():
                if text:
                    yield event_from_json(text)
    except fl.FlightError as exc:
        raise OwnerGoneError(f"{owner.label} went away: {server_message(exc)}") from None
    finally:
        client.close()
