"""`LiveFeed`: one cycle per completed NYSE session, bars fetched with failover.

The feed follows the exchange calendar (holidays, half days). A session is ready
`[live] close_delay_minutes` after its close. The first cycle (a fresh account)
delivers `[live] warmup_sessions` of history up to the last completed session as
warm-up; later cycles deliver one session each, waiting for its close when asked
for a session that has not closed yet (or returning None when
`[live] wait_for_close` is false).

Names added while running (`engine.universe`) are fetched when requested (their
`[live] warmup_sessions` of history is the backfill); a fetch that fails refuses the
addition with the providers' errors.

When every provider fails, the feed works from the store's cached bars and marks
the batch stale, with a one-line `reason`; with nothing cached it raises
`DataUnavailableError` naming what failed (the CLI prints it and exits 1).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from engine.data import calendar as xcal
from engine.data.cache import cached_bars, fetch_with_failover
from engine.data.deadline import Deadline
from engine.data.providers.base import BAR_COLUMNS, MarketDataProvider
from engine.data.providers.registry import build_providers
from engine.errors import DataUnavailableError
from engine.feeds import Feed, FeedBatch

if TYPE_CHECKING:
    from engine.config import Config
    from engine.store import Store

log = logging.getLogger("pmax.data")
_NETWORK = re.compile(r"network|unreachable|DNS|timed out|no answer|connection|HTTP|refused", re.IGNORECASE)


@dataclass(frozen=True)
class LiveBatch(FeedBatch):
    """A FeedBatch that also says why it is stale (empty when fresh)."""

    reason: str = ""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LiveFeed(Feed):
    """Live daily bars on the NYSE calendar; see the module docstring."""

    def __init__(
        self,
        store: Store | None,
        config: Config,
        providers: Sequence[MarketDataProvider] | None = None,
        *,
        tickers: Sequence[str] | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.providers = list(providers) if providers is not None else build_providers(config)
        self.clock = clock
        self.on_notice = on_notice or (lambda line: log.warning(line))
        live = config.live
        self.delay = dt.timedelta(minutes=live.close_delay_minutes)
        self.warmup_sessions = live.warmup_sessions
        self.wait_for_close = live.wait_for_close
        self.poll_s = live.poll_s
        self.tickers = [t.upper() for t in (tickers or config.data.watchlist or self._default_tickers())]
        self._stop = threading.Event()
        self._joining: dict[str, pd.DataFrame] = {}  # history fetched for names being added

    def _default_tickers(self) -> list[str]:
        if self.store is not None:
            rows = self.store.query_df("SELECT DISTINCT ticker FROM bars ORDER BY ticker")
            if len(rows):
                return list(rows["ticker"])
        from engine.data.providers.local import LocalFileProvider

        return sorted(LocalFileProvider().frame()["ticker"].unique())

    def describe(self) -> str:
        names = " → ".join(p.name for p in self.providers) or "no sources"
        return f"live NYSE feed ({names}), {len(self.tickers)} tickers"

    def universe(self) -> list[str]:
        return list(self.tickers)

    def close(self) -> None:
        """Wake and stop a wait for the next close (shutdown)."""
        self._stop.set()

    # -- universe changes while running (engine.universe) ---------------------------

    def check_new_tickers(self, tickers: Sequence[str]) -> list[str]:
        """Fetch the new names' history now (kept for the backfill); those no source has."""
        ready = xcal.last_completed_session(self.clock(), self.delay)
        fetched = fetch_with_failover(
            self.providers,
            list(tickers),
            self._warmup_start(ready),
            ready,
            Deadline.from_config(self.config),
            self.on_notice,
            self._stop,
        )
        bars = fetched.bars
        if bars.empty and any(_NETWORK.search(e) for e in fetched.errors):  # else: no source knows them
            raise DataUnavailableError(
                f"could not fetch {', '.join(tickers)}: {'; '.join(fetched.errors)}",
                "check the network and add it again; nothing was added",
            )
        if len(bars):
            frame = _bar_frame(bars)
            for t, rows in frame.groupby("ticker"):
                self._joining[str(t)] = rows
        return [t for t in tickers if t not in self._joining]

    def deliver(self, tickers: Sequence[str]) -> None:
        self.tickers = list(tickers)

    def history_of(self, tickers: Sequence[str], before: dt.date) -> pd.DataFrame:
        rows = [self._joining.pop(t) for t in tickers if t in self._joining]
        if not rows:
            return pd.DataFrame(columns=BAR_COLUMNS)
        frame = pd.concat(rows, ignore_index=True)
        return frame[frame["date"] < before].reset_index(drop=True)

    # -- the Feed interface -------------------------------------------------------

    def next_batch(self, after: dt.date | None) -> LiveBatch | None:
        ready = xcal.last_completed_session(self.clock(), self.delay)
        if after is None:
            session, warmup = ready, True
        else:
            session, warmup = xcal.next_session(after), False
            if session > ready and not self._wait_until_ready(session):
                return None
        first = self._warmup_start(session) if warmup else session
        fetched = fetch_with_failover(
            self.providers, self.tickers, first, session, Deadline.from_config(self.config), self.on_notice, self._stop
        )
        bars = fetched.bars
        if len(bars) and (bars["date"] == session).any():
            if fetched.errors:
                self.on_notice("live: some sources failed (" + "; ".join(fetched.errors) + ")")
            source = "+".join(fetched.sources)
            return LiveBatch(session, self._index(session), _bar_frame(bars), warmup, source, False, "")
        return self._from_cache(
            after, session, first, warmup, fetched.errors or [f"no source has bars for {session} yet"]
        )

    # -- helpers ------------------------------------------------------------------

    def _wait_until_ready(self, session: dt.date) -> bool:
        """Sleep until `session` is ready; False when not waiting or stopped."""
        if not self.wait_for_close:
            return False
        due = xcal.session_close(session) + self.delay
        self.on_notice(f"live: waiting for the {session} close (data from {due:%Y-%m-%d %H:%M} UTC)")
        while not self._stop.is_set():
            left = (due - self.clock()).total_seconds()
            if left <= 0:
                return True
            self._stop.wait(min(self.poll_s, left))
        return False

    def _warmup_start(self, session: dt.date) -> dt.date:
        span = xcal.sessions_between(session - dt.timedelta(days=self.warmup_sessions * 2 + 10), session)
        return span[-self.warmup_sessions] if len(span) >= self.warmup_sessions else span[0]

    def _index(self, session: dt.date) -> int:
        pos, _ = xcal.session_positions(pd.to_datetime([session]).to_numpy().astype("datetime64[D]"))
        return int(pos[0])

    def _from_cache(
        self, after: dt.date | None, session: dt.date, first: dt.date, warmup: bool, errors: list[str]
    ) -> LiveBatch:
        failed = "; ".join(errors)
        cached = pd.DataFrame()
        if self.store is not None:
            lo = None if warmup else (after + dt.timedelta(days=1) if after else None)
            cached = cached_bars(self.store.con, self.tickers, lo, session)
            cached = cached[~cached["quarantined"].astype(bool)]
        if cached.empty:
            where = f" in {self.store.path}" if self.store is not None else ""
            what = "no cached bars" if warmup else f"no cached bars after {after}"
            raise DataUnavailableError(
                f"live data unavailable: {failed}; {what}{where}",
                "check the network, or import history with `pmax data import FILE`",
            )
        last = max(cached["date"])
        if warmup:
            start = self._warmup_start(last) if xcal.is_session(last) else min(cached["date"])
            cached = cached[cached["date"] >= start]
            bars = cached
        else:
            last = min(cached["date"])  # the first cached session after `after`
            bars = cached[cached["date"] == last]
        reason = f"{failed}; using cached bars up to {last}"
        self.on_notice(f"live: sources failed ({failed}); working from cached bars up to {last} (stale)")
        # Keep the bars' original source; `stale` says they came from the cache.
        src = "+".join(sorted(bars["source"].dropna().unique())) or "cache"
        return LiveBatch(last, self._index(last), _bar_frame(bars), warmup, src, True, reason)


def _bar_frame(bars: pd.DataFrame) -> pd.DataFrame:
    out = bars[BAR_COLUMNS].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
