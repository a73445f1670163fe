"""Chart drawing shared by the panes and by text export.

Each `draw_*` function takes a plotext-like object (`textual_plotext`'s `plt` in the
app, the `plotext` module for export) and plain data, so what is exported is what
is on screen. X axes are session indices labelled with dates: no clock, no locale.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tui.panes.queries import ForecastView


def _span(dates: list[Any]) -> str:
    """"first … last" of the x axis, shown in the title instead of tick labels.

    plotext drops or shifts crowded tick labels depending on render order, which
    made snapshots flaky; a title is always the same.
    """
    return f"{str(dates[0])[:10]} … {str(dates[-1])[:10]}" if dates else ""


def _no_xticks(plt: Any) -> None:
    plt.xticks([], [])


def draw_forecast(plt: Any, view: ForecastView, horizon: int | None) -> bool:
    """Recent closes, then each model's forecast mean and interval `horizon` sessions ahead.

    Returns False when there is nothing to draw.
    """
    plt.clear_figure()
    closes = view.closes
    if closes.empty:
        return False
    y = closes["close"].astype(float).tolist()
    x = list(range(len(y)))
    span = _span(list(closes["date"]))
    plt.title(f"{view.ticker} close {span}" + (f" · h={horizon} ahead" if horizon else ""))
    drawn = bool(horizon) and not view.forecasts.empty
    plt.plot(x, y, label="close" if drawn else None, marker="braille")
    last_x, last = x[-1], y[-1]
    if horizon and not view.forecasts.empty:
        fc = view.forecasts[view.forecasts["horizon"] == horizon]
        for row in fc.itertuples():
            if row.mean is None or not math.isfinite(row.mean):
                continue
            tx = last_x + int(horizon)
            mean_px = last * math.exp(row.mean)
            plt.plot([last_x, tx], [last, mean_px], label=str(row.model), marker="braille")
            if row.lower is not None and row.upper is not None and math.isfinite(row.lower) and math.isfinite(row.upper):
                plt.plot([tx, tx], [last * math.exp(row.lower), last * math.exp(row.upper)], marker="braille")
    _no_xticks(plt)
    return True


def draw_equity(plt: Any, equity: pd.DataFrame) -> bool:
    plt.clear_figure()
    if equity.empty:
        return False
    y = (equity["equity"].astype(float) / 1000.0).tolist()
    x = list(range(len(y)))
    base = equity["baseline"].astype(float) if "baseline" in equity else None
    if base is not None and base.notna().any():
        # the naive baseline beside the strategy: equal-weight buy-and-hold from the first session
        plt.title(f"equity $k vs buy&hold (dim) {_span(list(equity['as_of']))}")
        plt.plot(x, (base / 1000.0).ffill().bfill().tolist(), marker="braille", color="gray")
    else:
        plt.title(f"equity $k {_span(list(equity['as_of']))}")
    plt.plot(x, y, marker="braille")
    _no_xticks(plt)
    return True


def draw_drawdown(plt: Any, equity: pd.DataFrame) -> bool:
    plt.clear_figure()
    if equity.empty or "drawdown" not in equity:
        return False
    y = (equity["drawdown"].astype(float).fillna(0.0) * 100).tolist()
    plt.title("drawdown %")
    plt.plot(list(range(len(y))), y, marker="braille", fillx=True)
    _no_xticks(plt)
    return True


def draw_drivers(plt: Any, drivers: list[dict[str, Any]]) -> bool:
    """SHAP drivers as a horizontal bar chart, largest |SHAP| first."""
    plt.clear_figure()
    items = [(str(d.get("feature", "?")), float(d.get("shap", 0.0) or 0.0)) for d in drivers]
    if not items:
        return False
    items.sort(key=lambda kv: abs(kv[1]), reverse=True)
    names = [k for k, _ in items][:10][::-1]
    values = [v for _, v in items][:10][::-1]
    plt.title("SHAP drivers (contribution to the forecast)")
    plt.bar(names, values, orientation="horizontal", width=0.4)
    return True


def chart_to_text(draw: Any, *args: Any, width: int = 100, height: int = 25) -> str:
    """Render one `draw_*` function on a private plotext figure, without colour."""
    from textual_plotext import Plot

    plot = Plot()
    if not draw(plot, *args):
        return "(no data to chart)\n"
    plot.plotsize(width, height)
    plot.theme("clear")
    return Plot.uncolorize(plot.build()) + "\n"
