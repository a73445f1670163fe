"""`neural`: the global torch forecaster behind the `Forecaster` interface.

One network (`engine.gpu.neural_net`) is trained across every ticker of the panel
on rolling windows of the engine's causal features (`engine.features`), with the
h-session forward log returns as targets. A training window ends at row t only if
its target window [t, t+h] lies inside the panel, so every target matured on or
before the cutoff (`forward_returns` is NaN past it and those horizons are masked
out of the loss). Refits follow the forecast stage's schedule; `update` is a no-op
(predictions read the newest features). torch is imported only when fitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import UsageError
from engine.forecast.base import Forecaster, Panel, empty_forecasts, forecast_frame

#: Adapter settings (the rest of the [neural] section configures the network).
ADAPTER_DEFAULTS: dict[str, Any] = {
    "train_lookback": 756,  # sessions of window ends trained on, newest first
    "min_feature_frac": 0.8,  # a window end needs this share of finite features
    "cpu_max_windows": 12000,  # on the CPU, train on at most this many sampled windows (0: all)
}


class NeuralForecaster(Forecaster):
    """Global TCN/transformer forecaster: quantiles and P(up) per ticker and horizon."""

    name = "neural"
    pooled = True
    min_history = 64

    def __init__(self, params: Mapping[str, Any] | None = None, *, seed: int = 0, device: str = "cpu") -> None:
        super().__init__(params, seed=seed, device=device)
        from engine.gpu.neural_net import NeuralConfig

        net_params = {k: v for k, v in self.params.items() if k not in ADAPTER_DEFAULTS}
        self.config = NeuralConfig.from_mapping(net_params, seed=self.seed, device=device)
        self.settings = {k: self.params.get(k, v) for k, v in ADAPTER_DEFAULTS.items()}
        self.net_: Any = None
        self.horizons_: tuple[int, ...] = ()

    # -- windows -------------------------------------------------------------------

    def usable(self, feats: np.ndarray, close: np.ndarray) -> np.ndarray:
        """(T, N) mask of window ends with a bar and enough finite features."""
        frac = np.isfinite(feats).mean(axis=-1) if feats.shape[-1] else np.ones(close.shape)
        seen = np.cumsum(np.isfinite(close), axis=0)
        return np.isfinite(close) & (frac >= float(self.settings["min_feature_frac"])) & (seen >= self.min_history)

    def training_windows(self, panel: Panel, horizons: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Targets (T, N, H) and the (row, col) window ends trained on.

        A window end qualifies when at least one horizon's target is known (its whole
        target window lies inside the panel); unknown horizons stay NaN and are masked.
        """
        from engine.features import features_of, forward_returns

        feats = features_of(panel).values
        targets = np.stack([forward_returns(panel, int(h)) for h in horizons], axis=-1)
        ok = self.usable(feats, panel.close) & np.isfinite(targets).any(axis=-1)
        first = max(0, panel.n_sessions - int(self.settings["train_lookback"]))
        ok[:first] = False
        rows, cols = np.nonzero(ok)
        return targets, rows, cols

    # -- Forecaster ------------------------------------------------------------------

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> NeuralForecaster:
        from engine.features import features_of
        from engine.gpu.neural_net import NeuralNet

        targets, rows, cols = self.training_windows(panel, horizons)
        self.horizons_ = tuple(int(h) for h in horizons)
        if rows.size == 0:
            self.net_ = None  # too little history yet: predict returns nothing
        else:
            self.net_ = NeuralNet(self._fit_config()).fit_panel(features_of(panel).values, targets, rows, cols)
        self.fitted_at_ = panel.cutoff
        return self

    def _fit_config(self) -> Any:
        """The network config for this fit: CPU fits train on a seeded sample of windows."""
        from dataclasses import replace

        from engine.device import select_device

        cap = int(self.settings["cpu_max_windows"])
        if cap <= 0 or select_device(self.config.device).is_cuda:
            return self.config
        current = self.config.max_windows
        return replace(self.config, max_windows=min(current, cap) if current else cap)

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        if self.net_ is None or panel.n_sessions == 0:
            return empty_forecasts()
        missing = [h for h in horizons if int(h) not in self.horizons_]
        if missing:
            raise UsageError(
                f"neural model was fitted for horizons {list(self.horizons_)}, not {missing}",
                "refit with the forecast horizons",
            )
        from engine.features import features_of

        feats = features_of(panel).values
        last = panel.n_sessions - 1
        cols = np.nonzero(self.usable(feats, panel.close)[last])[0]
        if cols.size == 0:
            return empty_forecasts()
        q, p_up = self.net_.predict_panel(feats, np.full(cols.size, last), cols)
        names = [panel.tickers[c] for c in cols]
        frames = [
            self._frame(names, int(h), q[:, self.horizons_.index(int(h))], p_up[:, self.horizons_.index(int(h))], level)
            for h in horizons
        ]
        return pd.concat(frames, ignore_index=True)

    def _frame(self, names: list[str], h: int, q: np.ndarray, p_up: np.ndarray, level: float) -> pd.DataFrame:
        """Median as the mean; the interval from matching quantiles, else a normal fit to them."""
        taus = np.asarray(self.config.quantiles)
        mid = int(np.argmin(np.abs(taus - 0.5)))
        lo_tau, hi_tau = 0.5 - level / 2.0, 0.5 + level / 2.0
        nd = NormalDist()
        spread = nd.inv_cdf(taus[-1]) - nd.inv_cdf(taus[0]) if taus.size > 1 else 0.0
        vol = (q[:, -1] - q[:, 0]) / spread if spread > 0 else np.zeros(len(names))
        i_lo, i_hi = np.argmin(np.abs(taus - lo_tau)), np.argmin(np.abs(taus - hi_tau))
        if abs(taus[i_lo] - lo_tau) < 1e-9 and abs(taus[i_hi] - hi_tau) < 1e-9:
            lower, upper = q[:, i_lo], q[:, i_hi]
        else:
            z = nd.inv_cdf(hi_tau)
            lower, upper = q[:, mid] - z * vol, q[:, mid] + z * vol
        return forecast_frame(names, h, q[:, mid], vol, level, prob_up=p_up, lower=lower, upper=upper)
