"""The owner's endpoint: read-only SQL and the engine's events over Arrow Flight.

Transport: Apache Arrow Flight (gRPC) on a Unix-domain socket, from pyarrow, which
pmax already depends on. Query results travel as Arrow tables (typed, columnar, no
home-made framing); events travel as a DoGet stream of one-row batches.

    DoGet {"token", "sql", "params"}   → the rows of one SELECT (the SELECT-only guard)
    DoGet {"token", "stream": "events"} → engine events as they are published
    DoAction hello                      → the owner record
    DoAction handover {"requester"}     → a TUI owner lets go of the file (if allowed)
    DoAction control {"command", "args", "key"} → loop commands: pause / resume / step /
                                          universe (if allowed, or if `key` is the owner's
                                          control key: the app that started this process)

Every request carries the owner file's token; the socket is 0600 in a 0700 folder.
Each query runs on its own cursor of the owner's connection, so readers see
committed cycles only and never wait for the one in flight.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl

from engine.serve.rendezvous import OwnerInfo, new_owner, owner_paths, publish_owner, withdraw_owner
from engine.serve.wire import REFUSED, decode_value, event_json
from engine.sqlguard import read_only_body

__all__ = ["StoreEndpoint"]

EVENT_SCHEMA = pa.schema([("event", pa.string())])
HEARTBEAT_S = 1.0
# A repeated query between two commits is answered from memory, so readers that poll
# cost the run almost nothing. Every event published after a commit clears the cache;
# the age limit bounds staleness for writes that publish none (the owning app's chat
# history, the `runs` row).
CACHE_S = 5.0
_BEFORE_COMMIT = ("CycleStarted",)
CACHE_ENTRIES = 256
Handover = Callable[[str], str | None]  # requester label -> None (done) or a refusal reason
# (command, args, trusted) -> what happened: a state word, or a reply dict ({"ok", "reason"…})
Control = Callable[[str, dict[str, Any], bool], "str | dict[str, Any]"]


class _EventHub:
    """Fans published events out to every open event stream."""

    def __init__(self) -> None:
        self._queues: set[queue.Queue[str | None]] = set()
        self._lock = threading.Lock()

    def publish(self, text: str | None) -> None:
        with self._lock:
            targets = list(self._queues)
        for q in targets:
            try:
                q.put_nowait(text)
            except queue.Full:  # a reader that stopped reading loses its stream, not the engine's time
                self._drop(q)

    def stream(self) -> fl.GeneratorStream:
        q: queue.Queue[str | None] = queue.Queue(maxsize=10_000)
        with self._lock:
            self._queues.add(q)
        return fl.GeneratorStream(EVENT_SCHEMA, self._batches(q))

    def _batches(self, q: queue.Queue[str | None]) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    item = q.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    item = ""  # heartbeat: lets both sides notice a dead peer
                if item is None:
                    return
                yield pa.record_batch([pa.array([item], pa.string())], schema=EVENT_SCHEMA)
        finally:
            self._drop(q)

    def _drop(self, q: queue.Queue[str | None]) -> None:
        with self._lock:
            self._queues.discard(q)

    def close(self) -> None:
        self.publish(None)


class _FlightStore(fl.FlightServerBase):
    def __init__(self, location: str, endpoint: StoreEndpoint) -> None:
        super().__init__(location)
        self._endpoint = endpoint

    def _request(self, raw: bytes) -> dict[str, Any]:
        try:
            req = json.loads(raw)
        except ValueError:
            raise fl.FlightServerError(REFUSED + "malformed request") from None
        if not isinstance(req, dict) or req.get("token") != self._endpoint.info.token:
            raise fl.FlightUnauthorizedError(REFUSED + "wrong token")
        return req

    def do_get(self, context: fl.ServerCallContext, ticket: fl.Ticket) -> fl.FlightDataStream:
        req = self._request(ticket.ticket)
        if req.get("stream") == "events":
            return self._endpoint.hub.stream()
        body = read_only_body(str(req.get("sql", "")))
        if body is None:
            raise fl.FlightServerError(REFUSED + "the owner answers one read-only SELECT statement at a time")
        return fl.RecordBatchStream(self._endpoint.query(body, decode_value(req.get("params") or [])))

    def do_action(self, context: fl.ServerCallContext, action: fl.Action) -> Iterator[fl.Result]:
        req = self._request(action.body.to_pybytes() if action.body else b"{}")
        kind = action.type
        if kind == "hello":
            reply: dict[str, Any] = {"ok": True, **self._endpoint.info.__dict__}
            reply.pop("token", None)
        elif kind == "handover":
            reply = self._endpoint.hand_over(str(req.get("requester", "another pmax")))
        elif kind == "control":
            args = req.get("args")
            reply = self._endpoint.control(
                str(req.get("command", "")), args if isinstance(args, dict) else {}, req.get("key")
            )
        else:
            raise fl.FlightServerError(REFUSED + f"unknown action {kind!r}")
        yield fl.Result(json.dumps(reply, default=str).encode())

    def list_actions(self, context: fl.ServerCallContext) -> list[tuple[str, str]]:
        return [
            ("hello", "the owner record"),
            ("handover", "let go of the file"),
            ("control", "pause, resume or step the loop; change its universe"),
        ]


class StoreEndpoint:
    """Serves one open `Store` for as long as this process owns the file."""

    def __init__(
        self,
        store: Any,
        info: OwnerInfo,
        runtime: str,
        on_handover: Handover | None,
        on_control: Control | None,
        control_key: str | None = None,
    ) -> None:
        self.store = store
        self.info = info
        self.hub = _EventHub()
        self._runtime = runtime
        self._on_handover = on_handover
        self._on_control = on_control
        self._control_key = control_key
        self._server: _FlightStore | None = None
        self._withdrawn = False
        self._cache: dict[str, tuple[float, pa.Table]] = {}
        self._generation = 0
        self._cache_lock = threading.Lock()
        self._cursors = threading.local()

    @classmethod
    def start(
        cls,
        store: Any,
        kind: str,
        config: Any,
        *,
        on_handover: Handover | None = None,
        on_control: Control | None = None,
        control_key: str | None = None,
    ) -> StoreEndpoint | None:
        """Listen and publish the owner file; None when `[serve] enabled = false` or in-memory."""
        serve = config.section("serve")
        if not serve.enabled or str(store.path) == ":memory:":
            return None
        runtime = serve.runtime_dir
        info = new_owner(
            store.path,
            kind,
            runtime,
            yield_to_run=serve.yield_to_run and kind == "tui",
            allow_control=serve.allow_control,
        )
        endpoint = cls(store, info, runtime, on_handover, on_control, control_key)
        _, sock = owner_paths(store.path, runtime)
        sock.unlink(missing_ok=True)  # we hold the DuckDB lock, so any earlier owner is gone
        old = os.umask(0o177)  # the socket is born 0600
        try:
            endpoint._server = _FlightStore(info.socket, endpoint)
        finally:
            os.umask(old)
        Path(sock).chmod(0o600)
        publish_owner(info, runtime)
        return endpoint

    def query(self, sql: str, params: list[Any]) -> pa.Table:
        import duckdb

        key = json.dumps([sql, params], default=str)
        with self._cache_lock:
            generation, hit = self._generation, self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        # One cursor per server thread, kept: a fresh DuckDB cursor's first query costs ~20x more.
        cur = getattr(self._cursors, "cur", None)
        if cur is None:
            cur = self._cursors.cur = self.store.cursor()
        try:
            table = cur.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise fl.FlightServerError(str(exc).strip().splitlines()[0]) from None
        with self._cache_lock:
            if generation == self._generation:  # no commit happened while it ran
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[key] = (time.monotonic(), table)
        return table

    def publish(self, event: Any) -> None:
        """Engine subscriber: forward `event` to every attached reader."""
        if type(event).__name__ not in _BEFORE_COMMIT:
            with self._cache_lock:
                self._generation += 1
                self._cache.clear()
        self.hub.publish(event_json(event))

    def hand_over(self, requester: str) -> dict[str, Any]:
        if self.info.kind != "tui" or not self.info.yield_to_run or self._on_handover is None:
            return {
                "ok": False,
                "reason": f"{self.info.label} does not hand the database over ([serve] yield_to_run = false)",
            }
        refusal = self._on_handover(requester)
        return {"ok": refusal is None, "reason": refusal}

    def control(self, command: str, args: dict[str, Any] | None = None, key: Any = None) -> dict[str, Any]:
        if self._on_control is None:  # a headless run goes to its end: nobody pauses a scheduled job
            return {
                "ok": False,
                "reason": f"{self.info.label} does not take loop commands "
                f"(a headless run goes to its end; stop it with kill {self.info.pid})",
            }
        trusted = self._control_key is not None and key == self._control_key
        if not trusted and not self.info.allow_control:
            return {"ok": False, "reason": f"{self.info.label} does not take commands ([serve] allow_control = false)"}
        result = self._on_control(command, dict(args or {}), trusted)
        if isinstance(result, dict):
            return {"ok": True, **result}
        return {"ok": True, "state": result}

    def withdraw(self) -> None:
        """Remove the owner file and socket now (a handover: the next owner is waiting)."""
        if not self._withdrawn:
            self._withdrawn = True
            withdraw_owner(self.info, self._runtime)

    def close(self) -> None:
        """Stop answering and remove the owner file (before the store is closed).

        Blocks until requests in flight finish; never call it from a request handler.
        """
        self.withdraw()
        self.hub.close()
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
