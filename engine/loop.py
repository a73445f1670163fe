"""The async engine: one cycle per trading session, each cycle one transaction.

`Engine.step` asks the feed for the next session, runs every stage in a worker
thread inside a single DuckDB transaction, records the cycle in `cycles`, and only
then publishes the cycle's events. A crash loses at most the cycle in flight; a new
`Engine` on the same store resumes after the last committed session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.config import Config
from engine.cycle import CycleContext, Stage
from engine.errors import RunInterrupted
from engine.events import CycleCompleted, CycleStarted, Event, FeedExhausted
from engine.feeds import Feed, FeedBatch
from engine.runs import check_resume, mark_crashed, setup_for
from engine.stops import SignalStop, exit_now, signal_name
from engine.store import Store, append
from engine.universe import BACKFILL_KEY, UNIVERSE_KEY, UniverseDesk, UniversePlan, record

log = logging.getLogger("pmax.loop")
Subscriber = Callable[[Event], None]


@dataclass(frozen=True)
class RunSummary:
    """What a headless run did."""

    run_id: str
    sessions_run: int
    first_session: dt.date | None
    last_session: dt.date | None
    equity: float | None
    exhausted: bool


class Engine:
    """Drives the stages over the feed's sessions and tells subscribers what happened."""

    def __init__(
        self,
        store: Store,
        config: Config,
        feed: Feed,
        stages: Sequence[Stage] | None = None,
        account: str | None = None,
        device: str = "cpu",
        mode: str = "replay",
    ) -> None:
        from engine.stages import default_stages

        self.store = store
        self.config = config
        self.feed = feed
        self.stages = list(stages) if stages is not None else default_stages()
        self.account = account or config.app.account
        self.device = device
        self.mode = mode
        self.run_id = uuid.uuid4().hex[:12]
        self.state: dict[str, Any] = {}
        self._subscribers: list[Subscriber] = []
        self._lock = asyncio.Lock()
        self._run_recorded = False
        self.exhausted = False
        self._in_cycle = False
        # A private pool, so that shutting the event loop down does not wait for a cycle in flight.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmax-cycle")
        self._feed_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmax-feed")
        self._waiting_for_feed = False
        self.as_of: dt.date | None = self._last_committed()
        if not store.read_only:  # we hold the write lock: a `running` row of another process is dead
            mark_crashed(store.con, os.getpid())
        live = mode == "live" or (mode != "replay" and feed.upcoming(None) is None)  # the TUI runs either
        self.universe = UniverseDesk(feed, list(config.data.watchlist) or feed.universe() or [])
        restored = self.universe.restore(store.con, self.account)
        self.setup = setup_for(config, feed, live)
        self.setup_notes = restored + check_resume(store.con, store.path, self.account, self.setup)
        for note in self.setup_notes:
            log.warning(note)

    @property
    def busy(self) -> bool:
        """True while a cycle's worker thread is running (even if its awaiting task was cancelled)."""
        return self._in_cycle

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(event)` on the event loop for every published event."""
        self._subscribers.append(callback)

    def request_universe_change(
        self, add: Sequence[str] = (), remove: Sequence[str] = (), liquidate: Sequence[str] = ()
    ) -> None:
        """Queue a watchlist change for the start of the next cycle (any thread; plain arguments).

        `add`: tickers to trade (each must be in the replay file; live mode fetches them
        here, so this call can block up to the data deadline: make it off the UI thread).
        `remove`: tickers to drop; a held one stays managed ("kept") unless it is also in
        `liquidate`, which gives it target 0 so it is sold at the next session's open.
        Raises InputError (unknown or malformed ticker; nothing queued) or
        DataUnavailableError (live: no source answered). See `engine.universe`.
        """
        self.universe.request(add=add, remove=remove, liquidate=liquidate)

    def _last_committed(self) -> dt.date | None:
        rows = self.store.con.execute("SELECT max(session) FROM cycles WHERE account = ?", [self.account]).fetchall()
        return rows[0][0] if rows and rows[0][0] is not None else None

    def last_equity(self) -> float | None:
        rows = self.store.con.execute(
            "SELECT equity FROM equity WHERE account = ? ORDER BY as_of DESC LIMIT 1", [self.account]
        ).fetchall()
        return float(rows[0][0]) if rows else None

    def _publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for callback in list(self._subscribers):
                callback(event)

    async def step(self) -> CycleCompleted | None:
        """Run one cycle; None (and a FeedExhausted event) when the feed has no more sessions."""
        async with self._lock:
            self._waiting_for_feed = True
            try:
                batch, plan = await asyncio.get_running_loop().run_in_executor(self._feed_executor, self._next_batch)
            finally:
                self._waiting_for_feed = False
            if batch is None:
                self.exhausted = True
                self._publish([FeedExhausted(self.as_of)])
                return None
            self._publish([CycleStarted(batch.session, batch.session_index)])
            loop = asyncio.get_running_loop()
            events = await loop.run_in_executor(self._executor, self._run_cycle, batch, plan)
            self.as_of = batch.session
            if plan is not None:
                self.universe.commit(plan)
            self._publish(events)
            completed = events[-1]
            assert isinstance(completed, CycleCompleted)
            return completed

    def _next_batch(self) -> tuple[FeedBatch | None, UniversePlan | None]:
        """The next batch, delivering the universe the queued changes ask for (feed thread)."""
        cur = self.store.cursor()
        try:
            plan = self.universe.plan(cur, self.account)
        finally:
            cur.close()
        if plan is not None:
            self.feed.deliver(plan.after.delivered)
        batch = self.feed.next_batch(self.as_of)
        if plan is not None and batch is not None:
            plan = self.universe.with_backfill(plan, batch.session)
        return batch, plan

    def _run_cycle(self, batch: FeedBatch, plan: UniversePlan | None = None) -> list[Event]:
        self._in_cycle = True
        try:
            self._record_run_start()  # here, on the worker thread: the UI thread never writes
            return self._run_cycle_in_transaction(batch, plan)
        finally:
            self._in_cycle = False

    def _run_cycle_in_transaction(self, batch: FeedBatch, plan: UniversePlan | None = None) -> list[Event]:
        started = time.perf_counter()
        with self.store.transaction() as con:
            ctx = CycleContext(
                session=batch.session,
                session_index=batch.session_index,
                account=self.account,
                con=con,
                config=self.config,
                bars=batch.bars,
                state=self.state,
                device=self.device,
                warmup=batch.warmup,
                run_id=self.run_id,
            )
            ctx.state["feed_batch"] = batch
            ctx.state.pop(BACKFILL_KEY, None)
            if plan is not None:
                record(con, self.account, batch.session, plan, self.run_id)
                ctx.state[BACKFILL_KEY] = plan.backfill
                ctx.publish(plan.event(batch.session))
            if plan is not None or self.universe.changed:
                ctx.state[UNIVERSE_KEY] = plan.after if plan is not None else self.universe.current
            for stage in self.stages:
                stage.run(ctx)
            rows = con.execute(
                "SELECT equity FROM equity WHERE account = ? AND as_of = ?", [self.account, batch.session]
            ).fetchall()
            equity = float(rows[0][0]) if rows and rows[0][0] is not None else None
            # One row: a parameterised INSERT (a one-row DataFrame costs ~3x as much).
            con.execute(
                "INSERT INTO cycles (account, session, session_index, run_id, n_bars, committed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    self.account,
                    batch.session,
                    int(batch.session_index),
                    self.run_id,
                    len(batch.bars),
                    dt.datetime.now(),
                ],
            )
        elapsed = time.perf_counter() - started
        return [*ctx.events, CycleCompleted(batch.session, batch.session_index, len(batch.bars), equity, elapsed)]

    async def run(
        self,
        cycles: int | None = None,
        until: dt.date | None = None,
        on_cycle: Callable[[CycleCompleted], None] | None = None,
    ) -> RunSummary:
        """Run cycles until the feed ends, `cycles` sessions are done, or `until` is passed.

        SIGINT/SIGTERM (main thread only) end the run after the cycle in flight commits
        and raise RunInterrupted (exit 130/143); a second signal stops at once.
        """
        first: dt.date | None = None
        count = 0
        task = asyncio.current_task()
        stop = SignalStop(lambda: self._cancel_feed_wait(task), self._force_stop).install()
        try:
            while cycles is None or count < cycles:
                if stop.requested:
                    break
                if until is not None and self.as_of is not None and self.as_of >= until:
                    break
                if until is not None and not self._next_within(until):
                    break
                done = await self.step()
                if done is None:
                    break
                first = first or done.session
                count += 1
                if on_cycle:
                    on_cycle(done)
        except asyncio.CancelledError:
            if stop.signum is None:
                self._record_run_end("interrupted", first, count)
                raise
        except BaseException:
            self._record_run_end("failed" if count == 0 else "interrupted", first, count)
            raise
        finally:
            stop.uninstall()
        if stop.signum is not None:
            self._record_run_end("interrupted", first, count)
            kept = f"sessions up to {self.as_of} are kept" if self.as_of else "no session was committed"
            raise RunInterrupted(
                stop.signum,
                f"interrupted by {signal_name(stop.signum)} after {count} session(s) this run; {kept}",
                "run the same command again to resume",
            )
        self._record_run_end("finished", first, count)
        return RunSummary(self.run_id, count, first, self.as_of if count else None, self.last_equity(), self.exhausted)

    def _cancel_feed_wait(self, task: asyncio.Task | None) -> bool:
        """Cancel the run while it only waits for the feed (nothing to commit); True if cancelled."""
        if not self._waiting_for_feed or task is None:
            return False
        self.feed.close()  # wake a live feed sleeping until the next close
        task.cancel()
        return True

    def _force_stop(self, signum: int) -> None:
        """Second signal: record the stop and leave now; the open cycle is never committed."""
        try:
            self._record_run_end("interrupted", None, -1)
        finally:
            exit_now(
                signum,
                f"pmax: stopped by {signal_name(signum)}; the session in flight was rolled back "
                f"(the database keeps sessions up to {self.as_of}) — run again to resume",
            )

    def _next_within(self, until: dt.date) -> bool:
        """Whether the next session is on or before `until` (always, when the feed can't tell)."""
        upcoming = self.feed.upcoming(self.as_of)
        return upcoming is None or (bool(upcoming) and upcoming[0] <= until)

    def close(self, status: str = "finished") -> None:
        """Record how this engine's run ended (the TUI calls it on quit)."""
        self._record_run_end(status, None, -1)

    def _record_run_start(self) -> None:
        if self._run_recorded:
            return
        self._run_recorded = True
        cur = self.store.cursor()
        try:
            append(
                cur,
                "runs",
                pd.DataFrame(
                    [
                        {
                            "run_id": self.run_id,
                            "started_at": pd.Timestamp.now(),
                            "mode": self.mode,
                            "account": self.account,
                            "status": "running",
                            "pid": os.getpid(),
                            "sessions": 0,
                            "detail": self.feed.describe(),
                            "config_hash": self.setup.config_hash,
                            "universe": self.setup.universe_text,
                            "data_source": self.setup.data_source,
                        }
                    ]
                ),
            )
        finally:
            cur.close()

    def _record_run_end(self, status: str, first: dt.date | None, count: int) -> None:
        """Close the `runs` row; count < 0 means "derive from `cycles`" (the TUI's run)."""
        if not self._run_recorded:
            return
        cur = self.store.cursor()
        try:
            if count < 0:
                cur.execute(
                    "UPDATE runs SET finished_at = now(), status = ?, first_session = c.lo, last_session = c.hi, "
                    "sessions = c.n FROM (SELECT min(session) AS lo, max(session) AS hi, count(*) AS n FROM cycles "
                    "WHERE run_id = ?) c WHERE runs.run_id = ?",
                    [status, self.run_id, self.run_id],
                )
            else:
                cur.execute(
                    "UPDATE runs SET finished_at = now(), status = ?, first_session = ?, last_session = ?, "
                    "sessions = ? WHERE run_id = ?",
                    [status, first, self.as_of if count else None, count, self.run_id],
                )
        finally:
            cur.close()
