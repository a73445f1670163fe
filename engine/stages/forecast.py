"""The forecast stage: score matured forecasts, weight models, refit/update, forecast, store.

Per session: (1) score forecasts maturing today into `model_scores`; (2) weights
from recent out-of-sample skill into `model_weights` ((1) and (2) run on the cycle's
thread while the models do (3) on theirs); (3) refit every model on
sessions where `session_index % refit_every == 0` (data ≤ today), otherwise fold
today's bar into the fitted state; (4) forecast h = 1, 5, 21 sessions and the
ensemble into `forecasts`, SHAP drivers included; (5) publish `ForecastsUpdated`.
Cold start (fresh process): restore the fit made at the last scheduled refit
from `forecast_state` (or refit as of that session on data up to it), then
update to today, so resumed and uninterrupted runs write identical forecasts.
Background refits (`forecast.background_refit`: neural and LightGBM by default): the
refit session starts the fit on a background thread on data up to that session and
the old fit keeps forecasting; exactly `forecast.swap_after` sessions later the
stage waits for the new fit and swaps it in (and persists it), so the forecasts
never depend on how long the fit took; a cold start in between fits as of the
refit that is live at its session (a fresh start, with no fit at all, as of the last
refit session: it has nothing to swap).
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.data.calendar import session_after
from engine.events import Event
from engine.forecast.ensemble import combine, compute_weights
from engine.forecast.runner import ModelBank, load_state, save_state
from engine.forecast.scoring import DAILY_SQL, score_rows
from engine.panel import Panel
from engine.store import append, upsert
from engine.universe import managed_tickers

log = logging.getLogger(__name__)

FORECAST_DB_COLUMNS = [
    "account",
    "as_of",
    "ticker",
    "model",
    "horizon",
    "mean",
    "lower",
    "upper",
    "level",
    "prob_up",
    "vol",
    "target_date",
    "drivers",
]


@dataclass(frozen=True)
class ForecastsUpdated(Event):
    """Forecasts for `session` were stored (`n_rows` rows, all models and the ensemble)."""

    session: dt.date
    n_rows: int
    refit: bool = False
    models: tuple[str, ...] = ()


def model_params(cfg: Any, name: str) -> dict[str, Any]:
    """Settings of one model: [forecast.<name>] (the neural model reads [neural])."""
    section = cfg.get(f"forecast.{name}")
    if section is None and name == "neural":
        section = cfg.get("neural")
    return dict(section or {})


def _model_threads(ctx: CycleContext) -> ThreadPoolExecutor:
    workers = max(1, ctx.config.forecast.threads)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pmax-model")


#: The pooled models read the panel's features (computed once, the first asker computes,
#: the other waits): one goes first, the other last, the per-ticker models in between,
#: so that the second thread works while the features are computed. On a refit the
#: neural fit is the longest job and goes first; otherwise LightGBM (SHAP) does.
_CHEAP_ORDER = ("garch", "arima", "ssa")


def _swap_after(fc: Any) -> int:
    """Sessions from a background refit to its swap (a swap always comes before the next refit)."""
    return max(0, min(fc.swap_after, fc.refit_every - 1))


def _model_order(names: list[str], refit: bool) -> list[str]:
    first, last = ("neural", "lightgbm") if refit else ("lightgbm", "neural")
    rank = {first: 0, **{n: 1 + i for i, n in enumerate(_CHEAP_ORDER)}, last: 10}
    return sorted(names, key=lambda n: (rank.get(n, len(_CHEAP_ORDER) + 1), names.index(n)))


class ForecastStage(Stage):
    name = "forecast"

    def run(self, ctx: CycleContext) -> None:
        import scipy.linalg  # noqa: F401 - load SciPy's own BLAS (scipy.optimize adds none) before limiting threads
        from threadpoolctl import threadpool_limits

        # Small BLAS/OpenMP problems: extra threads only spin against the other stages.
        # A BLAS first loaded *inside* the limit would run unlimited in that one cycle,
        # and a different thread count changes the last digits of a fit (resume parity).
        fc = ctx.config.forecast
        if set(fc.background_refit) & set(fc.models) and "blas_pinned" not in ctx.state:
            # A background refit runs past the stage's limit, beside the other stages: BLAS
            # stays on one thread for the engine's life (as under `pmax`), or its result
            # would depend on when it ran.
            ctx.state["blas_pinned"] = threadpool_limits(1)
        with threadpool_limits(1):
            self._run(ctx)

    def _run(self, ctx: CycleContext) -> None:
        fc = ctx.config.forecast
        horizons = fc.horizons
        st = ctx.state.get(self.name)
        if st is None:
            names = list(fc.models)
            st = ctx.state[self.name] = {
                "bank": ModelBank(
                    names,
                    {n: model_params(ctx.config, n) for n in names},
                    seed=ctx.config.app.seed,
                    device=ctx.device,
                    workers=fc.workers,
                    parallel_min_tickers=fc.parallel_min_tickers,
                )
            }
        bank: ModelBank = st["bank"]
        # Every index below reaches at most this far back, so the bounded list gives the
        # same dates as the whole history (it is the whole history while that is shorter).
        need = max(fc.fit_window, fc.predict_window, fc.weight_window) + fc.refit_every + _swap_after(fc) + 2
        sessions = ctx.sessions(lookback=need)
        if not sessions:
            return
        tickers = managed_tickers(ctx)
        predict_panel = self._panel(ctx, sessions, sessions[-1], fc.predict_window, tickers)
        if predict_panel.n_sessions < 2:
            return
        k = ctx.session_index % fc.refit_every
        background = self._background(ctx)
        for name in bank.names:
            if name not in bank.models:  # cold start: the state the last fit left behind
                restored = load_state(ctx.con, ctx.account, name) if fc.persist_state else None
                if restored is not None:
                    bank.fit_day[name], bank.models[name], bank.snapshots[name] = restored
        live_day = {n: self._live_day(ctx, sessions, bank, n, n in background) for n in bank.names}
        swapped = self._swap_in(st, bank, live_day)
        to_fit = [n for n in bank.names if (k == 0 and n not in background) or bank.fit_day.get(n) != live_day[n]]
        fit_days = sorted({live_day[n] for n in to_fit})
        start_bg = [n for n in bank.names if n in background and k == 0 and live_day[n] != sessions[-1]]
        panels = {
            day: self._panel(ctx, sessions, day, fc.fit_window, tickers)
            for day in sorted({*fit_days, *([sessions[-1]] if start_bg else [])})
        }
        if panels:
            bank.executor(next(iter(panels.values())).n_tickers)  # any process pool before the threads start
        early_bg = [n for n in start_bg if n not in to_fit]  # the rest warm-start from this cycle's fit
        if early_bg:
            self._start_background(st, bank, early_bg, sessions[-1], panels[sessions[-1]], horizons)

        def refit_update_predict(name: str) -> pd.DataFrame:
            # Models are independent: on two cores LightGBM/torch (GIL-free) overlap the
            # Python-bound GARCH/ARIMA fits. Each model's result does not depend on the overlap.
            if name in to_fit:
                bank.fit(name, panels[live_day[name]], horizons)
            bank.models[name].update(predict_panel)
            return bank.models[name].predict(predict_panel, horizons, fc.level).assign(model=name)

        if "threads" not in st:  # one pool for the life of the stage (setdefault would build one per cycle)
            st["threads"] = _model_threads(ctx)
        # Longest first (a refit's critical path is the neural fit), so the pool is not left
        # with one long job at the end; the frames are still gathered in the models' order.
        order = _model_order(bank.names, bool(to_fit))
        pending = {n: st["threads"].submit(refit_update_predict, n) for n in order}
        try:
            # Scoring and weighting touch only the store (DuckDB runs without the GIL), not
            # the models: they run on this thread while the models work on theirs.
            self._score(ctx, predict_panel, horizons)
            weights = self._weights(ctx, sessions, bank.names, horizons)
        finally:
            wait(pending.values())  # never leave a model running past the stage
        frames = [pending[n].result() for n in bank.names]
        if late_bg := [n for n in start_bg if n in to_fit]:
            self._start_background(st, bank, late_bg, sessions[-1], panels[sessions[-1]], horizons)
        for name in bank.names:  # store writes stay on the cycle's thread, in a fixed order
            if name not in to_fit and name not in swapped:
                continue
            bank.fit_day[name] = live_day[name]
            if fc.persist_state:
                save_state(ctx.con, ctx.account, bank, name, live_day[name])
            self._write_importance(ctx, bank.models[name], live_day[name])
        refitted = bool(to_fit or swapped)
        forecasts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if not forecasts.empty:
            forecasts = pd.concat([forecasts, combine(forecasts, weights)], ignore_index=True)
        n = self._write_forecasts(ctx, forecasts, horizons)
        ctx.publish(ForecastsUpdated(ctx.session, n, refitted, tuple(bank.names)))

    @staticmethod
    def _background(ctx: CycleContext) -> set[str]:
        fc = ctx.config.forecast
        return set(fc.background_refit) & set(fc.models) if _swap_after(fc) > 0 else set()

    @staticmethod
    def _live_day(ctx: CycleContext, sessions: list[dt.date], bank: ModelBank, name: str, background: bool) -> dt.date:
        """The session whose data the fit that forecasts today saw.

        The last refit session; for a background model before its swap, the refit before
        that one, unless the model has no fit at all (a fresh start fits as of the last
        refit session and has nothing to swap) or already has that session's fit.
        """
        fc = ctx.config.forecast
        k = ctx.session_index % fc.refit_every
        last = sessions[max(0, len(sessions) - 1 - k)]
        if (
            background
            and k < _swap_after(fc)
            and ctx.session_index - k >= fc.refit_every
            and name in bank.models
            and bank.fit_day.get(name) != last
        ):
            return sessions[max(0, len(sessions) - 1 - k - fc.refit_every)]  # not swapped in yet
        return last

    @staticmethod
    def _start_background(
        st: dict[str, Any], bank: ModelBank, names: list[str], day: dt.date, panel: Panel, horizons: list[int]
    ) -> None:
        """Fit `names` on data up to `day` on the background thread (one at a time, in order)."""
        if "background" not in st:
            st["background"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmax-refit")
            st["pending"] = {}
        for name in names:
            warm = bank.snapshots.get(name)  # taken now: the bank may install another fit meanwhile
            st["pending"][name] = (day, st["background"].submit(bank.train, name, panel, horizons, warm))

    @staticmethod
    def _swap_in(st: dict[str, Any], bank: ModelBank, live_day: dict[str, dt.date]) -> list[str]:
        """Install the background fits due today (waiting for them); drop any that are stale."""
        swapped = []
        for name, (day, future) in list(st.get("pending", {}).items()):
            if day > live_day[name]:
                continue  # not due yet
            del st["pending"][name]
            model, snapshot = future.result()  # a failed fit fails this cycle, on the swap session
            if day == live_day[name]:
                bank.install(name, model, snapshot)
                bank.fit_day[name] = day
                swapped.append(name)
        return swapped

    @staticmethod
    def _panel(ctx: CycleContext, sessions: list[dt.date], end: dt.date, rows: int, tickers: list[str] | None) -> Panel:
        """Bars of the last `rows` sessions up to `end` (a pure function of stored bars ≤ end)."""
        pos = sessions.index(end)
        start = sessions[max(0, pos - rows + 1)]
        bars = ctx.history(tickers=tickers, start=start)
        bars = bars[bars["date"] <= end]
        return Panel.from_long(bars)

    def _score(self, ctx: CycleContext, panel: Panel, horizons: list[int]) -> None:
        lc = np.log(panel.close)
        scored = []
        for h in horizons:
            if panel.n_sessions <= h:
                continue
            origin = pd.Timestamp(panel.dates[-1 - h]).date()
            matured = ctx.con.execute(
                "SELECT as_of, ticker, model, horizon, mean, lower, upper, prob_up FROM forecasts "
                "WHERE account = ? AND as_of = ? AND horizon = ?",
                [ctx.account, origin, h],
            ).df()
            if matured.empty:
                continue
            actual = pd.Series(lc[-1] - lc[-1 - h], index=list(panel.tickers))
            scored.append(score_rows(matured, actual, ctx.account, ctx.session))
        if scored:
            upsert(ctx.con, "model_scores", pd.concat(scored, ignore_index=True))

    def _weights(
        self, ctx: CycleContext, sessions: list[dt.date], names: list[str], horizons: list[int]
    ) -> pd.DataFrame:
        fc = ctx.config.forecast
        window = fc.weight_window
        since = sessions[max(0, len(sessions) - window)]
        daily = ctx.con.execute(DAILY_SQL, [ctx.account, ctx.session, since]).df()
        w = compute_weights(
            daily, names, horizons, min_scored=fc.min_scored, require_significance=fc.require_significance
        )
        # Keyed on this session (as_of): always new rows, so a plain INSERT (no REPLACE probe).
        append(ctx.con, "model_weights", w.assign(account=ctx.account, as_of=ctx.session))
        return w

    @staticmethod
    def _write_importance(ctx: CycleContext, model: Any, refit_day: dt.date) -> None:
        imp = model.feature_importance()
        if imp is not None and not imp.empty:
            upsert(ctx.con, "feature_importance", imp.assign(account=ctx.account, as_of=refit_day, model=model.name))

    @staticmethod
    def _write_forecasts(ctx: CycleContext, df: pd.DataFrame, horizons: list[int]) -> int:
        if df.empty:
            return 0
        targets = {h: session_after(ctx.session, h) for h in horizons}  # NYSE sessions, holidays skipped
        df = df.assign(account=ctx.account, as_of=ctx.session, target_date=df["horizon"].map(targets))
        return append(ctx.con, "forecasts", df[FORECAST_DB_COLUMNS])  # keyed on as_of: always new
