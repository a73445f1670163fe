"""Loop commands on an owner's endpoint: who may send them, and what the engine process does.

Units over the real classes (no Flight server needed for the decisions): the endpoint's
trust rule (the app that started the engine process holds its key; other attached apps
need `[serve] allow_control`; a headless `pmax --run` takes none), the engine process's
answers to `universe`, `schedule` and another app's pause, and events rebuilt as their
own classes on the app's side.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine.events import CycleCompleted, FeedExhausted
from engine.serve.loopchild import UNIVERSE_HOOK, LoopChild
from engine.serve.loopevents import ControlRequested, StepFailed
from engine.serve.rendezvous import OwnerInfo
from engine.serve.server import StoreEndpoint
from engine.serve.wire import RemoteEvent, event_from_json, event_json


def _info(kind: str = "tui", allow_control: bool = False) -> OwnerInfo:
    return OwnerInfo(
        pid=123,
        kind=kind,
        db="/x.duckdb",
        socket="grpc+unix:///x.sock",
        token="t",
        started_at="2026-01-01T00:00:00",
        allow_control=allow_control,
    )


def _endpoint(
    kind: str = "tui", allow_control: bool = False, on_control: Any = None, key: str | None = "secret"
) -> StoreEndpoint:
    return StoreEndpoint(None, _info(kind, allow_control), "", None, on_control, key)


def test_the_apps_key_is_trusted_and_others_need_allow_control() -> None:
    calls: list[tuple[str, dict[str, Any], bool]] = []

    def on_control(command: str, args: dict[str, Any], trusted: bool) -> str:
        calls.append((command, args, trusted))
        return "stepping"

    closed = _endpoint(on_control=on_control)
    assert closed.control("step", {}, "secret") == {"ok": True, "state": "stepping"}
    assert closed.control("step", {}, "wrong") == {
        "ok": False,
        "reason": "the pmax app (pid 123) does not take commands ([serve] allow_control = false)",
    }
    assert closed.control("step", {}, None)["ok"] is False
    opened = _endpoint(allow_control=True, on_control=on_control)
    assert opened.control("pause", {"x": 1}, None) == {"ok": True, "state": "stepping"}
    assert calls == [("step", {}, True), ("pause", {"x": 1}, False)]
    # A reply dict passes through with ok added, and a refusal keeps its ok = False.
    assert _endpoint(on_control=lambda *_: {"state": "queued"}).control("universe", {}, "secret") == {
        "ok": True,
        "state": "queued",
    }
    assert _endpoint(on_control=lambda *_: {"ok": False, "reason": "no"}).control("x", {}, "secret") == {
        "ok": False,
        "reason": "no",
    }


def test_a_headless_run_takes_no_loop_commands_even_when_allowed() -> None:
    run = _endpoint(kind="run", allow_control=True, on_control=None, key=None)
    reply = run.control("pause", {}, None)
    assert reply == {
        "ok": False,
        "reason": "pmax --run (pid 123) does not take loop commands "
        "(a headless run goes to its end; stop it with kill 123)",
    }


class _Engine:
    """Just what LoopChild reads of an engine in these tests."""

    def __init__(self, hook: bool) -> None:
        self.busy = False
        self.changes: list[dict[str, list[str]]] = []
        self.feed = _Feed()
        if hook:
            setattr(self, UNIVERSE_HOOK, self._change)

    def _change(self, add: list[str], remove: list[str], liquidate: list[str]) -> str:
        if "ZZZZ" in add:
            raise ValueError("ZZZZ is not in the data")
        self.changes.append({"add": add, "remove": remove, "liquidate": liquidate})
        return "queued"


class _Feed:
    def upcoming(self, after: dt.date | None) -> list[dt.date]:
        return [dt.date(2016, 1, 4), dt.date(2016, 1, 5)]


def _child(engine: Any) -> tuple[LoopChild, list[Any]]:
    child = LoopChild(config=None, db=Path("/x.duckdb"), live=False, key="k")
    child.engine = engine
    published: list[Any] = []
    child.endpoint = type("E", (), {"publish": staticmethod(published.append)})()
    return child, published


def test_universe_changes_are_forwarded_to_the_engine_api() -> None:
    engine = _Engine(hook=True)
    child, _ = _child(engine)
    reply = child._control("universe", {"add": ["IBM"], "remove": ["XOM"], "liquidate": ["XOM"]}, True)
    assert reply == {"state": "queued for the next session", "result": "queued"}
    assert engine.changes == [{"add": ["IBM"], "remove": ["XOM"], "liquidate": ["XOM"]}]
    refused = child._control("universe", {"add": ["ZZZZ"]}, True)
    assert refused == {"ok": False, "reason": "ZZZZ is not in the data", "hint": None}
    missing, _ = _child(_Engine(hook=False))
    assert missing._control("universe", {"add": ["IBM"]}, True) == {
        "ok": False,
        "reason": f"this engine cannot change its universe while it runs yet (no Engine.{UNIVERSE_HOOK})",
    }


def test_another_apps_pause_is_passed_to_the_app_and_the_schedule_is_served() -> None:
    child, published = _child(_Engine(hook=False))
    assert child._control("pause", {}, False) == "sent to the app"
    assert published == [ControlRequested("pause")]
    assert child._control("resume", {}, True) == "the app paces the loop"
    assert child._control("reboot", {}, True) == {"ok": False, "reason": "unknown command 'reboot'"}
    assert child._control("schedule", {}, True) == {"state": "ok", "sessions": ["2016-01-04", "2016-01-05"]}


def test_events_come_back_as_their_own_classes() -> None:
    done = CycleCompleted(dt.date(2016, 1, 4), 730, 3, 1e6, 0.5)
    assert event_from_json(event_json(done)) == done
    assert event_from_json(event_json(FeedExhausted(None))) == FeedExhausted(None)
    assert event_from_json(event_json(StepFailed("boom", "fix it"))) == StepFailed("boom", "fix it")
    other = event_from_json('{"type": "SomethingNew", "fields": {"session": "2016-01-04"}}')
    assert isinstance(other, RemoteEvent) and type(other).__name__ == "SomethingNew"
    assert other.session == dt.date(2016, 1, 4)
    # An owner of another version (fields differ) still arrives, as a RemoteEvent.
    odd = event_from_json('{"type": "CycleCompleted", "fields": {"session": "2016-01-04"}}')
    assert isinstance(odd, RemoteEvent) and type(odd).__name__ == "CycleCompleted"
