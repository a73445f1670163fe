"""The Textual app: five panes over the store, driven by the engine's events.

`PmaxApp(engine=…, store=…, config=…, copilot_factory=…)` runs the engine's cycles on
its own event loop (an async worker: step, wait `replay.interval_s`, step…) unless
paused, turns engine events into Textual messages, and re-reads the store on worker
threads with their own cursors, at most once per batch interval, applying the result
pane by pane (`tui.refresh`). No handler touches the database on the UI thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Container
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Tab

from tui.edits import EditsMixin
from tui.eventlog import LogMixin
from tui.export import ExportMixin
from tui.keymap import bindings, conflicts, unknown_ids
from tui.layout import LayoutMixin
from tui.messages import EngineEvent, PaneTabs
from tui.panes.base import Pane, TickerSelected
from tui.panes.copilot import CopilotPane
from tui.panes.forecasts import ForecastsPane
from tui.panes.risk import RiskPane
from tui.panes.signals import SignalsPane
from tui.panes.views import Snapshot
from tui.panes.watchlist import WatchlistPane
from tui.refresh import RefreshMixin
from tui.widgets.footer import CalmFooter
from tui.widgets.palette import PmaxCommands, system_commands
from tui.widgets.status import HeaderState, StatusBar
from tui.widgets.text import glyphs

PANES: tuple[type[Pane], ...] = (WatchlistPane, ForecastsPane, SignalsPane, RiskPane, CopilotPane)
UNIVERSE_HOOK = "request_universe_change"  # the engine API that queues a watchlist change


class PmaxApp(LayoutMixin, LogMixin, EditsMixin, ExportMixin, RefreshMixin, App[None]):
    """pmax's terminal UI."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "pmax"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {PmaxCommands}
    PANE_IDS = tuple(p.PANE_ID for p in PANES)
    ALLOW_IN_MAXIMIZED_VIEW = "CalmFooter, StatusBar"

    def __init__(
        self,
        engine: Any = None,
        store: Any = None,
        config: Any = None,
        copilot_factory: Callable[[], Any] | None = None,
        *,
        cursor_factory: Callable[[], Any] | None = None,
        paused: bool | None = None,
    ) -> None:
        super().__init__()
        if config is None:
            from engine.config import load_config

            config = load_config()
        self.engine = engine
        self.store = store
        self.config = config
        self.cursor_factory = cursor_factory or (store.cursor if store is not None else None)
        self.account: str = getattr(engine, "account", None) or config.app.account
        tui = config.section("tui")
        self.tui = tui
        self.watchlist: list[str] = [t.upper() for t in config.data.watchlist]
        self.interval = config.replay.interval_s
        self.paused = bool(tui.start_paused if paused is None else paused) or engine is None
        self.copilot_factory = copilot_factory or self._default_copilot_factory()
        self.keymap = {str(k): str(v) for k, v in config.section("keymap").items()}
        self.set_keymap(self.keymap)
        self.theme = tui.theme if tui.theme in self.available_themes else "textual-dark"
        self._init_edits()
        self._init_log()
        self._init_refresh()
        self.as_of: dt.date | None = getattr(engine, "as_of", None)
        self.sessions = 0
        self.ticker: str | None = None
        self.snapshot: Snapshot | None = None
        self.active_pane = PANES[0].PANE_ID
        self.tab_mode = False
        self._dirty = True
        self._refreshing = False
        self._stepping = False
        self._finished = False
        self._resume = asyncio.Event()
        self._forecast_timer: Any = None

    # ----- composition and layout -------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield PaneTabs(*(Tab(p.TITLE, id=f"tab-{p.PANE_ID}") for p in PANES), id="tabs")
        with Container(id="panes"):
            for pane in PANES:
                if pane is CopilotPane:
                    yield CopilotPane(self.copilot_factory, cursor_blink=self.tui.cursor_blink)
                elif pane is ForecastsPane:
                    yield ForecastsPane(self.config.signals.horizon)
                else:
                    yield pane()
        yield CalmFooter()

    def on_mount(self) -> None:
        bad = unknown_ids(self.keymap)
        if bad:
            self.notify(
                f"[keymap] names unknown binding ids: {', '.join(bad)} (see ? for ids)", severity="warning", timeout=8
            )
        for first, second, key in conflicts(self.keymap):
            self.notify(
                f"[keymap] {first} and {second} are both bound to {key!r}; {first} wins. Remap one of them.",
                severity="warning",
                timeout=10,
            )
        self.set_class(glyphs().ascii, "-ascii")
        for table in self.query("DataTable"):
            table.cursor_blink = False
        self._apply_layout(self.size.width, self.size.height)
        self.query_one(WatchlistPane).focus_primary()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.watch(self.screen, "maximized", self._zoom_changed, init=False)
        if self.engine is not None:
            self.engine.subscribe(self._engine_callback)
            self._cycle_loop()
        self.set_interval(self.tui.batch_ms / 1000.0, self._batch_tick)
        self._batch_tick()
        self._show_status()

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def action_help(self) -> None:
        from tui.help import HelpScreen

        self.push_screen(HelpScreen(self.keymap))

    # ----- the engine loop ----------------------------------------------------------
    def _engine_callback(self, event: Any) -> None:
        self.post_message(EngineEvent(event))

    @work(group="loop", exclusive=True, exit_on_error=False)
    async def _cycle_loop(self) -> None:
        while not self._finished:
            if self.paused:
                self._resume.clear()
                await self._resume.wait()
                continue
            await self._step_once()
            await asyncio.sleep(self.interval)

    async def _step_once(self) -> None:
        if self.engine is None or self._stepping or self._finished:
            return
        self._stepping = True
        self._show_status()
        try:
            done = await self.engine.step()
        except Exception as exc:  # noqa: BLE001 - a failed cycle pauses the loop and is shown
            self.paused = True
            hint = getattr(exc, "hint", None)
            self.notify(
                f"{getattr(exc, 'message', None) or exc}" + (f"\n{hint}" if hint else ""),
                title="Cycle failed; loop paused",
                severity="error",
                timeout=10,
            )
            done = None
        finally:
            self._stepping = False
        if done is None and getattr(self.engine, "exhausted", False):
            self._finished = True
            self.paused = True
            self.notify(f"Replay finished at {self.as_of}.", timeout=5)
        self._show_status()

    def action_toggle_pause(self) -> None:
        if self.paused:
            self.action_resume()
        else:
            self.action_pause()

    def action_pause(self) -> None:
        self.paused = True
        self._show_status()

    def action_resume(self) -> None:
        if self.engine is None or self._finished:
            self.notify(
                "Nothing to run: " + ("no engine (view only)." if self.engine is None else "the replay has finished."),
                severity="warning",
            )
            return
        self.paused = False
        self._resume.set()
        self._show_status()

    def action_step(self) -> None:
        if self.engine is None or self._finished:
            self.bell()
            return
        if not self.paused:
            self.notify("The loop is running; press space to pause, then n to step.", timeout=3)
            return
        self.run_worker(self._step_once(), group="step", exit_on_error=False)

    def _loop_state(self) -> str:
        if self.engine is None:
            return "view only"
        if self._finished:
            return "finished"
        if self._stepping:
            return "stepping" if self.paused else "running"
        return "paused" if self.paused else "running"

    def _show_status(self) -> None:
        """Assign the header's reactive state (it redraws only when something changed)."""
        bars = self.query(StatusBar)  # absent while the app shuts down under a finishing cycle
        if not bars:
            return
        feed = getattr(self.engine, "feed", None)
        left = None
        if self.engine is not None and feed is not None and hasattr(feed, "calendar") and hasattr(feed, "upcoming"):
            upcoming = feed.upcoming(self.as_of)  # None: not known (yet), or live
            left = len(upcoming) if upcoming is not None else None
        live = getattr(self.engine, "live", None)  # the engine process says; in-process: no schedule = live
        eq_ret = bench_ret = None
        halted: bool | None = None if self.snapshot is None else False  # None until the risk rows are read
        reason = ""
        risk = self.snapshot.risk if self.snapshot is not None else None
        if risk is not None and not risk.equity.empty:
            eq = risk.equity
            start = float(eq["equity"].iloc[0]) or None
            if start:
                eq_ret = float(eq["equity"].iloc[-1]) / start - 1.0
                if "baseline" in eq and eq["baseline"].iloc[-1] == eq["baseline"].iloc[-1]:
                    bench_ret = float(eq["baseline"].iloc[-1]) / start - 1.0
        if risk is not None and risk.risk:
            halted, reason = bool(risk.risk.get("halted")), str(risk.risk.get("halt_reason") or "")
        mode = "view" if self.engine is None else ("live" if (left is None if live is None else live) else "replay")
        bars.first().state = HeaderState(
            mode,
            self._loop_state(),
            self.as_of,
            self.sessions,
            left,
            eq_ret,
            bench_ret,
            halted,
            reason,
            self.ticker,
            self.account,
            bool(self.unsaved()),
        )

    @on(TickerSelected)
    def _ticker_selected(self, event: TickerSelected) -> None:
        self.select_ticker(event.ticker)

    def select_ticker(self, ticker: str) -> None:
        """Make `ticker` the selection of every pane; reads follow after a short debounce."""
        if ticker == self.ticker:
            return
        self.ticker = ticker
        self.query_one(SignalsPane).follow(ticker)
        self._show_status()
        if self._forecast_timer is not None:
            self._forecast_timer.stop()
        self._forecast_timer = self.set_timer(0.08, lambda: self._load_forecast(ticker))

    def known_tickers(self) -> list[str]:
        names = list(self.watchlist)
        if self.snapshot is not None:
            names += [t for t in self.snapshot.all_tickers if t not in names]
        return names

    def jump_to(self, ticker: str) -> None:
        self.query_one(WatchlistPane).select(ticker)
        self.select_ticker(ticker)

    def action_refresh(self) -> None:
        self._dirty = True

    # ----- watchlist changes for the engine ------------------------------------------
    def request_universe_change(
        self, add: Iterable[str] = (), remove: Iterable[str] = (), liquidate: Iterable[str] = ()
    ) -> None:
        """Queue a watchlist change for the engine (applied at the start of its next session);
        the toast says whether it was taken. Works in-process, in the engine process, and
        attached to an owner that allows control."""
        args = {"add": list(add), "remove": list(remove), "liquidate": list(liquidate)}
        self.run_worker(lambda: self._universe_worker(args), thread=True, group="universe", exit_on_error=False)

    def _universe_worker(self, args: dict[str, list[str]]) -> None:
        reply = self._call_universe_hook(args)
        self.call_from_thread(self._universe_replied, args, reply)

    def _call_universe_hook(self, args: dict[str, list[str]]) -> dict[str, Any]:
        """Worker thread: the engine's `request_universe_change` (a thread-safe queued call)."""
        hook = getattr(self.engine, UNIVERSE_HOOK, None)
        if hook is None:
            return {
                "ok": False,
                "reason": "no engine runs in this app (view only)"
                if self.engine is None
                else f"this engine cannot change its universe while it runs (no {UNIVERSE_HOOK})",
            }
        try:
            result = hook(**args)
        except Exception as exc:  # noqa: BLE001 - a refused change is a toast, not a crash
            return {"ok": False, "reason": str(getattr(exc, "message", None) or exc)}
        return result if isinstance(result, dict) and "ok" in result else {"ok": True, "state": "queued"}

    def _universe_replied(self, args: dict[str, list[str]], reply: dict[str, Any]) -> None:
        what = "; ".join(f"{k} {', '.join(v)}" for k, v in args.items() if v) or "no change"
        if reply.get("ok"):
            self.notify(f"Engine: {what} ({reply.get('state') or 'queued'}; applied at the next session).", timeout=5)
        else:
            self.notify(
                f"The engine did not take the change ({what}): {reply.get('reason')}", severity="warning", timeout=8
            )

    # ----- copilot, validation, palette --------------------------------------------
    def action_ask(self) -> None:
        """Focus the copilot's question box from anywhere."""
        self._set_active(CopilotPane.PANE_ID)
        self.query_one(CopilotPane).focus_primary()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from system_commands(self)
        yield from super().get_system_commands(screen)

    def action_run_validation(self) -> None:
        from tui.panes.validation import run_validation_report

        run_validation_report(self, self.cursor_factory, self.account)

    def _default_copilot_factory(self) -> Callable[[], Any] | None:
        """A factory that builds `copilot.session.CopilotSession` on first use, if it exists."""
        factory = self.cursor_factory
        if factory is None:
            return None
        config = self.config

        def make() -> Any:
            from copilot.session import CopilotSession

            return CopilotSession(factory, config)

        return make
