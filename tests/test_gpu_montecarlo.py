"""Monte-Carlo VaR/CVaR: torch batched path vs the numpy reference, fits vs slow oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.errors import InputError, UsageError
from engine.gpu import montecarlo as mc
from engine.portfolio.mc_models import (
    clean_returns,
    dof_from_kurtosis,
    fit_filtered,
    fit_student_t,
    ledoit_wolf,
    tail_stats,
)


def _returns(t: int = 300, n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((n, n)) * 0.004 + np.eye(n) * 0.008
    return rng.standard_t(5, (t, n)) @ mix.T + 0.0003


def test_ledoit_wolf_matches_the_slow_formula() -> None:
    x = _returns(40, 12, seed=3)
    t, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    m = np.trace(s) / n
    d2 = np.linalg.norm(s - m * np.eye(n), "fro") ** 2 / n
    b2 = sum(np.linalg.norm(np.outer(r, r) - s, "fro") ** 2 for r in xc) / t**2 / n
    shrink = min(b2, d2) / d2
    cov, got = ledoit_wolf(x)
    assert got == pytest.approx(shrink, rel=1e-10)
    np.testing.assert_allclose(cov, shrink * m * np.eye(n) + (1 - shrink) * s, rtol=1e-10, atol=1e-16)


def test_shrunk_covariance_is_positive_definite_with_more_assets_than_days() -> None:
    x = _returns(30, 80, seed=4)
    cov, shrink = ledoit_wolf(x)
    assert 0.0 < shrink <= 1.0
    assert np.linalg.eigvalsh(cov).min() > 0


def test_tail_stats_follow_empyrical() -> None:
    import empyrical

    port = np.random.default_rng(5).standard_t(4, 5001) * 0.01
    var, cvar = tail_stats(port, (0.95, 0.99))
    for level in (0.95, 0.99):
        assert var[level] == pytest.approx(empyrical.value_at_risk(port, cutoff=1 - level), rel=1e-12)
        assert cvar[level] == pytest.approx(empyrical.conditional_value_at_risk(port, cutoff=1 - level), rel=1e-12)
        assert cvar[level] <= var[level] < 0


@pytest.mark.parametrize("n", [1, 2, 3, 100, 101, 5001, 100_000])
def test_tail_stats_partial_sort_equals_the_full_sort(n: int) -> None:
    # tail_stats sorts only the lowest returns; VaR and CVaR must be the full sort's exactly.
    port = np.round(np.random.default_rng(n).standard_t(4, n) * 0.01, 4)  # ties included
    full = np.sort(port)
    for levels in ((0.95, 0.99), (0.5,), (0.999,), (0.01, 0.9)):
        var, cvar = tail_stats(port, levels)
        for c in levels:
            pos = (1 - c) * (n - 1)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n - 1)
            assert var[c] == float(full[lo] + (pos - lo) * (full[hi] - full[lo]))
            assert cvar[c] == float(full[: int((n - 1) * (1 - c)) + 1].mean())


def test_tail_stats_torch_equals_numpy() -> None:
    import torch

    port = np.random.default_rng(6).standard_normal(12345) * 0.02
    got = mc.tail_stats_torch(torch.as_tensor(port), (0.9, 0.95, 0.99))
    want = tail_stats(port, (0.9, 0.95, 0.99))
    for g, w in zip(got, want):
        for level in w:
            assert g[level] == pytest.approx(w[level], rel=1e-12)


@pytest.mark.parametrize("joint", [False, True])
@pytest.mark.parametrize("small_chunks", [False, True])
def test_t_kernels_agree_on_the_same_draws(monkeypatch: pytest.MonkeyPatch, small_chunks: bool, joint: bool) -> None:
    if small_chunks:  # force several chunks (1024 paths each) through the torch loop
        monkeypatch.setattr(mc, "CHUNK_BYTES", {"cpu": 1, "cuda": 1})
    r, w = clean_returns(_returns(), np.array([0.3, 0.2, 0.1, 0.15, 0.05, 0.1]))
    model = fit_student_t(r, w)
    rng = np.random.default_rng(7)
    z = rng.standard_normal((5000, r.shape[1]))
    g = rng.chisquare(model.dof, 5000) / model.dof
    ref = mc.simulate(model, w, 5000, backend="numpy", draws=(z, g), joint=joint)
    got = mc.simulate(model, w, 5000, backend="torch", device="cpu", draws=(z, g), joint=joint)
    slow = np.array([w @ (model.mu + model.chol @ z[i] / np.sqrt(g[i])) for i in range(50)])
    np.testing.assert_allclose(ref[:50], slow, rtol=1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-15)
    for got_stat, ref_stat in zip(tail_stats(got, (0.95,)), tail_stats(ref, (0.95,)), strict=True):
        assert got_stat == pytest.approx(ref_stat)  # approx does not nest dicts inside a tuple


@pytest.mark.parametrize("joint", [False, True])
def test_bootstrap_kernels_agree_on_the_same_days(monkeypatch: pytest.MonkeyPatch, joint: bool) -> None:
    monkeypatch.setattr(mc, "CHUNK_BYTES", {"cpu": 1, "cuda": 1})
    r, w = clean_returns(_returns(), np.full(6, 1 / 6))
    model = fit_filtered(r)
    idx = np.random.default_rng(8).integers(0, r.shape[0], 3000)
    ref = mc.simulate(model, w, 3000, backend="numpy", draws=idx, joint=joint)
    got = mc.simulate(model, w, 3000, backend="torch", device="cpu", draws=idx, joint=joint)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(ref[:20], [(model.z[i] * model.sigma_next) @ w for i in idx[:20]], rtol=1e-12)


@pytest.mark.parametrize("method", ["t", "bootstrap"])
def test_reduced_paths_equal_the_joint_simulation(method: str) -> None:
    # Same seed, same draws: weighting each draw before or after forming the joint asset
    # return changes only the rounding, so VaR/CVaR agree to ~1e-12 on both backends.
    r, w = _returns(seed=16), np.array([0.3, 0.2, 0.1, 0.15, 0.05, 0.1])
    for backend in ("numpy", "torch"):
        red = mc.mc_var_cvar(r, w, 50_000, method=method, seed=6, backend=backend)
        full = mc.mc_var_cvar(r, w, 50_000, method=method, seed=6, backend=backend, joint=True)
        for level in (0.95, 0.99):
            assert red.var[level] == pytest.approx(full.var[level], rel=1e-10, abs=1e-15)
            assert red.cvar[level] == pytest.approx(full.cvar[level], rel=1e-10, abs=1e-15)


def test_each_backend_matches_the_closed_form_student_t() -> None:
    # With fixed dof the portfolio return is exactly mu_p + s_p * T_dof: VaR and CVaR are known.
    r, w = clean_returns(_returns(seed=9), np.array([0.25, 0.25, 0.2, 0.1, 0.1, 0.1]))
    dof = 5.0
    model = fit_student_t(r, w, dof=dof)
    mu_p, s_p = float(model.mu @ w), float(np.linalg.norm(model.chol.T @ w))
    for backend in ("numpy", "torch"):
        res = mc.mc_var_cvar(r, w, 400_000, method="t", device="cpu", seed=1, backend=backend, dof=dof)
        assert (res.backend, res.device, res.dof) == (backend, "cpu", dof)
        for level in (0.95, 0.99):
            q = stats.t.ppf(1 - level, dof)
            es = -stats.t.pdf(q, dof) / (1 - level) * (dof + q * q) / (dof - 1)
            assert res.var[level] == pytest.approx(mu_p + s_p * q, rel=0.02)
            assert res.cvar[level] == pytest.approx(mu_p + s_p * es, rel=0.03)


def test_backends_agree_in_distribution_for_the_bootstrap() -> None:
    # Enough days that the 1% tail is not sitting between two resampled days.
    r = _returns(t=4000, seed=10)
    w = np.full(6, 1 / 6)
    a = mc.mc_var_cvar(r, w, 200_000, method="bootstrap", backend="numpy", seed=3)
    b = mc.mc_var_cvar(r, w, 200_000, method="bootstrap", backend="torch", seed=3)
    for level in (0.95, 0.99):
        assert b.var[level] == pytest.approx(a.var[level], rel=0.03)
        assert b.cvar[level] == pytest.approx(a.cvar[level], rel=0.03)


def test_bootstrap_of_iid_normals_recovers_the_normal_quantile() -> None:
    rng = np.random.default_rng(11)
    r = rng.standard_normal((2000, 3)) * 0.01
    res = mc.mc_var_cvar(r, np.array([1.0, 0.0, 0.0]), 200_000, method="bootstrap", backend="numpy")
    sigma = fit_filtered(r).sigma_next[0]
    assert res.var[0.95] == pytest.approx(sigma * stats.norm.ppf(0.05), rel=0.06)


def test_seeds_repeat_and_differ() -> None:
    r, w = _returns(seed=12), np.full(6, 1 / 6)
    for backend in ("numpy", "torch"):
        a = mc.mc_var_cvar(r, w, 20_000, seed=4, backend=backend)
        b = mc.mc_var_cvar(r, w, 20_000, seed=4, backend=backend)
        c = mc.mc_var_cvar(r, w, 20_000, seed=5, backend=backend)
        assert a == b
        assert a.var != c.var


def test_signs_and_ordering() -> None:
    res = mc.mc_var_cvar(_returns(seed=13), np.full(6, 1 / 6), 50_000, levels=(0.95, 0.99))
    assert res.cvar[0.99] <= res.var[0.99] < res.var[0.95] < 0
    assert res.cvar[0.99] <= res.cvar[0.95] <= res.var[0.95]
    assert res.n_paths == 50_000 and res.method == "t" and res.backend == "numpy"


def test_zero_weight_holdings_are_dropped_from_the_simulation() -> None:
    r = _returns(seed=14)
    w = np.array([0.5, 0.0, 0.5, 0.0, 0.0, 0.0])
    full = fit_student_t(*clean_returns(r, w))
    res = mc.mc_var_cvar(r, w, 300_000, dof=full.dof, seed=2)
    s_p = float(np.linalg.norm(full.chol.T @ w))
    want = float(full.mu @ w) + s_p * stats.t.ppf(0.05, full.dof)
    assert res.var[0.95] == pytest.approx(want, rel=0.02)
    zero = mc.mc_var_cvar(r, np.zeros(6), 1000)
    assert zero.var == {0.95: 0.0, 0.99: 0.0}


def test_missing_days_are_dropped_and_kurtosis_sets_dof() -> None:
    r = _returns(seed=15)
    r[::10, 2] = np.nan
    clean, _ = clean_returns(r, np.full(6, 1 / 6))
    assert clean.shape[0] == r.shape[0] - 30 and np.isfinite(clean).all()
    normal = np.random.default_rng(0).standard_normal(20000)
    fat = np.random.default_rng(0).standard_t(5, 20000)
    assert dof_from_kurtosis(normal) == 30.0
    assert 4.0 < dof_from_kurtosis(fat) < 12.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"weights": np.ones(5)}, InputError),
        ({"returns": np.zeros((10, 6))}, InputError),
        ({"method": "garch"}, UsageError),
        ({"n_paths": 1}, UsageError),
        ({"levels": (1.5,)}, UsageError),
        ({"device": "tpu"}, UsageError),
        ({"backend": "jax"}, UsageError),
    ],
)
def test_bad_inputs(kwargs: dict, error: type[Exception]) -> None:
    args = {"returns": _returns(), "weights": np.full(6, 1 / 6), "n_paths": 1000, **kwargs}
    with pytest.raises(error):
        mc.mc_var_cvar(**args)
