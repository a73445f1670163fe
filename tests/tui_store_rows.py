"""A store filled with fixed, known rows for the TUI tests (six tickers, one account):
bars, forecasts, signals, portfolio, risk and model rows the panes draw."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from engine.store import Store, append

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
ACCOUNT = "paper"


def sessions(n: int, start: str = "2016-01-04") -> list[dt.date]:
    return [d.date() for d in pd.bdate_range(start, periods=n)]


def make_bars(n: int = 70, seed: int = 3) -> pd.DataFrame:
    """Deterministic random-walk bars for TICKERS (one quarantined bar, one stale bar)."""
    rng = np.random.default_rng(seed)
    days = sessions(n)
    rows = []
    for i, t in enumerate(TICKERS):
        px = 50.0 * (i + 1) * np.exp(np.cumsum(rng.normal(0.0005, 0.015, n)))
        for d, c in zip(days, px, strict=True):
            rows.append(
                {
                    "ticker": t,
                    "date": d,
                    "open": round(c * 0.998, 4),
                    "high": round(c * 1.01, 4),
                    "low": round(c * 0.99, 4),
                    "close": round(float(c), 4),
                    "volume": 1_000_000 + i,
                    "source": "test",
                    "quarantined": False,
                    "stale": False,
                }
            )
    df = pd.DataFrame(rows)
    df.loc[(df.ticker == "BBB") & (df.date == days[-5]), "quarantined"] = True
    df.loc[(df.ticker == "CCC") & (df.date == days[-1]), "stale"] = True
    return df


def fill_store(store: Store, n: int = 70) -> dt.date:
    """Write bars, cycles and one session of every later table; returns the last session."""
    bars = make_bars(n)
    days = sessions(n)
    last = days[-1]
    con = store.con
    append(con, "bars", bars)
    append(
        con,
        "cycles",
        pd.DataFrame(
            {
                "account": ACCOUNT,
                "session": days,
                "session_index": range(n),
                "run_id": "test",
                "n_bars": len(TICKERS),
                "committed_at": pd.Timestamp("2026-01-01"),
            }
        ),
    )
    fc, sig, weights, scores = [], [], [], []
    models = ("naive", "arima", "lightgbm", "ensemble")
    for i, t in enumerate(TICKERS):
        for h in (1, 5):
            for j, m in enumerate(models):
                mean = round(0.001 * (j - 1) * h + 0.0005 * i, 6)
                fc.append(
                    {
                        "account": ACCOUNT,
                        "as_of": last,
                        "ticker": t,
                        "model": m,
                        "horizon": h,
                        "mean": mean,
                        "lower": mean - 0.02 * h**0.5,
                        "upper": mean + 0.02 * h**0.5,
                        "level": 0.9,
                        "prob_up": 0.5 + mean * 10,
                        "vol": 0.02 * h**0.5,
                        "target_date": days[-1],
                        "drivers": None,
                    }
                )
        action = ("BUY", "SELL", "HOLD")[i % 3]
        layers = [
            {"layer": "statistical", "passed": True, "reason": "skill 0.04 > 0"},
            {"layer": "cost", "passed": i % 2 == 0, "reason": "edge 0.10% vs costs 0.20%"},
        ]
        drivers = [
            {"feature": "mom_21", "value": 0.05, "shap": 0.004 - 0.001 * i},
            {"feature": "vol_21", "value": 0.2, "shap": -0.002},
            {"feature": "rsi_14", "value": 55.0, "shap": 0.001},
        ]
        sig.append(
            {
                "account": ACCOUNT,
                "as_of": last,
                "ticker": t,
                "action": action,
                "confidence": 0.5 + 0.05 * i,
                "expected_return": 0.002 * (i - 2),
                "horizon": 5,
                "prob_up": 0.55,
                "validated": i % 2 == 0,
                "layers": json.dumps(layers),
                "drivers": json.dumps(drivers),
                "target_weight": 0.05,
                "base_weight": 0.04,
                "tilt": 0.01,
                "reason": "",
            }
        )
    for h in (1, 5):
        for j, m in enumerate(models):
            weights.append(
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "model": m,
                    "horizon": h,
                    "weight": (0.0, 0.3, 0.7, 0.0)[j],
                    "skill": (0.0, 0.01, 0.03, 0.02)[j],
                    "dm_stat": 1.0,
                    "dm_pvalue": (1.0, 0.4, 0.03, 0.1)[j],
                    "n_scored": 40,
                    "demoted": m == "naive",
                    "reason": "",
                }
            )
            for k in range(3):
                err = 0.01 * (k + 1) * (1 - 0.1 * j)
                scores.append(
                    {
                        "account": ACCOUNT,
                        "as_of": days[-1 - k],
                        "forecast_as_of": days[-10 - k],
                        "ticker": "AAA",
                        "model": m,
                        "horizon": h,
                        "actual": 0.01,
                        "mean": 0.01 - err,
                        "error": err,
                        "naive_error": 0.01 * (k + 1),
                        "covered": True,
                        "hit": k != 1,
                        "prob_up": 0.5,
                    }
                )
    append(con, "forecasts", pd.DataFrame(fc))
    append(con, "signals", pd.DataFrame(sig))
    append(con, "model_weights", pd.DataFrame(weights))
    append(con, "model_scores", pd.DataFrame(scores))
    eq = 1_000_000 * np.cumprod(1 + np.sin(np.arange(n) / 7.0) * 0.004)
    peak = np.maximum.accumulate(eq)
    append(
        con,
        "equity",
        pd.DataFrame(
            {
                "account": ACCOUNT,
                "as_of": days,
                "cash": 400_000.0,
                "equity": eq,
                "gross": 1 - 400_000 / eq,
                "net": 1 - 400_000 / eq,
                "drawdown": eq / peak - 1,
                "daily_return": np.r_[0.0, eq[1:] / eq[:-1] - 1],
            }
        ),
    )
    append(
        con,
        "risk",
        pd.DataFrame(
            [
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "var_hist_95": 0.012,
                    "var_hist_99": 0.021,
                    "cvar_hist_95": 0.017,
                    "cvar_hist_99": 0.025,
                    "realised_vol": 0.14,
                    "forecast_vol": 0.15,
                    "beta": 0.9,
                    "drawdown": -0.02,
                    "gross": 0.6,
                    "net": 0.6,
                    "concentration": 0.2,
                    "regime": "bull",
                    "halted": False,
                    "halt_reason": None,
                    "limit_utilisation": json.dumps({"gross": 0.6, "daily_loss": 0.25}),
                    "stress": "{}",
                }
            ]
        ),
    )
    append(
        con,
        "positions",
        pd.DataFrame(
            [
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "ticker": t,
                    "qty": 100 * (i + 1),
                    "avg_cost": 50.0 * (i + 1),
                    "close": 51.0 * (i + 1),
                    "market_value": 5100.0 * (i + 1) ** 2,
                    "weight": 0.01 * (i + 1),
                }
                for i, t in enumerate(TICKERS[:3])
            ]
        ),
    )
    append(
        con,
        "fills",
        pd.DataFrame(
            [
                {
                    "fill_id": f"f{i}",
                    "order_id": f"o{i}",
                    "account": ACCOUNT,
                    "date": last,
                    "ticker": t,
                    "side": "BUY",
                    "qty": 100 * (i + 1),
                    "price": 50.0 * (i + 1),
                    "commission": 1.0,
                    "slippage": 0.01,
                }
                for i, t in enumerate(TICKERS[:3])
            ]
        ),
    )
    append(
        con,
        "orders",
        pd.DataFrame(
            [
                {
                    "order_id": "o9",
                    "account": ACCOUNT,
                    "as_of": last,
                    "ticker": "FFF",
                    "side": "BUY",
                    "qty": 50,
                    "type": "market",
                    "status": "rejected",
                    "reason": "gross exposure limit",
                    "intent": "signal",
                }
            ]
        ),
    )
    return last
