"""Signals pane: today's signals across the universe, and a detail view per signal.

The table shows the call, confidence, expected return and the validation layers
(✓ all passed, or ✗ and one code per failing layer, `LAYER_CODES`). `enter` opens the detail: the SHAP drivers as
a bar chart and the plain-language reading.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.keymap import bindings
from tui.panes.base import WAITING, Pane, TickerSelected
from tui.panes.reading import layers_summary, reading
from tui.panes.views import parse_json_list
from tui.widgets.charts import chart_to_text, draw_drivers
from tui.widgets.lazy_plot import LazyPlot
from tui.widgets.table import PmaxTable
from tui.widgets.text import ascii_safe, fmt_pct, sign_style

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("Ticker", "Call", "Conf", "E(r)", "Layers")
EMPTY = "No signals yet. The signals stage writes one row per ticker each cycle once forecasts exist (table: signals)."


class SignalsPane(Pane):
    """The universe's latest signals."""

    PANE_ID: ClassVar[str] = "signals"
    TITLE: ClassVar[str] = "Signals"
    BINDINGS = bindings("signals")

    def __init__(self) -> None:
        super().__init__()
        self.signals: pd.DataFrame | None = None  # none read yet
        self.add_class("-empty")  # the waiting note, until the first read
        self._keys: list[str] = []
        self._following = False

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="sig-empty", classes="empty")
        table = PmaxTable(id="sig-table")
        table.tooltip = (
            "Call BUY / HOLD / SELL · Layers ✓ every validation layer passed (the signal may trade); "
            "✗ S$ the failing layers: S statistical, R regime, Z size, C correlation, $ cost · "
            "enter: detail. ? has the glossary."
        )
        for name in COLUMNS:
            table.add_column(name, key=name)
        yield table

    def primary(self) -> PmaxTable:
        return self.query_one("#sig-table", PmaxTable)

    def set_signals(self, signals: pd.DataFrame, selected: str | None) -> None:
        """Show `signals`. The rebuild's own cursor moves are not the user's choice: no
        `RowHighlighted` is posted (a tab shown just now has focus when they would arrive)."""
        with self.primary().prevent(DataTable.RowHighlighted):
            self._set_signals(signals, selected)

    def _set_signals(self, signals: pd.DataFrame, selected: str | None) -> None:
        self.signals = signals
        self.query_one("#sig-empty", Static).update(EMPTY)
        self.set_empty(signals.empty)
        table = self.primary()
        table.clear()
        self._keys = []
        table.frame = signals.drop(columns=["layers", "drivers"], errors="ignore")
        if signals.empty:
            self.border_subtitle = ""
            return
        for r in signals.itertuples():
            style = sign_style({"BUY": 1.0, "SELL": -1.0}.get(str(r.action)))
            table.add_row(
                Text(str(r.ticker), style="bold"),
                Text(str(r.action), style=style),
                Text(fmt_pct(_f(r.confidence), 0, signed=False), justify="right"),
                Text(fmt_pct(_f(r.expected_return)), justify="right"),
                layers_summary(r.layers),
                key=str(r.ticker),
            )
            self._keys.append(str(r.ticker))
        counts = signals["action"].value_counts()
        self.border_subtitle = Text(
            ascii_safe(
                f"as of {signals['as_of'].iloc[0]!s:.10} · " + " ".join(f"{k} {int(v)}" for k, v in counts.items())
            )
        )
        if selected:
            self.follow(selected)

    def follow(self, ticker: str) -> None:
        """Put the cursor on `ticker`'s signal (if it has one) without re-announcing it."""
        if ticker in self._keys:
            self._following = True
            with self.primary().prevent(DataTable.RowHighlighted):
                self.primary().move_cursor(row=self._keys.index(ticker), animate=False)
            self._following = False

    @on(DataTable.RowHighlighted, "#sig-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if not self._following and event.row_key is not None and self.primary().has_focus:
            self.post_message(TickerSelected(str(event.row_key.value)))

    @on(DataTable.RowSelected, "#sig-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def current(self) -> dict[str, Any] | None:
        table = self.primary()
        if self.signals is None or self.signals.empty or table.cursor_row >= len(self.signals):
            return None
        return self.signals.iloc[table.cursor_row].to_dict()

    def action_detail(self) -> None:
        row = self.current()
        if row is None:
            self.app.bell()
            return
        self.app.push_screen(SignalDetail(row))

    def export_frame(self) -> pd.DataFrame | None:
        return self.primary().frame

    def chart_text(self, width: int = 100, height: int = 25) -> str | None:
        row = self.current()
        if row is None:
            return None
        return chart_to_text(draw_drivers, parse_json_list(row.get("drivers")), width=width, height=height)


class SignalDetail(ModalScreen[None]):
    """One signal: SHAP drivers chart, layers and the plain-language reading."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="detail_close")]

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        drivers = parse_json_list(self.row.get("drivers"))
        with Vertical(id="detail"):
            yield Static(
                f"[b]{self.row.get('ticker')}[/b] · {self.row.get('action')} · as of {str(self.row.get('as_of'))[:10]}",
                id="detail-title",
            )
            if drivers:
                yield LazyPlot(id="detail-chart")
            else:
                yield Static(
                    "No SHAP drivers stored for this signal (the forecast stage writes them "
                    "with the forecast: column drivers).",
                    classes="empty-inline",
                )
            layers = parse_json_list(self.row.get("layers"))
            lines = [
                f"{'✓' if layer.get('passed') else '✗'} {layer.get('layer', '?')}: {layer.get('reason') or ''}"
                for layer in layers
            ] or ["No validation layers recorded."]
            yield Static("\n".join(lines), id="detail-layers", markup=False)
            yield Static(reading(self.row), id="detail-reading", markup=False)
            yield Static("esc closes", id="detail-hint")

    def on_mount(self) -> None:
        drivers = parse_json_list(self.row.get("drivers"))
        # `query`, not `query_one`: when the app closes as this screen opens, its chart is gone.
        for plot in self.query("#detail-chart").results(LazyPlot):
            draw_drivers(plot.plt, drivers)


def _f(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
