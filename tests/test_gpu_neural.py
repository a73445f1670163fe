"""The neural forecaster on the CPU: learns a planted signal, repeats itself, never looks ahead."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.errors import UsageError
from engine.gpu.neural_net import NeuralConfig, NeuralNet, _PanelSource

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "watchlist_sample.parquet"
TINY: dict[str, Any] = {
    "arch": "tcn",
    "width": 8,
    "layers": 2,
    "window": 8,
    "epochs": 6,
    "batch_size": 128,
    "lr": 0.01,
    "dropout": 0.0,
}


def _planted(n: int = 2400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Horizon 1 depends on the last step of feature 0; horizon 2 is pure noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8, 3)).astype(np.float32)
    signal = x[:, -1, 0] - 0.5 * x[:, -3, 1]
    y = np.stack([0.02 * signal + 0.01 * rng.standard_normal(n), 0.01 * rng.standard_normal(n)], axis=1)
    y[: n // 10, 1] = np.nan  # unknown targets are masked, not learned
    return x, y.astype(np.float32)


@pytest.fixture(scope="module")
def planted_fit() -> tuple[NeuralNet, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = _planted()
    net = NeuralNet(NeuralConfig(**TINY, seed=1)).fit(x[:1800], y[:1800])
    q, p = net.predict(x[1800:])
    return net, q, p, y[1800:], y[:1800]


def test_beats_a_constant_on_a_planted_signal(planted_fit) -> None:
    net, q, p, y_test, y_train = planted_fit
    assert q.shape == (600, 2, 3) and p.shape == (600, 2)
    assert np.all(np.diff(q, axis=-1) >= 0)  # quantiles never cross
    median = q[:, 0, 1]
    const = np.median(y_train[:, 0])
    assert np.mean((median - y_test[:, 0]) ** 2) < 0.6 * np.mean((const - y_test[:, 0]) ** 2)
    assert np.mean((p[:, 0] > 0.5) == (y_test[:, 0] > 0)) > 0.7
    covered = np.mean((y_test[:, 0] >= q[:, 0, 0]) & (y_test[:, 0] <= q[:, 0, 2]))
    assert 0.75 < covered < 0.98
    assert net.history_[-1] < net.history_[0]


def test_same_seed_same_predictions_other_seed_different(planted_fit) -> None:
    x, y = _planted()
    _, q, p, _, _ = planted_fit
    q2, p2 = NeuralNet(NeuralConfig(**TINY, seed=1)).fit(x[:1800], y[:1800]).predict(x[1800:])
    assert np.array_equal(q, q2) and np.array_equal(p, p2)
    q3, _ = NeuralNet(NeuralConfig(**TINY, seed=2)).fit(x[:1800], y[:1800]).predict(x[1800:])
    assert not np.array_equal(q, q3)


def test_transformer_trains_too() -> None:
    x, y = _planted(600)
    cfg = NeuralConfig(**{**TINY, "epochs": 2, "heads": 2, "arch": "transformer"})
    q, p = NeuralNet(cfg).fit(x[:500], y[:500]).predict(x[500:])
    assert q.shape == (100, 2, 3) and np.isfinite(q).all() and ((p > 0) & (p < 1)).all()


def test_auto_arch_is_the_tcn_on_the_cpu_and_the_transformer_on_cuda() -> None:
    import torch

    x, y = _planted(300)
    net = NeuralNet(NeuralConfig(**{**TINY, "epochs": 1, "arch": "auto"})).fit(x, y)
    assert net.arch_ == "tcn" and net.device_ == "cpu"
    if torch.cuda.is_available():
        gpu = NeuralNet(NeuralConfig(**{**TINY, "epochs": 1, "arch": "auto", "device": "cuda"})).fit(x, y)
        assert gpu.arch_ == "transformer"
        q_cpu, _ = pickle.loads(pickle.dumps(gpu)).predict(x[:5])
        assert np.isfinite(q_cpu).all()
    else:  # a model whose config asks for CUDA still loads (on the CPU) where there is none
        from dataclasses import replace

        net.config = replace(net.config, device="cuda")
        restored = pickle.loads(pickle.dumps(net))
        assert restored.device_ == "cpu"
        np.testing.assert_array_equal(restored.predict(x[:5])[0], net.predict(x[:5])[0])


def test_panel_windows_are_the_explicit_slices() -> None:
    import torch

    rng = np.random.default_rng(3)
    cube = rng.standard_normal((40, 5, 2)).astype(np.float32)
    rows, cols = np.array([0, 3, 10, 39]), np.array([4, 0, 2, 1])
    x, _ = _PanelSource(cube, None, rows, cols, 6, torch.device("cpu")).batch(torch.arange(4))
    for k, (r, c) in enumerate(zip(rows, cols)):
        want = np.zeros((6, 2), np.float32)
        part = cube[max(0, r - 5) : r + 1, c]
        want[6 - part.shape[0] :] = part  # rows before the panel are zero (the mean)
        np.testing.assert_array_equal(x[k].numpy(), want)


@pytest.mark.parametrize(
    "bad",
    [
        {"arch": "lstm"},
        {"quantiles": (0.5, 0.05)},
        {"quantiles": (0.0, 0.5)},
        {"window": 0},
        {"arch": "transformer", "width": 30, "heads": 4},
        {"encoder_layers": 0},
    ],
)
def test_bad_config(bad: dict) -> None:
    with pytest.raises(UsageError):
        NeuralConfig.from_mapping(bad)


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(UsageError):
        NeuralNet().predict(np.zeros((1, 32, 3), np.float32))


# --- the Forecaster adapter on the bundled sample ----------------------------------------


@pytest.fixture(scope="module")
def sample_panel():
    from engine.panel import Panel

    bars = pd.read_parquet(SAMPLE)
    return Panel.from_long(bars).upto(dt.date(2015, 3, 2))


def test_training_targets_all_matured_by_the_cutoff(sample_panel) -> None:
    from engine.forecast.models.neural import NeuralForecaster

    model = NeuralForecaster({"train_lookback": 200}, seed=0)
    horizons = (1, 5, 21)
    targets, rows, cols = model.training_windows(sample_panel, horizons)
    last = sample_panel.n_sessions - 1
    assert rows.size > 0 and rows.min() >= last - 199
    for k, h in enumerate(horizons):
        known = np.isfinite(targets[rows, cols, k])
        assert (rows[known] + h <= last).all()  # the target window ends on or before the cutoff
        assert known.any() and (rows[~known] + h > last).all()
    # The newest window ends are still trained on for the horizons that matured.
    assert rows.max() == last - 1


def test_adapter_forecasts_every_live_ticker(sample_panel) -> None:
    from engine.forecast.base import FORECAST_COLUMNS
    from engine.forecast.registry import create

    params = {"width": 8, "layers": 2, "window": 16, "epochs": 1, "train_lookback": 120}
    model = create("neural", params, seed=3, device="cpu")
    assert model.name == "neural" and model.pooled
    model.fit(sample_panel, (1, 5))
    assert model.fitted_at_ == sample_panel.cutoff
    frame = model.predict(sample_panel, (1, 5), 0.9)
    assert list(frame.columns) == list(FORECAST_COLUMNS)
    assert len(frame) == 2 * sample_panel.n_tickers
    assert (frame["lower"] <= frame["mean"]).all() and (frame["mean"] <= frame["upper"]).all()
    assert frame["prob_up"].between(0, 1).all() and (frame["vol"] > 0).all()
    narrow = model.predict(sample_panel, (1,), 0.5)  # a level without matching quantiles
    assert (
        narrow["upper"] - narrow["lower"]
        < frame.query("horizon == 1")["upper"].to_numpy() - frame.query("horizon == 1")["lower"].to_numpy()
    ).all()
    again = create("neural", params, seed=3).fit(sample_panel, (1, 5)).predict(sample_panel, (1, 5), 0.9)
    pd.testing.assert_frame_equal(frame, again)
    with pytest.raises(UsageError):
        model.predict(sample_panel, (21,), 0.9)
    # The forecast stage pickles fitted models into the store; a restored one answers the same.
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(restored.predict(sample_panel, (1, 5), 0.9), frame)
