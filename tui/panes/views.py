"""What a refresh reads for the panes, as plain frozen dataclasses.

Importing this module loads neither pandas nor numpy (the frames inside are made by
`tui.panes.queries`), so the panes, the app's messages and the watchlist's first
rows (`tui.panes.watch_rows`) can all be imported before the data stack has loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ForecastView", "RiskView", "Snapshot", "WatchRow", "parse_json_dict", "parse_json_list"]


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


@dataclass(frozen=True)
class WatchRow:
    """One watchlist line: last close, day change, recent closes and latest signal."""

    ticker: str
    date: dt.date | None = None
    last: float | None = None
    change: float | None = None  # simple return vs the previous close
    spark: tuple[float, ...] = ()
    signal: str | None = None
    confidence: float | None = None
    stale: bool = False
    quarantined: bool = False


@dataclass(frozen=True)
class ForecastView:
    """The selected ticker's recent closes, latest forecasts and model weights."""

    ticker: str
    closes: pd.DataFrame  # date, close
    as_of: dt.date | None
    forecasts: pd.DataFrame  # model, horizon, mean, lower, upper, level, prob_up, vol, target_date
    weights: pd.DataFrame  # model, horizon, weight, skill, dm_pvalue, n_scored, demoted, reason
    fills: pd.DataFrame = field(default_factory=_empty_frame)  # date, side, qty, price (within the closes)

    @property
    def horizons(self) -> tuple[int, ...]:
        if self.forecasts.empty:
            return ()
        return tuple(sorted(int(h) for h in self.forecasts["horizon"].unique()))


@dataclass(frozen=True)
class RiskView:
    """The account's equity history, latest risk row, positions, fills and rejections."""

    equity: pd.DataFrame  # as_of, equity, drawdown, cash, gross, net, daily_return, baseline
    risk: dict[str, Any] | None
    positions: pd.DataFrame
    fills: pd.DataFrame
    rejections: pd.DataFrame
    regime: str | None = None
    report: dict[str, Any] | None = None  # engine.portfolio.report.benchmark_report over every session


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh reads, posted to the UI in one message."""

    as_of: dt.date | None
    sessions: int
    watch: tuple[WatchRow, ...]
    signals: pd.DataFrame
    risk: RiskView
    all_tickers: tuple[str, ...] = field(default=())


def parse_json_list(text: Any) -> list[dict[str, Any]]:
    """A JSON list-of-objects column (layers, drivers) as Python; [] when empty or bad."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except (TypeError, ValueError):
        return []
    if isinstance(value, dict):
        value = [{"feature": k, "shap": v} for k, v in value.items()]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_json_dict(text: Any) -> dict[str, Any]:
    """A JSON object column (limit utilisation, stress) as a dict; {} when empty or bad."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
