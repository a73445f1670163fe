"""The palette's "Run validation": out-of-sample scores of matured forecasts, per model.

Reads `model_scores` (forecasts scored when they matured) on a worker thread and
shows, per model and horizon, the sessions (forecast origins) and ticker-rows
scored, skill against the naive forecast (1 - MSE/MSE_naive), the directional
hit rate over the forecasts that make a call (a forecast of exactly 0 is a tie,
left out) and interval coverage, in a modal. DM p-values, per-ticker Ljung–Box,
calibration tests and the VaR backtest are in `pmax validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd
from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.store.read_model import scores_by_model
from tui.widgets.text import fmt_pct

EMPTY = (
    "No matured forecasts to score yet. Forecasts are scored when their horizon "
    "passes (table: model_scores); run more sessions and try again."
)


def validation_frame(cur: duckdb.DuckDBPyConnection, account: str) -> pd.DataFrame:
    """Per model and horizon: sessions, rows (n_scored), skill vs naive, hit rate (ties out),
    coverage, cutoffs (`engine.store.read_model.scores_by_model`, as the copilot reads it)."""
    return scores_by_model(account).frame(cur)


def run_validation_report(app: App[Any], cursor_factory: Callable[[], Any] | None, account: str) -> None:
    """Start the read on a worker thread; the modal opens on `app` when it is done.

    Takes the app's store cursor factory and account rather than the app class, so
    this module does not import `tui.app` (which imports it).
    """
    if cursor_factory is None:
        app.notify("No database is open.", severity="warning")
        return

    def work() -> None:
        cur = cursor_factory()
        try:
            df = validation_frame(cur, account)
        finally:
            cur.close()
        app.call_from_thread(app.push_screen, ValidationScreen(df))

    app.run_worker(work, thread=True, group="validation", exit_on_error=False)
    app.notify("Scoring matured forecasts…", timeout=2)


class ValidationScreen(ModalScreen[None]):
    """The validation table; esc closes."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="validation_close")]

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="validation"):
            yield Static(
                "[b]Out-of-sample validation[/b] (matured forecasts; hit rate leaves out forecasts of "
                "exactly 0; DM p, calibration and VaR backtest: `pmax validate`; esc closes)"
            )
            yield Static(self._table() if not self.frame.empty else EMPTY)

    def _table(self) -> Table:
        t = Table(box=None, expand=True)
        for name in ("Model", "h", "Sessions", "Rows", "Skill vs naive", "Hit rate", "Coverage", "Cutoffs"):
            t.add_column(name, justify="left" if name in ("Model", "Cutoffs") else "right")
        for r in self.frame.itertuples():
            skill: Any = r.skill
            t.add_row(
                str(r.model),
                str(r.horizon),
                str(r.sessions),
                str(r.n_scored),
                fmt_pct(None if pd.isna(skill) else float(skill), 1),
                fmt_pct(r.hit_rate, 0, False),
                fmt_pct(r.coverage, 0, False),
                f"{str(r.first_cutoff)[:10]} … {str(r.last_cutoff)[:10]}",
            )
        return t
