"""Chart drawing shared by the panes and by text export.

Each `draw_*` function takes a plotext-like object (`textual_plotext`'s `plt` in the
app, the `plotext` module for export) and plain data, so what is exported is what
is on screen. X axes are session indices labelled with dates: no clock, no locale.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tui.panes.views import ForecastView

if TYPE_CHECKING:
    import pandas as pd


def _span(dates: list[Any]) -> str:
    """ "first … last" of the x axis, shown in the title instead of tick labels.

    plotext drops or shifts crowded tick labels depending on render order, which
    made snapshots flaky; a title is always the same.
    """
    return f"{str(dates[0])[:10]} … {str(dates[-1])[:10]}" if dates else ""


def _line() -> str:
    """Braille lines, or dots when the locale is not UTF-8."""
    from tui.widgets.text import glyphs

    return "." if glyphs().ascii else "braille"


def _ascii_frame(plt: Any) -> None:
    """No box-drawing frame when the locale is not UTF-8."""
    from tui.widgets.text import glyphs

    if glyphs().ascii:
        plt.frame(False)


def _no_xticks(plt: Any) -> None:
    plt.xticks([], [])


# (colour, marker) per model; the ensemble is always the first, drawn last, on top.
ENSEMBLE_STYLE = ("orange+", "●")
MODEL_STYLES = (
    ("cyan", "x"),
    ("magenta", "+"),
    ("green", "o"),
    ("blue", "*"),
    ("red", "#"),
    ("white", "%"),
    ("yellow", "&"),
    ("cyan+", "$"),
    ("magenta+", "="),
)
ASCII_ENSEMBLE = ("orange+", "@")


def model_styles(models: list[str]) -> dict[str, tuple[str, str]]:
    """A distinct colour and marker per model (markers alone tell them apart without colour)."""
    from tui.widgets.text import glyphs

    out = {"ensemble": ASCII_ENSEMBLE if glyphs().ascii else ENSEMBLE_STYLE}
    others = sorted(m for m in models if m != "ensemble")
    for i, m in enumerate(others):
        out[m] = MODEL_STYLES[i % len(MODEL_STYLES)]
    if glyphs().mono:  # NO_COLOR: greyed colours vanish on some backgrounds; markers tell models apart
        out = {m: ("default", marker) for m, (_c, marker) in out.items()}
    return out


def forecast_legend(view: ForecastView) -> list[tuple[str, str, str]]:
    """(marker, colour, text) legend entries, shown outside the plot."""
    from tui.widgets.text import glyphs

    line = "-" if glyphs().ascii else "━"
    entries = [(line, "default", "close")]
    if not view.fills.empty:
        entries.append(("^ v" if glyphs().ascii else "▲ ▼", "default", "fills (buy, sell)"))
    if view.forecasts.empty:
        return entries
    models = sorted(str(m) for m in view.forecasts["model"].unique())
    styles = model_styles(models)
    level = view.forecasts["level"].dropna()
    pct = f"{float(level.iloc[0]) * 100:.0f}%" if not level.empty else "interval"
    for m in (["ensemble"] if "ensemble" in models else []) + [m for m in models if m != "ensemble"]:
        color, marker = styles[m]
        entries.append((marker, color, f"{m} (fan = {pct} interval)" if m == "ensemble" else m))
    return entries


def draw_forecast(plt: Any, view: ForecastView, horizon: int | None = None) -> bool:
    """A fan chart: recent closes, then every horizon's forecast on a date axis.

    Each model's mean price at each horizon is a marker (its own colour and shape);
    the ensemble's interval across horizons is the fan, its mean the bold line. BUY and
    SELL fills sit on the price line. The legend is drawn outside (`forecast_legend`).
    Returns False when there is nothing to draw.
    """
    from tui.widgets.text import glyphs

    plt.clear_figure()
    closes = view.closes
    if closes.empty:
        return False
    ascii_only = glyphs().ascii
    y = closes["close"].astype(float).tolist()
    dates = [str(d)[:10] for d in closes["date"]]
    x = list(range(len(y)))
    last_x, last = x[-1], y[-1]
    plt.plot(x, y, marker=_line(), color="default")  # the theme's text colour: readable on light themes too
    if not view.fills.empty:
        at = {d: i for i, d in enumerate(dates)}
        for side, mark in (("BUY", "^" if ascii_only else "▲"), ("SELL", "v" if ascii_only else "▼")):
            pts = [
                (at[str(r.date)[:10]], y[at[str(r.date)[:10]]])
                for r in view.fills.itertuples()
                if r.side == side and str(r.date)[:10] in at
            ]
            if pts:
                plt.scatter([p[0] for p in pts], [p[1] for p in pts], marker=mark, color="default")
    ticks, labels = [0, last_x // 2, last_x], [dates[0], dates[last_x // 2], dates[-1]]
    fc = view.forecasts
    if not fc.empty:
        fc = fc[fc["mean"].notna()]
        styles = model_styles(sorted(str(m) for m in fc["model"].unique()))
        for model in [m for m in styles if m != "ensemble"] + ["ensemble"]:
            rows = fc[fc["model"] == model].sort_values("horizon")
            if rows.empty:
                continue
            color, marker = styles[model]
            hx = [last_x + int(h) for h in rows["horizon"]]
            means = [last * math.exp(float(m)) for m in rows["mean"]]
            if model == "ensemble":
                for col in ("lower", "upper"):
                    band = rows[col].astype(float)
                    if band.notna().all():
                        plt.plot(
                            [last_x, *hx],
                            [last, *(last * math.exp(v) for v in band)],
                            marker=_line(),
                            color="default" if glyphs().mono else "orange",
                        )
                plt.plot([last_x, *hx], [last, *means], marker=marker, color=color)
            else:
                plt.scatter(hx, means, marker=marker, color=color)
        far = fc.sort_values("horizon").iloc[-1]
        if int(far["horizon"]) >= max(8, last_x // 5):  # a label too close to the last close is dropped
            target = far.get("target_date")
            ticks.append(last_x + int(far["horizon"]))
            labels.append(
                str(target)[:10]
                if target is not None and str(target) not in ("NaT", "None")
                else f"+{int(far['horizon'])} sessions"
            )
    plt.title(f"{view.ticker}: closes and forecasts" + (f" (table: h={horizon})" if horizon else ""))
    plt.xticks(ticks, labels)
    _ascii_frame(plt)
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
        plt.plot(x, (base / 1000.0).ffill().bfill().tolist(), marker=_line(), color="gray")
    else:
        plt.title(f"equity $k {_span(list(equity['as_of']))}")
    plt.plot(x, y, marker=_line())
    _no_xticks(plt)
    _ascii_frame(plt)
    return True


def draw_drawdown(plt: Any, equity: pd.DataFrame) -> bool:
    plt.clear_figure()
    if equity.empty or "drawdown" not in equity:
        return False
    y = (equity["drawdown"].astype(float).fillna(0.0) * 100).tolist()
    plt.title("drawdown %")
    plt.plot(list(range(len(y))), y, marker=_line(), fillx=True)
    _no_xticks(plt)
    _ascii_frame(plt)
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


def chart_to_text(
    draw: Any, *args: Any, width: int = 100, height: int = 25, legend: list[tuple[str, str, str]] | None = None
) -> str:
    """Render one `draw_*` function on a private plotext figure, without colour; the
    legend, if any, follows the plot as one line (outside it, as on screen)."""
    from textual_plotext import Plot

    plot = Plot()
    if not draw(plot, *args):
        return "(no data to chart)\n"
    plot.plotsize(width, height)
    plot.theme("clear")
    text = Plot.uncolorize(plot.build()) + "\n"
    if legend:
        text += "legend: " + "   ".join(f"{marker} {label}" for marker, _c, label in legend) + "\n"
    return text
