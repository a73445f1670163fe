"""Grounding tools that compare: which model has been most accurate for a ticker
(out-of-sample skill per model and horizon, with the HLN Diebold-Mariano test
against naive, naming the winner), and a compact forecast comparison across
tickers (one row per ticker and horizon).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from copilot.tools.base import cite, norm_ticker, result, select
from copilot.types import ToolResult
from engine.forecast_metrics import skill_score
from engine.store.read_model import HIT_SQL

if TYPE_CHECKING:
    from engine.store.connection import Queryable

MIN_SCORED = 20  # scored forecasts a model needs before it can be named the winner

_RANK_COLS = (
    "rank",
    "model",
    "horizon",
    "n_scored",
    "skill",
    "rmse",
    "naive_rmse",
    "hit_rate",
    "dm_pvalue",
    "beats_naive",
)


def model_ranking(con: Queryable, account: str, ticker: str | None = None, horizon: int | None = None) -> ToolResult:
    """Models ranked by out-of-sample skill (1 - MSE/MSE_naive) for one ticker (or all)."""
    from engine.significance import diebold_mariano

    tk = norm_ticker(ticker)
    where = ["account = ?", "model <> 'naive'"]
    args: list[object] = [account]
    if tk:
        where.append("ticker = ?")
        args.append(tk)
    if horizon is not None:
        where.append("horizon = ?")
        args.append(int(horizon))
    _, rows = select(
        con,
        f"SELECT model, horizon, error, naive_error, {HIT_SQL} AS hit, as_of FROM model_scores "
        f"WHERE {' AND '.join(where)} ORDER BY model, horizon, forecast_as_of, ticker",
        args,
    )
    scope = f" for {tk}" if tk else ""
    if not rows:
        return result(
            "model_ranking",
            f"Model ranking{scope}",
            list(_RANK_COLS),
            [],
            [],
            note=f"No scored forecasts{scope} yet: models are ranked once their forecasts have matured.",
            args={"ticker": tk},
        )
    groups: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for r in rows:
        groups.setdefault((r[0], int(r[1])), []).append(r)
    ranked: list[list[Any]] = []
    for (model, h), g in groups.items():
        e = np.array([x[2] for x in g], dtype=float)
        nb = np.array([x[3] for x in g], dtype=float)
        ok = np.isfinite(e) & np.isfinite(nb)
        e, nb = e[ok], nb[ok]
        if e.size == 0:
            continue
        mse, nmse = float(np.mean(e * e)), float(np.mean(nb * nb))
        skill = skill_score(mse, nmse)  # NaN when naive has no error: shown as None
        hits = [bool(x[4]) for x in g if x[4] is not None]
        dm = diebold_mariano(e, nb, h=h, alternative="less")
        ranked.append(
            [
                model,
                h,
                int(e.size),
                _r(skill),
                _r(np.sqrt(mse)),
                _r(np.sqrt(nmse)),
                _r(np.mean(hits)) if hits else None,
                _r(dm.pvalue),
                bool(skill > 0 and dm.pvalue < 0.05),
            ]
        )
    ranked.sort(key=lambda r: (r[2] < MIN_SCORED, -(r[3] if r[3] is not None else -9)))
    out = [(i + 1, *r) for i, r in enumerate(ranked)]
    last = max(r[5] for r in rows)
    return result(
        "model_ranking",
        f"Models ranked by out-of-sample skill{scope} (skill = 1 - "
        "MSE/MSE of naive; dm_pvalue: HLN Diebold-Mariano, one-sided; "
        f"at least {MIN_SCORED} scored to rank first)",
        list(_RANK_COLS),
        out,
        [cite("model_scores", last, account=account, ticker=tk, scored="out-of-sample")],
        args={"ticker": tk, "horizon": horizon},
    )


def _r(x: Any) -> float | None:
    x = float(x)
    return round(x, 6) if np.isfinite(x) else None


_CMP_COLS = ("ticker", "horizon", "model", "mean", "lower", "upper", "prob_up", "action", "signal_confidence")


def forecast_compare(
    con: Queryable, account: str, tickers: Any = None, model: str = "ensemble", horizon: int | None = None
) -> ToolResult:
    """Latest forecasts of one model (default the ensemble) for several tickers, compactly."""
    names = tickers if isinstance(tickers, (list, tuple)) else str(tickers or "").replace(",", " ").split()
    tks = [t for t in (norm_ticker(x) for x in names) if t][:12]
    if not tks:
        return result(
            "forecast_compare",
            "Forecast comparison",
            list(_CMP_COLS),
            [],
            [],
            note="Name two or more tickers to compare (e.g. 'compare AAPL, MSFT and NVDA').",
        )
    where = ["f.account = ?", "list_contains(?, f.ticker)", "f.model = ?"]
    args: list[Any] = [account, tks, str(model or "ensemble").lower()]
    if horizon is not None:
        where.append("f.horizon = ?")
        args.append(int(horizon))
    cond = " AND ".join(where)
    _, rows = select(
        con,
        "SELECT f.ticker, f.horizon, f.model, round(f.mean, 6), round(f.lower, 6), "
        "round(f.upper, 6), round(f.prob_up, 4), s.action, round(s.confidence, 4), "
        "f.as_of FROM forecasts f LEFT JOIN signals s ON s.account = f.account AND "
        "s.ticker = f.ticker AND s.as_of = f.as_of "
        f"WHERE {cond} AND f.as_of = (SELECT max(as_of) FROM forecasts f WHERE {cond}) "
        "ORDER BY f.ticker, f.horizon",
        args + args,
    )
    if not rows:
        return result(
            "forecast_compare",
            "Forecast comparison",
            list(_CMP_COLS),
            [],
            [],
            note=f"No {model} forecasts are stored for {', '.join(tks)}.",
            args={"tickers": tks},
        )
    as_of = rows[0][9]
    missing = [t for t in tks if t not in {r[0] for r in rows}]
    note = f"No forecasts for {', '.join(missing)}." if missing else ""
    return result(
        "forecast_compare",
        f"{model} forecasts as of {as_of} (mean = forward log return over horizon sessions)",
        list(_CMP_COLS),
        [r[:9] for r in rows],
        [
            cite("forecasts", as_of, account=account, tickers="|".join(tks), model=model),
            cite("signals", as_of, account=account),
        ],
        note=note,
        args={"tickers": tks, "model": model},
    )
