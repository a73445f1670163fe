"""Each forecaster against a slow reference or a known process; registry and determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.features import features_of
from engine.forecast import FORECAST_COLUMNS, Panel, available, create
from engine.forecast.models import arma_kernel as K
from engine.forecast.models.arima import ArimaForecaster, prepare, sarimax_fit_one
from engine.forecast.models.garch import GarchForecaster
from engine.forecast.models.lgbm import LightGBMForecaster
from engine.forecast.models.ssa import SsaForecaster, recurrent_forecast, ssa_basis


def synthetic_panel(n: int = 900, tickers: int = 4, seed: int = 1) -> Panel:
    rng = np.random.default_rng(seed)
    r = 0.0003 + 0.012 * rng.standard_normal((n, tickers))
    close = 50 * np.exp(np.cumsum(r, axis=0))
    dates = np.busday_offset(np.datetime64("2015-01-02"), np.arange(n), roll="forward")
    vol = rng.integers(1_000_000, 2_000_000, (n, tickers)).astype(float)
    return Panel(dates, tuple(f"T{i}" for i in range(tickers)), close * 0.999, close * 1.01, close * 0.99, close, vol)


def simulate_arma(phi: float, theta: float, n: int, cols: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n + 200, cols)) * 0.01
    x = np.zeros_like(e)
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + e[t] + theta * e[t - 1]
    return x[200:]


def test_registry_lists_models_and_rejects_unknown() -> None:
    assert {"naive", "drift", "arima", "garch", "ssa", "lightgbm", "neural"} <= set(available())
    with pytest.raises(ConfigError):
        create("prophet")


def test_batched_css_matches_statsmodels_sarimax() -> None:
    x = simulate_arma(0.6, -0.3, 1000, 2, seed=4)
    xx, w, _, _ = prepare(x, 100)
    beta, _ = K.fit_css(xx, w, 1, 1)
    for j in range(1):
        ref = sarimax_fit_one(x[:, j], (1, 1))  # const, ar, ma, sigma2
        assert beta[j, 0] == pytest.approx(ref[1], abs=0.05)
        assert beta[j, 2] == pytest.approx(ref[2], abs=0.05)


def test_css_residual_recursion_matches_loop_oracle() -> None:
    x = simulate_arma(0.3, 0.2, 50, 2, seed=5)
    beta = np.array([[0.3, 0.1, 0.2, -0.1], [0.5, 0.0, -0.4, 0.0]])
    e, _ = K.residuals(x, beta)
    for j in range(2):
        ref = np.zeros(50)
        for t in range(50):
            lag = lambda a, k, t=t: a[t - k] if t - k >= 0 else 0.0  # noqa: E731
            ref[t] = (
                x[t, j]
                - beta[j, 0] * lag(x[:, j], 1)
                - beta[j, 1] * lag(x[:, j], 2)
                - beta[j, 2] * lag(ref, 1)
                - beta[j, 3] * lag(ref, 2)
            )
        np.testing.assert_allclose(e[:, j], ref, rtol=1e-12, atol=1e-15)


def test_arima_daily_update_equals_refit_state_without_refitting() -> None:
    p = synthetic_panel()
    m = create("arima", {"orders": [(1, 0), (1, 1), (2, 2)]}).fit(p.rows(800), [1, 5])
    assert isinstance(m, ArimaForecaster)
    beta = m.beta_.copy()
    m.update(p.rows(810))
    assert np.array_equal(m.beta_, beta)  # parameters fixed between refits
    fresh = create("arima", {"orders": [(1, 0), (1, 1), (2, 2)]}).fit(p.rows(800), [1, 5])
    fresh.update(p.rows(805))
    fresh.update(p.rows(810))
    pd.testing.assert_frame_equal(m.predict(p.rows(810), [1, 5], 0.9), fresh.predict(p.rows(810), [1, 5], 0.9))


@pytest.mark.parametrize("name", ["naive", "drift", "arima", "garch", "ssa", "lightgbm"])
def test_every_model_forecasts_live_tickers_with_sane_intervals(name: str) -> None:
    p = synthetic_panel()
    m = create(name, {"n_estimators": 20} if name == "lightgbm" else None, seed=3)
    m.fit(p.rows(850), [1, 5, 21])
    out = m.predict(p.rows(860), [1, 5, 21], 0.9)
    assert list(out.columns) == list(FORECAST_COLUMNS)
    assert len(out) == 3 * p.n_tickers
    assert np.isfinite(out[["mean", "lower", "upper", "prob_up", "vol"]].to_numpy()).all()
    assert (out["lower"] <= out["mean"]).all() and (out["mean"] <= out["upper"]).all()
    assert out["prob_up"].between(0, 1).all()
    vol = out.pivot(index="ticker", columns="horizon", values="vol")
    assert (vol[21] > vol[1]).all()
    again = pickle.loads(pickle.dumps(m)).predict(p.rows(860), [1, 5, 21], 0.9)
    pd.testing.assert_frame_equal(out, again)  # restored state forecasts identically


def test_garch_update_is_the_variance_recursion() -> None:
    p = synthetic_panel(tickers=2)
    m = create("garch", {"dist": "normal"}).fit(p.rows(800), [1])
    assert isinstance(m, GarchForecaster)
    P0 = m.params_.copy()
    m.update(p.rows(801))
    r = p.log_returns()[800] * 100
    eps = r - P0[:, 0]
    np.testing.assert_allclose(m.params_[:, 6], P0[:, 1] + P0[:, 2] * eps**2 + P0[:, 3] * P0[:, 6])


def test_ssa_continues_a_sinusoid() -> None:
    t = np.arange(300, dtype=float)
    y = np.sin(2 * np.pi * t / 25)  # zero mean: the sine pair holds all the energy
    U, R = ssa_basis(y[:280], 50, 2)
    path = recurrent_forecast(y[230:280][None, :], (U @ U.T)[None], R[None], 10)
    np.testing.assert_allclose(path[0, 1:], y[280:290], atol=0.05)


def test_ssa_finds_a_cycle_in_returns_and_nothing_in_noise() -> None:
    """Returns = a 20-session cycle + noise: the Gavish–Donoho rank keeps the sine pair and
    the recurrence forecasts the next 5 returns' sum; pure noise gets rank 0 and a 0 forecast."""
    n = 400
    t = np.arange(n)
    rng = np.random.default_rng(3)
    cycle = 0.004 * np.sin(2 * np.pi * t / 20)
    r = np.c_[cycle + 0.002 * rng.standard_normal(n), 0.0003 + 0.012 * rng.standard_normal(n)]
    close = 50 * np.exp(np.cumsum(r, axis=0))
    dates = np.busday_offset(np.datetime64("2015-01-02"), t, roll="forward")
    panel = Panel(dates, ("CYC", "RW"), close, close, close, close, np.ones_like(close))
    m = create("ssa").fit(panel.rows(300), [5])
    assert isinstance(m, SsaForecaster)
    assert m.rank_[0] >= 2 and m.rank_[1] == 0
    got, want = [], []
    for c in range(300, 380):
        f = m.predict(panel.rows(c + 1), [5], 0.9).set_index("ticker")["mean"]
        got.append(f["CYC"])
        want.append(cycle[c + 1 : c + 6].sum())
        assert f["RW"] == 0.0
    assert np.corrcoef(got, want)[0, 1] > 0.9


def test_ssa_is_not_a_copy_of_drift_on_the_sample(request: pytest.FixtureRequest) -> None:
    from engine.forecast.validation import walk_forward

    panel = Panel.from_long(pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet"))
    key = ["cutoff", "ticker"]
    ssa = walk_forward(panel, "ssa", h=5, n_windows=40, step_size=5, refit=4)
    drift = walk_forward(panel, "drift", h=5, n_windows=40, step_size=5, refit=4)
    both = ssa[key + ["mean"]].merge(drift[key + ["mean"]], on=key, suffixes=("_ssa", "_drift"))
    assert len(both) == 40 * 20
    assert abs(np.corrcoef(both["mean_ssa"], both["mean_drift"])[0, 1]) < 0.9


def test_lightgbm_is_deterministic_and_shap_adds_up() -> None:
    p = synthetic_panel()
    a = create("lightgbm", {"n_estimators": 30}, seed=7).fit(p.rows(850), [5])
    assert isinstance(a, LightGBMForecaster)
    b = create("lightgbm", {"n_estimators": 30, "shap_backend": "lightgbm"}, seed=7).fit(p.rows(850), [5])
    fa, fb = a.predict(p.rows(860), [5], 0.9), b.predict(p.rows(860), [5], 0.9)
    assert fa["mean"].tolist() == fb["mean"].tolist()
    assert fa["drivers"].tolist() == fb["drivers"].tolist()  # TreeExplainer == LightGBM TreeSHAP
    X = features_of(p.rows(860)).values[-1]
    contrib = a.models_[5].predict(X, pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), fa["mean"].to_numpy(), rtol=1e-9, atol=1e-12)
    imp = a.feature_importance()
    assert imp is not None
    assert set(imp["horizon"]) == {5} and (imp["importance"] >= 0).all() and imp["importance"].sum() > 0
