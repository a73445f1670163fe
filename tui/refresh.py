"""Re-reading the store while the loop runs, without holding keys up (issue 12).

`RefreshMixin` (mixed into `PmaxApp`) reads the store on a worker thread at most once
per batch interval and applies the result to the panes so that a key press never
waits for a whole refresh:

- the worker compares the new read with the previous one and names the panes whose
  data changed; unchanged panes are not touched (no re-render);
- changed panes are applied one per slice, the active pane first, with a screen
  refresh between slices (`call_after_refresh`), so keys are handled between them;
- a slice waits while the user is typing (a key in the last `INPUT_QUIET_S`), for at
  most `INPUT_DEFER_MAX_S`, and so does the start of a read (its worker competes
  for the GIL);
- a pane the user cannot see (tabs layout: not the active tab; zoomed: not the
  zoomed pane) is not drawn: its latest data is kept and applied when it is shown;
- reads coalesce: a new read starts only once the previous one is applied, so when
  cycles come faster than they can be painted the latest state wins.

No handler touches the database on the UI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.css.query import NoMatches

from tui.messages import FirstRowsLoaded, ForecastLoaded, SnapshotLoaded
from tui.panes.forecasts import ForecastsPane
from tui.panes.risk import RiskPane
from tui.panes.signals import SignalsPane
from tui.panes.views import ForecastView, RiskView, Snapshot, WatchRow
from tui.panes.watchlist import WatchlistPane
from tui.reads import read_panes

if TYPE_CHECKING:
    import pandas as pd

INPUT_QUIET_S = 0.15  # a slice waits until no key came for this long…
INPUT_DEFER_MAX_S = 1.0  # …but never longer than this after its data arrived


def _same_frame(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return a.shape == b.shape and list(a.columns) == list(b.columns) and bool(a.equals(b))
    except (TypeError, ValueError):
        return False


def _same_value(a: Any, b: Any) -> bool:
    """Equality that treats missing as equal to missing (risk rows carry NaN and pd.NA)."""
    import pandas as pd

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if a is b:
        return True
    try:
        if pd.api.types.is_scalar(a) and pd.api.types.is_scalar(b) and pd.isna(a) and pd.isna(b):
            return True  # NaN, NaT, None and pd.NA
    except (TypeError, ValueError):
        pass
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _same_risk(a: RiskView, b: RiskView) -> bool:
    frames = ("equity", "positions", "fills", "rejections")
    return (
        all(_same_frame(getattr(a, f), getattr(b, f)) for f in frames)
        and a.regime == b.regime
        and _same_value(a.risk, b.risk)
        and _same_value(a.report, b.report)
    )


def _same_forecast(a: ForecastView | None, b: ForecastView | None) -> bool:
    if a is None or b is None:
        return a is b
    return (
        a.ticker == b.ticker
        and a.as_of == b.as_of
        and all(_same_frame(getattr(a, f), getattr(b, f)) for f in ("closes", "forecasts", "weights", "fills"))
    )


def changed_panes(
    old: tuple[Snapshot, ForecastView | None] | None, snap: Snapshot, view: ForecastView | None
) -> set[str]:
    """The panes whose data differs between two reads (all of them on the first)."""
    if old is None:
        return {"watchlist", "signals", "risk", "forecasts"}
    prev, prev_view = old
    out: set[str] = set()
    if prev.watch != snap.watch:
        out.add("watchlist")
    if not _same_frame(prev.signals, snap.signals):
        out.add("signals")
    if not _same_risk(prev.risk, snap.risk):
        out.add("risk")
    if not _same_forecast(prev_view, view):
        out.add("forecasts")
    return out


class RefreshMixin:
    """Store reads on workers, applied pane by pane (mixed into PmaxApp)."""

    app_attrs: Any  # the mixin relies on PmaxApp's attributes (engine, ticker, snapshot, …)

    def _init_refresh(self) -> None:
        self._last_input = 0.0
        self._last_read: tuple[Snapshot, ForecastView | None] | None = None  # worker-side
        self._slices: list[tuple[str, Callable[[], None]]] = []
        self._slices_since = 0.0
        self._slice_gen = 0
        self._stale: dict[str, Callable[[], None]] = {}
        self._dirty_since: float | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._last_input = time.monotonic()
        await super().on_event(event)  # type: ignore[misc]

    def _input_recent(self, since: float) -> bool:
        now = time.monotonic()
        return now - self._last_input < INPUT_QUIET_S and now - since < INPUT_DEFER_MAX_S

    # ----- reading ----------------------------------------------------------------
    def _batch_tick(self) -> None:
        """Batch timer: one read per interval at most, only when something changed and the
        previous read is applied; held back while the user is typing (up to a second)."""
        app: Any = self
        if not app._dirty:
            self._dirty_since = None
            return
        if app.cursor_factory is None:
            app._dirty = False
            app.query_one(WatchlistPane).set_rows([], "No database is open: start pmax with --db PATH.")
            return
        if app._refreshing:
            return
        self._dirty_since = self._dirty_since or time.monotonic()
        if self._input_recent(self._dirty_since):
            return
        app._dirty = False
        self._dirty_since = None
        app._refreshing = True
        self._read_store(app.ticker, list(app.watchlist))

    @work(thread=True, group="refresh", exit_on_error=False)
    def _read_store(self, ticker: str | None, watchlist: list[str]) -> None:
        app: Any = self
        posted = False
        try:
            early = getattr(app, "first_read", None)  # started at launch, before Textual and pandas loaded
            app.first_read = None
            if early is not None and early.exception() is None:  # a failed one: the full read meets it too
                app.post_message(FirstRowsLoaded(early.result()))
            snap, view = read_panes(app.cursor_factory, app.account, ticker, watchlist, app.tui)
            changed = changed_panes(self._last_read, snap, view)
            self._last_read = (snap, view)
            app.post_message(SnapshotLoaded(snap, view, changed))
            posted = True
        finally:
            if not posted:
                app._refreshing = False

    # ----- applying -----------------------------------------------------------------
    def on_first_rows_loaded(self, message: FirstRowsLoaded) -> None:
        """Draw the watchlist from the launcher's first read while the full read runs."""
        app: Any = self
        first = message.rows
        if app.snapshot is not None or not app.query(WatchlistPane):  # the full read came first / closing
            return
        app.sessions = first.sessions
        app.as_of = getattr(app.engine, "as_of", None) or first.as_of
        if app.ticker is None and first.watch:
            app.ticker = first.watch[0].ticker
        app._show_status()
        self._apply_watchlist(first.watch)

    def on_snapshot_loaded(self, message: SnapshotLoaded) -> None:
        app: Any = self
        if not app.query(WatchlistPane):  # a read that lands while the app closes
            return
        snap = message.snapshot
        app.snapshot = snap
        app.sessions = snap.sessions
        app.as_of = getattr(app.engine, "as_of", None) or snap.as_of
        if app.ticker is None and snap.watch:
            app.ticker = snap.watch[0].ticker
        app._show_status()
        steps = {
            "watchlist": lambda: self._apply_watchlist(snap.watch),
            "signals": lambda: self._apply_signals(snap),
            "risk": lambda: app.query_one(RiskPane).set_view(snap.risk),
        }
        view = message.forecast
        if view is not None:
            steps["forecasts"] = lambda: self._apply_forecast(view)
        else:
            app.query_one(ForecastsPane).no_ticker()
        if app.ticker is not None and "signals" not in message.changed:
            try:
                app.query_one(SignalsPane).follow(app.ticker)
            except NoMatches:  # a read that lands while the app closes
                return
        order = [app.active_pane] + [p for p in app.PANE_IDS if p != app.active_pane]
        self._slices = [(p, steps[p]) for p in order if p in steps and p in message.changed]
        self._slices_since = time.monotonic()
        self._slice_gen += 1
        self._apply_next(self._slice_gen)

    def _apply_next(self, gen: int) -> None:
        """Apply one pane (or keep it for when it is shown), then yield to a screen refresh."""
        app: Any = self
        if gen != self._slice_gen:
            return  # a newer read replaced this one
        if self._slices and self._input_recent(self._slices_since):
            app.set_timer(INPUT_QUIET_S / 2, lambda: self._apply_next(gen))
            return
        while self._slices:
            pane_id, step = self._slices.pop(0)
            if not self.pane_visible(pane_id):
                self._stale[pane_id] = step
                continue
            self._stale.pop(pane_id, None)
            try:
                step()
            except NoMatches:  # the panes are gone (the app is closing): nothing to draw
                self._slices.clear()
                break
            if self._slices:
                app.call_after_refresh(lambda: self._apply_next(gen))
                return
        app._refreshing = False

    def _apply_watchlist(self, rows: Sequence[WatchRow]) -> None:
        app: Any = self
        watch = app.query_one(WatchlistPane)
        if not rows:
            if app.engine is None:
                hint = "run `pmax --run` to fill the database"
            elif app.paused:
                hint = "press n to step one session or space to run the replay"
            else:
                hint = "the first session is being computed (models fit on the history first)"
            empty = f"No bars stored yet: {hint}."
        else:
            empty = ""
        watch.selected = app.ticker
        watch.set_rows(rows, empty)

    def _apply_signals(self, snap: Snapshot) -> None:
        app: Any = self
        app.query_one(SignalsPane).set_signals(snap.signals, app.ticker)

    def _apply_forecast(self, view: ForecastView) -> None:
        app: Any = self
        if view.ticker == app.ticker:
            app.query_one(ForecastsPane).set_view(view)

    def pane_visible(self, pane_id: str) -> bool:
        """Whether the user can see `pane_id` now (tabs: the active tab; zoomed: that pane)."""
        app: Any = self
        if app.tab_mode and pane_id != app.active_pane:
            return False
        try:
            zoomed = app.screen.maximized
        except Exception:  # noqa: BLE001 - no screen yet / shutting down: treat as shown
            zoomed = None
        return zoomed is None or getattr(zoomed, "id", None) == pane_id

    def _apply_stale(self) -> None:
        """Draw the data a pane missed while it was hidden (called when panes are shown)."""
        for pane_id in [p for p in self._stale if self.pane_visible(p)]:
            self._stale.pop(pane_id)()

    # ----- the selected ticker's forecasts ------------------------------------------
    @work(thread=True, group="forecast", exclusive=True, exit_on_error=False)
    def _load_forecast(self, ticker: str) -> None:
        app: Any = self
        if app.cursor_factory is None:
            return
        from tui.panes.queries import load_forecast

        cur = app.cursor_factory()
        try:
            view = load_forecast(cur, app.account, ticker, int(app.tui.chart_sessions))
        finally:
            cur.close()
        app.post_message(ForecastLoaded(view))

    def on_forecast_loaded(self, message: ForecastLoaded) -> None:
        app: Any = self
        if message.view.ticker != app.ticker:
            return
        if not app.query(ForecastsPane):  # a read that lands while the app closes
            return
        if self.pane_visible(ForecastsPane.PANE_ID):
            self._stale.pop(ForecastsPane.PANE_ID, None)
            app.query_one(ForecastsPane).set_view(message.view)
        else:
            self._stale[ForecastsPane.PANE_ID] = lambda: self._apply_forecast(message.view)
