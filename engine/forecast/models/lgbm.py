"""`lightgbm`: one global gradient-boosted model per horizon, pooled across tickers.

Trained on the causal features (`engine.features`) of every ticker and session
in the window whose h-session target is known by the cutoff. The last
`calib_sessions` are held out after a purge gap of h sessions: their residuals,
standardised by GARCH volatility × sqrt(h), give the interval and P(up). Every
prediction carries its top SHAP drivers; each refit records mean |SHAP|.
Deterministic: `deterministic=True`, fixed `num_threads`, seeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from engine.features import FEATURE_WARMUP, features_of, forward_returns, training_mask
from engine.forecast.base import Forecaster, Panel, drivers_json, forecast_frame


def _scale(feats: np.ndarray, names: Sequence[str], h: int) -> np.ndarray:
    """Per-row volatility scale for horizon h: GARCH vol, else 21-day vol, × sqrt(h)."""
    g = feats[..., names.index("garch_vol")]
    rv = feats[..., names.index("rv_21")]
    return np.where(np.isfinite(g) & (g > 0), g, rv) * np.sqrt(h)


class LightGBMForecaster(Forecaster):
    """Global LightGBM regressor of h-session log returns with SHAP drivers."""

    name = "lightgbm"
    pooled = True
    min_history = FEATURE_WARMUP

    def _lgb_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "huber",
            "alpha": 1.0,
            "learning_rate": float(p.get("learning_rate", 0.05)),
            "num_leaves": int(p.get("num_leaves", 15)),
            "max_depth": int(p.get("max_depth", 5)),
            "min_data_in_leaf": int(p.get("min_data_in_leaf", 200)),
            "feature_fraction": 0.8,
            "feature_fraction_seed": self.seed,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": int(p.get("num_threads", 1)),
            "verbosity": -1,
        }

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> LightGBMForecaster:
        import lightgbm as lgb

        fs = features_of(panel)
        names = list(fs.names)
        window = int(self.params.get("window", 756))
        calib = int(self.params.get("calib_sessions", 63))
        max_rows = int(self.params.get("max_rows", 150_000))
        T = panel.n_sessions
        first = max(FEATURE_WARMUP, T - window)
        self.names_ = tuple(names)
        self.models_: dict[int, Any] = {}
        self.calib_z_: dict[int, np.ndarray] = {}
        self.importance_: dict[int, np.ndarray] = {}
        for h in horizons:
            y = forward_returns(panel, h)
            usable = training_mask(T, h)
            calib_start = max(first, T - 1 - h - calib)
            train_rows = np.nonzero(training_mask(T, h, calib_start, T, 0) & usable)[0]
            train_rows = train_rows[train_rows >= first]
            calib_rows = np.nonzero(usable)[0]
            calib_rows = calib_rows[calib_rows >= calib_start]
            X, Y = _rows(fs.values, y, train_rows)
            if len(Y) < 500:
                continue
            if len(Y) > max_rows:  # deterministic thinning, keeps whole sessions' cross-sections mixed
                keep = np.linspace(0, len(Y) - 1, max_rows).astype(np.int64)
                X, Y = X[keep], Y[keep]
            booster = lgb.train(
                self._lgb_params(),
                lgb.Dataset(X, Y, feature_name=names, free_raw_data=True),
                num_boost_round=int(self.params.get("n_estimators", 150)),
            )
            self.models_[h] = booster
            Xc, Yc = _rows(fs.values, y, calib_rows)
            sc = _scale(Xc, names, h)
            ok = np.isfinite(sc) & (sc > 0)
            z = (Yc[ok] - booster.predict(Xc[ok], num_threads=self._lgb_params()["num_threads"])) / sc[ok]
            self.calib_z_[h] = (
                np.sort(z) if len(z) >= 30 else np.sort(np.random.default_rng(self.seed).standard_normal(1000))
            )
            sv, _ = self._shap(booster, Xc[: int(self.params.get("importance_rows", 1000))])
            self.importance_[h] = np.abs(sv).mean(axis=0) if len(sv) else np.zeros(len(names))
        self.fitted_at_ = panel.cutoff if self.models_ else None
        return self

    def _shap(self, booster: Any, X: np.ndarray) -> tuple[np.ndarray, Any]:
        from engine.explain import tree_shap

        if len(X) == 0:
            return np.empty((0, len(self.names_))), None
        cache = self.__dict__.setdefault("_explainers", {})
        backend = str(self.params.get("shap_backend", "shap"))
        values, explainer = tree_shap(booster, X, backend, cache.get(id(booster)))
        if explainer is not None:
            cache[id(booster)] = explainer
        return values, explainer

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        frames = []
        fs = features_of(panel) if self.fitted else None
        k = int(self.params.get("top_drivers", 5))
        for h in horizons:
            if fs is None or h not in self.models_:
                frames.append(forecast_frame([], h, np.array([]), np.array([]), level))
                continue
            X = fs.values[-1]
            sc = _scale(X, list(self.names_), h)
            live = panel.live() & np.isfinite(sc) & (sc > 0)
            X, sc = X[live], sc[live]
            booster = self.models_[h]
            mean = booster.predict(X, num_threads=self._lgb_params()["num_threads"]) if len(X) else np.array([])
            z = self.calib_z_[h]
            lo, hi = np.quantile(z, [(1 - level) / 2, (1 + level) / 2])
            p_up = 1.0 - np.searchsorted(z, -mean / sc, side="right") / len(z)
            sv, _ = self._shap(booster, X)
            drivers = [drivers_json(_top(self.names_, X[i], sv[i], k)) for i in range(len(X))]
            names = [t for t, ok in zip(panel.tickers, live) if ok]
            frames.append(
                forecast_frame(
                    names,
                    h,
                    mean,
                    np.std(z) * sc,
                    level,
                    prob_up=p_up,
                    lower=mean + lo * sc,
                    upper=mean + hi * sc,
                    drivers=drivers,
                )
            )
        return pd.concat(frames, ignore_index=True)

    def feature_importance(self) -> pd.DataFrame | None:
        if not self.fitted:
            return None
        rows = [(h, f, float(v)) for h, imp in self.importance_.items() for f, v in zip(self.names_, imp)]
        return pd.DataFrame(rows, columns=["horizon", "feature", "importance"])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_explainers", None)  # shap explainers are rebuilt on demand
        return state


def _top(names: Sequence[str], x: np.ndarray, s: np.ndarray, k: int) -> list[tuple[str, float, float]]:
    from engine.explain import top_drivers

    return top_drivers(names, x, s, k)


def _rows(values: np.ndarray, y: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stack (row, ticker) samples of the given sessions with a finite target."""
    X = values[rows].reshape(-1, values.shape[2])
    Y = y[rows].reshape(-1)
    ok = np.isfinite(Y)
    return X[ok], Y[ok]
