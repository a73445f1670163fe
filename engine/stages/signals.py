"""signals stage: regime, benchmark base (HRP only as an overlay), validated signals, targets.

Reads this session's ensemble forecasts (and GARCH vols) written by the forecast
stage, the ensemble's scored out-of-sample record per ticker, and the marked book;
writes `regimes` and one `signals` row per watchlist ticker (a ticker without a
forecast gets a HOLD at its base weight). Targets go to the portfolio stage via
`ctx.state` (it re-reads `signals` on a cold start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.events import Event
from engine.portfolio.benchmark import benchmark_weights, overlays_on
from engine.portfolio.book import assess
from engine.portfolio.construct import StrategyParams, TickerScore, construct, forecast_vols
from engine.portfolio.db import first_row, insert_row
from engine.portfolio.hrp import HRPAllocator
from engine.portfolio.killswitch import toward_benchmark
from engine.portfolio.regime import detect_regime
from engine.portfolio.settings import check_portfolio_config
from engine.portfolio.signal_layers import statistical_gate
from engine.stage_state import REGIME_KEY, TARGETS_KEY, ensemble_forecasts, garch_vols
from engine.store import append
from engine.store.read_model import hit_sql
from engine.universe import liquidating


@dataclass(frozen=True)
class SignalsUpdated(Event):
    session: dt.date
    n_signals: int
    n_validated: int
    regime: str


@dataclass(frozen=True)
class RegimeChanged(Event):
    session: dt.date
    previous: str | None
    regime: str
    exposure_scale: float


def ticker_scores(ctx: CycleContext, horizon: int, window: int) -> dict[str, TickerScore]:
    """The ensemble's last `window` matured forecasts per ticker, tested against the
    stronger of naive and drift with BH control across tickers (`statistical_gate`).
    `dm_pvalue` carries the Benjamini–Hochberg q-value the layer compares to α."""
    got = ctx.con.execute(
        f"SELECT e.ticker, e.error, e.naive_error, d.error AS drift_error, {hit_sql('e')} AS hit "
        "FROM model_scores e LEFT JOIN model_scores d ON d.account = e.account AND d.model = 'drift' "
        "AND d.horizon = e.horizon AND d.ticker = e.ticker AND d.forecast_as_of = e.forecast_as_of "
        "WHERE e.account = ? AND e.model = 'ensemble' AND e.horizon = ? AND e.as_of <= ? "
        "QUALIFY row_number() OVER (PARTITION BY e.ticker ORDER BY e.forecast_as_of DESC) <= ? "
        "ORDER BY e.ticker, e.forecast_as_of",
        [ctx.account, horizon, ctx.session, window],
    ).fetchnumpy()
    tick = np.asarray(got["ticker"], dtype=object)
    if tick.size == 0:
        return {}
    err = np.asarray(got["error"], dtype=float)
    naive = np.asarray(got["naive_error"], dtype=float)
    drift: np.ndarray = np.ma.filled(np.ma.asarray(got["drift_error"], dtype=float), np.nan)  # NULL: not scored
    hit: np.ndarray = np.ma.filled(np.ma.asarray(got["hit"], dtype=float), np.nan)  # NULL: a tie, no call
    cuts = np.flatnonzero(tick[1:] != tick[:-1]) + 1
    series = {
        str(tick[lo]): (err[lo:hi], naive[lo:hi], drift[lo:hi], hit[lo:hi])
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, tick.size])
    }
    gate = statistical_gate(series, horizon, ctx.config.signals.min_scored)
    return {t: TickerScore(g.n_scored, g.hits, g.stat, g.qvalue, n_calls=g.n_calls) for t, g in gate.items()}


def ensemble_demoted(ctx: CycleContext, horizon: int) -> bool:
    row = first_row(
        ctx.con,
        "SELECT demoted FROM model_weights WHERE account = ? AND model = 'ensemble' AND horizon = ? "
        "AND as_of <= ? ORDER BY as_of DESC LIMIT 1",
        [ctx.account, horizon, ctx.session],
    )
    return bool(row[0]) if row and row[0] is not None else False


def regime_exposure(ctx: CycleContext) -> dict[str, float]:
    p = ctx.config.portfolio
    return {
        "bull": p.regime_exposure_bull,
        "sideways": p.regime_exposure_sideways,
        "bear": p.regime_exposure_bear,
        "crisis": p.regime_exposure_crisis,
    }


class SignalsStage(Stage):
    name = "signals"

    def run(self, ctx: CycleContext) -> None:
        if ctx.state.get("portfolio.config_checked") is not ctx.config:
            check_portfolio_config(ctx.config)
            ctx.state["portfolio.config_checked"] = ctx.config
        a = assess(ctx)
        view = a.view
        if not view.tickers:
            return
        s, p = ctx.config.signals, ctx.config.portfolio
        params = StrategyParams.from_config(ctx.config)
        rets = view.returns
        regime = detect_regime(
            rets,
            trend_window=s.regime_trend_window,
            vol_window=s.regime_vol_window,
            corr_window=s.regime_corr_window,
            trend_threshold=s.regime_trend_threshold,
            crisis_vol=s.regime_crisis_vol,
            crisis_corr=s.regime_crisis_corr,
            exposure=regime_exposure(ctx),
        )
        prev = first_row(
            ctx.con, "SELECT regime FROM regimes WHERE as_of < ? ORDER BY as_of DESC LIMIT 1", [ctx.session]
        )
        insert_row(
            ctx.con,
            "regimes",
            {
                "as_of": ctx.session,
                "regime": regime.regime,
                "trend": regime.trend,
                "volatility": regime.volatility,
                "avg_correlation": regime.avg_correlation,
                "exposure_scale": regime.exposure_scale,
            },
            replace=True,
        )
        ctx.state[REGIME_KEY] = (ctx.session, regime.regime)
        if prev is None or prev[0] != regime.regime:
            ctx.publish(RegimeChanged(ctx.session, prev[0] if prev else None, regime.regime, regime.exposure_scale))
        # Tradable: a usable close today, enough return history, not halted.
        has = view.has_today()
        need = min(p.min_history, rets.shape[0])
        complete = (np.isfinite(rets).sum(axis=0) >= need) if rets.shape[0] else np.zeros(len(view.tickers), bool)
        selling = liquidating(ctx)  # removed from the watchlist and being sold: no signal, no benchmark weight
        halted = np.array([t in a.ks.ticker_halts or t in selling for t in view.tickers])
        tradable = has & complete & ~halted
        # The benchmark's universe ignores a missing bar or a halt: its weights drift on.
        universe = [t for i, t in enumerate(view.tickers) if complete[i] and t in a.prices and t not in selling]
        bench = dict(zip(universe, benchmark_weights(ctx, view, universe, a.prices)))
        idx = np.flatnonzero(tradable)
        tickers = [view.tickers[i] for i in idx]
        if not tickers:
            return
        r = np.nan_to_num(rets[:, idx])  # a missing day counts as flat
        overlays = overlays_on(ctx.config)
        base = (
            HRPAllocator(min_obs=p.min_history).fit(r).weights_
            if "hrp" in overlays
            else np.array([bench.get(t, 0.0) for t in tickers])
        )
        corr = np.corrcoef(r, rowvar=False) if r.shape[0] > 2 and len(idx) > 1 else np.eye(len(idx))
        corr = np.nan_to_num(np.atleast_2d(corr))
        prices = np.array([a.prices[t] for t in tickers])
        current_w = np.array([a.weight(t) for t in tickers])
        realised = r[-63:].std(axis=0, ddof=1) * np.sqrt(252.0) if r.shape[0] > 2 else np.full(len(idx), np.nan)
        vol_ann = forecast_vols(garch_vols(ctx, params.horizon), realised, tickers, params.horizon)
        signals, target = construct(
            tickers,
            base,
            ensemble_forecasts(ctx, params.horizon),
            ticker_scores(ctx, params.horizon, s.score_window),
            regime,
            (regime.exposure_scale if "regime" in overlays else 1.0) * a.ks.exposure_scale,
            current_w,
            corr,
            prices,
            vol_ann,
            a.equity,
            params,
            demoted=ensemble_demoted(ctx, params.horizon),
        )
        if a.ks.active_scale < 1.0:  # active drawdown stop: back toward the benchmark's weights
            cap = p.max_position
            neutral = [min(bench.get(t, 0.0) * (1.0 - params.cash_buffer), cap) for t in tickers]
            target = np.array(toward_benchmark(list(target), neutral, a.ks.active_scale))
            for g, w in zip(signals, target):
                g.target_weight = float(w)
        append(
            ctx.con,
            "signals",
            pd.DataFrame(
                [
                    {
                        "account": ctx.account,
                        "as_of": ctx.session,
                        "ticker": g.ticker,
                        "action": g.action,
                        "confidence": g.confidence,
                        "expected_return": g.expected_return,
                        "horizon": g.horizon,
                        "prob_up": g.prob_up,
                        "validated": g.validated,
                        "layers": g.layers_json(),
                        "drivers": g.drivers,
                        "target_weight": g.target_weight,
                        "base_weight": g.base_weight,
                        "tilt": g.tilt,
                        "reason": g.reason,
                        "core_weight": float(c),
                    }
                    for g, c in zip(signals, base)
                ]
            ),
        )
        edges = {g.ticker: (g.expected_return if g.validated and g.tilt != 0 else 0.0) for g in signals}
        ctx.state[TARGETS_KEY] = (ctx.session, dict(zip(tickers, map(float, target))), edges)
        ctx.publish(SignalsUpdated(ctx.session, len(signals), sum(g.validated for g in signals), regime.regime))
