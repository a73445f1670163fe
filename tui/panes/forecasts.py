"""Forecasts pane: the selected ticker's closes and every model's forecast ahead.

A plotext chart (recent closes, each model's mean and interval `h` sessions ahead,
converted from log returns to prices) above a table of models with ensemble weight,
out-of-sample skill against the naive forecast and the Diebold–Mariano p-value.
`h` cycles the horizon.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.keymap import bindings
from tui.panes.base import WAITING, Pane
from tui.panes.views import ForecastView
from tui.widgets.charts import chart_to_text, draw_forecast, forecast_legend
from tui.widgets.lazy_plot import LazyPlot
from tui.widgets.table import PmaxTable
from tui.widgets.text import ascii_safe, fmt_num, fmt_pct, glyphs, sign_style

if TYPE_CHECKING:
    import pandas as pd

MODEL_COLUMNS = ("Model", "E(r)", "P(up)", "Wt", "Skill", "DM p")
NO_TICKER = "Select a ticker in the watchlist to see its forecasts."
EMPTY = "No forecasts yet for {ticker}: the forecast stage writes them (table: forecasts)."


class ForecastsPane(Pane):
    """Chart plus model table for the selected ticker."""

    PANE_ID: ClassVar[str] = "forecasts"
    TITLE: ClassVar[str] = "Forecasts"
    BINDINGS = bindings("forecasts")

    def __init__(self, horizon: int | None = None) -> None:
        super().__init__()
        self.view: ForecastView | None = None
        self.horizon: int | None = horizon  # opens at the signals' horizon ([signals] horizon)

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="fc-note", classes="note", markup=False)
        chart = LazyPlot(id="fc-chart")
        chart.display = False
        yield chart
        yield Static("", id="fc-legend", markup=False)
        table = PmaxTable(id="fc-table")
        table.tooltip = (
            "Wt ensemble weight · Skill 1 − error/naive error (> 0 beats naive) · DM p "
            "Diebold–Mariano p vs naive (< 0.05 significant) · ↓ demoted. ? has the glossary."
        )
        for name in MODEL_COLUMNS:
            table.add_column(name, key=name)
        yield table

    def primary(self) -> PmaxTable:
        return self.query_one("#fc-table", PmaxTable)

    def no_ticker(self) -> None:
        """A read found no ticker to show (an empty watchlist)."""
        if self.view is None:
            self.query_one("#fc-note", Static).update(NO_TICKER)

    def set_view(self, view: ForecastView) -> None:
        self.view = view
        horizons = view.horizons
        if self.horizon not in horizons:
            self.horizon = horizons[0] if horizons else self.horizon
        self._render_view()

    def action_next_horizon(self) -> None:
        if self.view is None or not self.view.horizons:
            self.app.bell()
            return
        hs = self.view.horizons
        self.horizon = hs[(hs.index(self.horizon) + 1) % len(hs)] if self.horizon in hs else hs[0]
        self._render_view()

    def _render_view(self) -> None:
        view = self.view
        if view is None:
            return
        note = self.query_one("#fc-note", Static)
        if view.forecasts.empty:
            note.update(EMPTY.format(ticker=view.ticker))
        else:
            others = ", ".join(str(h) for h in view.horizons)
            note.update(
                ascii_safe(f"{view.ticker} · as of {view.as_of} · horizon h={self.horizon} of [{others}] (h: switch)")
            )
        self.border_subtitle = Text(view.ticker)
        plot = self.query_one("#fc-chart", LazyPlot)
        plot.display = draw_forecast(plot.plt, view, self.horizon)
        plot.refresh()
        legend = self.query_one("#fc-legend", Static)
        legend.display = plot.display
        legend.update(legend_text(forecast_legend(view)))
        self._fill_table(view)

    def _fill_table(self, view: ForecastView) -> None:
        import pandas as pd  # loaded by the read that made `view`

        table = self.primary()
        table.clear()
        fc = view.forecasts
        table.display = not fc.empty
        if fc.empty:
            table.frame = None
            return
        fc = fc[fc["horizon"] == self.horizon]
        w = view.weights
        if not w.empty:
            w = w[w["horizon"] == self.horizon].set_index("model")
        rows = []
        for r in fc.itertuples():
            wr = w.loc[r.model] if not w.empty and r.model in w.index else None
            weight = None if wr is None else _f(wr["weight"])
            skill = None if wr is None else _f(wr["skill"])
            p = None if wr is None else _f(wr["dm_pvalue"])
            demoted = bool(wr["demoted"]) if wr is not None and not pd.isna(wr["demoted"]) else False
            name = Text(
                str(r.model) + ascii_safe(" ↓" if demoted else ""),
                style=("" if glyphs().mono else "dim") if demoted else "bold",
            )
            table.add_row(
                name,
                Text(fmt_pct(_f(r.mean)), justify="right"),
                Text(fmt_pct(_f(r.prob_up), 0, signed=False), justify="right"),
                Text(fmt_pct(weight, 0, signed=False), justify="right"),
                Text(fmt_pct(skill, 1), style=sign_style(skill), justify="right"),
                Text(fmt_num(p, 3), justify="right"),
                key=str(r.model),
            )
            rows.append(
                {
                    "ticker": view.ticker,
                    "as_of": view.as_of,
                    "model": r.model,
                    "horizon": self.horizon,
                    "mean": _f(r.mean),
                    "lower": _f(r.lower),
                    "upper": _f(r.upper),
                    "prob_up": _f(r.prob_up),
                    "weight": weight,
                    "skill": skill,
                    "dm_pvalue": p,
                    "demoted": demoted,
                }
            )
        table.frame = pd.DataFrame(rows)

    def export_frame(self) -> pd.DataFrame | None:
        return self.primary().frame

    def chart_text(self, width: int = 100, height: int = 25) -> str | None:
        if self.view is None:
            return None
        return chart_to_text(
            draw_forecast, self.view, self.horizon, width=width, height=height, legend=forecast_legend(self.view)
        )


RICH_COLOURS = {"orange+": "dark_orange", "orange": "dark_orange", "white": "", "default": ""}


def legend_text(entries: list[tuple[str, str, str]]) -> Text:
    """The chart's legend as one wrapped line below the plot (colour only repeats the marker)."""
    out = Text()
    for i, (marker, colour, label) in enumerate(entries):
        if i:
            out.append("   ")
        out.append(marker, style="" if glyphs().mono else RICH_COLOURS.get(colour, colour))
        out.append(f" {label}")
    return out


def _f(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
