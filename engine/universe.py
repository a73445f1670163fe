"""Watchlist changes while the engine runs: queued from any thread, applied at the next cycle.

`Engine.request_universe_change(add=…, remove=…, liquidate=…)` validates the request
(an added ticker must be in the replay file, or be fetched in live mode) and queues it;
the engine applies the queue at the start of its next cycle, inside that cycle's
transaction:

- an added ticker joins the universe and its history up to the session is ingested
  (gated like warm-up) so features and forecasts can use it;
- a removed ticker that is not held leaves the universe;
- a removed ticker that is held and not liquidated is *kept*: it leaves the watchlist
  but stays in the managed universe (marked, forecast, signalled, sized, under every
  risk limit) until it is flat;
- a liquidated ticker gets target weight 0: the portfolio stage orders the exit
  (intent `liquidate`) and the broker sells at the next session's open like any other
  order (costs, fills, events); it stays priced until flat, then leaves.

Stages read the universe through `managed_tickers(ctx)` / `priced_tickers(ctx)` /
`liquidating(ctx)`; without any change they fall back to `[data] watchlist`, so a run
that never changes its universe behaves exactly as before.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, name_some
from engine.events import Event

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from engine.cycle import CycleContext
    from engine.feeds import Feed

UNIVERSE_KEY = "universe"
BACKFILL_KEY = "universe.backfill"


@dataclass(frozen=True)
class Universe:
    """Who the engine trades: the watchlist, held names kept off it, names being sold."""

    watch: tuple[str, ...]
    kept: tuple[str, ...] = ()
    liquidating: tuple[str, ...] = ()

    @property
    def managed(self) -> tuple[str, ...]:
        """Forecast, signalled and traded toward a target."""
        return tuple(sorted(set(self.watch) | set(self.kept)))

    @property
    def delivered(self) -> tuple[str, ...]:
        """Every name the feed must deliver bars for (the managed ones and those being sold)."""
        return tuple(sorted(set(self.managed) | set(self.liquidating)))


@dataclass(frozen=True)
class UniverseChanged(Event):
    """The universe changed at the start of `session` (see `engine.universe`)."""

    session: dt.date
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    liquidating: tuple[str, ...]
    left: tuple[str, ...] = ()  # kept or liquidated names now flat
    backfilled: int = 0  # history bars ingested for the added names


@dataclass(frozen=True)
class ChangeRequest:
    """One queued request (plain tuples: picklable across a process boundary)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    liquidate: tuple[str, ...] = ()
    requested_at: dt.datetime = field(default_factory=dt.datetime.now)


@dataclass(frozen=True)
class UniversePlan:
    """What the next cycle applies: the universe after, and what to record and publish."""

    after: Universe
    actions: dict[str, str]  # ticker -> add | remove | keep | liquidate | left
    requested_at: dict[str, dt.datetime]  # ticker -> when its last request came (now: housekeeping)
    n_requests: int
    backfill: pd.DataFrame | None = None

    def event(self, session: dt.date) -> UniverseChanged:
        def named(action: str) -> tuple[str, ...]:
            return tuple(sorted(t for t, a in self.actions.items() if a == action))

        rows = 0 if self.backfill is None else len(self.backfill)
        return UniverseChanged(
            session, named("add"), named("remove"), named("keep"), named("liquidate"), named("left"), rows
        )


def _names(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(dict.fromkeys(str(v).strip().upper() for v in values if str(v).strip()))


def check_symbols(names: Sequence[str]) -> None:
    """InputError for anything that is not a ticker symbol."""
    from engine.config_rules import TICKER_PATTERN

    bad = [n for n in names if not TICKER_PATTERN.match(n)]
    if bad:
        raise InputError(
            f"{bad[0][:24]!r} is not a ticker symbol; nothing changed",
            "tickers are 1-10 letters, digits, '.' or '-' (BRK.B, BF-B)",
        )


class UniverseDesk:
    """The queue of requests and the universe in force; safe to call from any thread."""

    def __init__(self, feed: Feed, base: Sequence[str]) -> None:
        self.feed = feed
        self.current = Universe(tuple(sorted(base)))
        self.changed = False  # False: stages read [data] watchlist as before
        self._pending: list[ChangeRequest] = []
        self._lock = threading.Lock()

    # -- any thread ----------------------------------------------------------------
    def request(
        self,
        add: Iterable[str] | str | None = None,
        remove: Iterable[str] | str | None = None,
        liquidate: Iterable[str] | str | None = None,
    ) -> ChangeRequest:
        """Validate and queue a change (see `Engine.request_universe_change`)."""
        adds, removes, sells = _names(add), _names(remove), _names(liquidate)
        removes = tuple(dict.fromkeys(removes + sells))  # liquidating a name removes it
        check_symbols(adds + removes)
        both = sorted(set(adds) & set(removes))
        if both:
            raise InputError(f"{name_some(both, 4)} both added and removed in one request; nothing changed")
        with self._lock:
            planned = self._planned_watch()
        new = [t for t in adds if t not in planned and t not in self.current.delivered]
        if new:
            unknown = self.feed.check_new_tickers(new)  # may fetch (live): off the UI thread
            if unknown:
                verb = "is" if len(unknown) == 1 else "are"
                raise InputError(
                    f"{name_some(unknown, 4)} {verb} not in the data ({self.feed.describe()}); nothing added",
                    "check the symbol; a replay trades only the tickers in its data file (another file: --data FILE)",
                )
        req = ChangeRequest(adds, removes, sells)
        with self._lock:
            self._pending.append(req)
        return req

    def pending(self) -> list[ChangeRequest]:
        with self._lock:
            return list(self._pending)

    def _planned_watch(self) -> set[str]:
        """The watchlist once the queued requests apply (lock held)."""
        watch = set(self.current.watch)
        for req in self._pending:
            watch = (watch | set(req.add)) - set(req.remove)
        return watch

    # -- the engine's feed thread ----------------------------------------------------
    def plan(self, con: duckdb.DuckDBPyConnection, account: str) -> UniversePlan | None:
        """The change the next cycle applies (None: nothing to do)."""
        queued = self.pending()
        cur = self.current
        if not queued and not cur.kept and not cur.liquidating:
            return None
        watch, sell_intent = set(cur.watch), {}
        asked: dict[str, dt.datetime] = {}
        for req in queued:
            watch = (watch | set(req.add)) - set(req.remove)
            sell_intent.update({t: t in req.liquidate for t in req.remove})
            asked.update(dict.fromkeys(req.add + req.remove, req.requested_at))
            for t in req.add:
                sell_intent.pop(t, None)
        was_out = set(cur.kept) | set(cur.liquidating)
        touched = sorted(set(sell_intent) | (watch ^ set(cur.watch)) | was_out)
        held = set(held_names(con, account, touched))
        kept, selling = set(cur.kept) - watch, set(cur.liquidating) - watch
        actions: dict[str, str] = {}
        for t in touched:
            if t in watch:
                if t not in cur.watch:
                    actions[t] = "add"
                continue
            if t in sell_intent and (t in cur.watch or t in was_out):
                if t in held and sell_intent[t] and t not in cur.liquidating:
                    actions[t] = "liquidate"
                    kept.discard(t)
                    selling.add(t)
                elif t in held and not sell_intent[t] and t in cur.watch:
                    actions[t] = "keep"
                    kept.add(t)
                elif t not in held and t in cur.watch:
                    actions[t] = "remove"
            if t not in held and t in kept | selling:
                actions[t] = "left"  # a kept or liquidated name that is now flat
                kept.discard(t)
                selling.discard(t)
        after = Universe(tuple(sorted(watch)), tuple(sorted(kept)), tuple(sorted(selling)))
        if after == cur and not actions:
            self._drop(len(queued))  # e.g. removed and added back before the cycle
            return None
        now = dt.datetime.now()
        return UniversePlan(after, actions, {t: asked.get(t, now) for t in actions}, len(queued))

    def with_backfill(self, plan: UniversePlan, session: dt.date) -> UniversePlan:
        """`plan` plus the history of its added names before `session`."""
        added = sorted(t for t, a in plan.actions.items() if a == "add" and t not in self.current.delivered)
        if not added:
            return plan
        return replace(plan, backfill=self.feed.history_of(added, session))

    def _drop(self, n: int) -> None:
        with self._lock:
            del self._pending[:n]

    def commit(self, plan: UniversePlan) -> None:
        """The cycle that applied `plan` committed: it is the universe in force now."""
        with self._lock:
            del self._pending[: plan.n_requests]
            self.current = plan.after
            self.changed = True

    # -- start-up --------------------------------------------------------------------
    def restore(self, con: duckdb.DuckDBPyConnection, account: str) -> list[str]:
        """Keep managing held names a past run added, kept or was liquidating; returns notes."""
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'universe_changes'").fetchall()[0][
            0
        ]:
            return []  # a read-only database from before migration 98
        rows = con.execute(
            "SELECT ticker, action FROM universe_changes WHERE account = ? "
            "QUALIFY row_number() OVER (PARTITION BY ticker ORDER BY session DESC) = 1",
            [account],
        ).fetchall()
        last = {t: a for t, a in rows if t not in self.current.watch}
        held = set(held_names(con, account, sorted(last)))
        kept = sorted(t for t, a in last.items() if a in ("add", "keep") and t in held)
        selling = sorted(t for t, a in last.items() if a == "liquidate" and t in held)
        known = [t for t in kept + selling if not self.feed.check_new_tickers([t])]
        kept, selling = [t for t in kept if t in known], [t for t in selling if t in known]
        if not kept and not selling:
            return []
        self.current = Universe(self.current.watch, tuple(kept), tuple(selling))
        self.changed = True
        self.feed.deliver(self.current.delivered)
        notes = []
        if kept:
            notes.append(
                f"still managing {name_some(kept, 6)}: held, added or kept by an earlier run "
                "though not in [data] watchlist"
            )
        if selling:
            notes.append(f"still liquidating {name_some(selling, 6)} (held; removed by an earlier run)")
        return notes


def held_names(con: Any, account: str, names: Sequence[str]) -> list[str]:
    """Those of `names` the account holds after its last committed session."""
    if not names:
        return []
    rows = con.execute(
        "SELECT ticker FROM positions WHERE account = ? AND qty <> 0 AND list_contains(?, ticker) AND as_of = "
        "(SELECT max(as_of) FROM positions WHERE account = ?) ORDER BY ticker",
        [account, list(names), account],
    ).fetchall()
    return [r[0] for r in rows]


def record(con: duckdb.DuckDBPyConnection, account: str, session: dt.date, plan: UniversePlan, run_id: str) -> None:
    """Write the plan's actions (inside the cycle's transaction) and the run's new universe."""
    import pandas as pd

    from engine.store import upsert

    if plan.actions:
        upsert(
            con,
            "universe_changes",
            pd.DataFrame(
                {
                    "account": account,
                    "session": pd.Timestamp(session),
                    "ticker": list(plan.actions),
                    "action": list(plan.actions.values()),
                    "requested_at": [pd.Timestamp(plan.requested_at[t]) for t in plan.actions],
                }
            ),
        )
    con.execute("UPDATE runs SET universe = ? WHERE run_id = ?", [",".join(plan.after.delivered), run_id])


# -- what stages read ---------------------------------------------------------------


def _universe(ctx: CycleContext) -> Universe | None:
    got = ctx.state.get(UNIVERSE_KEY)
    return got if isinstance(got, Universe) else None


def managed_tickers(ctx: CycleContext) -> list[str] | None:
    """Tickers to forecast and signal (None: every ticker with bars)."""
    u = _universe(ctx)
    if u is None:
        return [t.upper() for t in (ctx.config.get("data.watchlist") or [])] or None
    return list(u.managed)


def priced_tickers(ctx: CycleContext) -> list[str] | None:
    """Tickers to price and mark: the managed ones and those being liquidated."""
    u = _universe(ctx)
    if u is None:
        return managed_tickers(ctx)
    return list(u.delivered)


def liquidating(ctx: CycleContext) -> frozenset[str]:
    """Held names being sold: target 0, outside the benchmark and the signals."""
    u = _universe(ctx)
    return frozenset(u.liquidating) if u is not None else frozenset()
