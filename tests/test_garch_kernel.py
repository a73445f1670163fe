"""The batched GARCH(1,1) kernel finds the optimum `arch` finds, for every ticker at once.

Reference: `arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)` on
the bundled sample's percent log returns, first fitted as arch does by default, then
polished from its own optimum with a tight tolerance (SLSQP's default ftol stops
~1e-4 short in omega). Where both reach the same optimum (equal log-likelihood) the
parameters and the next-session variance agree to 1e-4; the kernel's likelihood is
never materially below arch's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from engine.forecast.models import garch_kernel

ROOT = Path(__file__).resolve().parent.parent

Dist = Literal["t", "normal"]


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    df = pd.read_parquet(ROOT / "data" / "watchlist_sample.parquet")
    close = df.pivot(index="date", columns="ticker", values="close").sort_index().to_numpy()
    return np.diff(np.log(close), axis=0)[-504:] * 100.0


def arch_fit(y: np.ndarray, dist: Dist) -> tuple[np.ndarray, float, float]:
    """arch's optimum (params, mean log-likelihood, next-session variance), tightly converged."""
    from arch import arch_model

    model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False, options={"maxiter": 200})
        res = model.fit(
            disp="off", show_warning=False, starting_values=res.params.to_numpy(), tol=1e-12, options={"maxiter": 1000}
        )
    p = res.params.to_numpy()
    eps = y[-1] - p[0]
    nxt = p[1] + p[2] * eps * eps + p[3] * float(res.conditional_volatility[-1]) ** 2
    return p, res.loglikelihood / y.size, nxt


@pytest.mark.parametrize("dist", ["t", "normal"])
def test_kernel_matches_arch(returns: np.ndarray, dist: Dist) -> None:
    theta, llf, _, nxt = garch_kernel.fit(returns, dist == "t")
    same = 0
    for j in range(returns.shape[1]):
        p, ref_llf, ref_nxt = arch_fit(returns[:, j], dist)
        assert llf[j] >= ref_llf - 1e-4, f"column {j}: kernel stopped at a lower likelihood"
        if abs(llf[j] - ref_llf) < 1e-9:  # the same optimum
            np.testing.assert_allclose(theta[j], p, atol=1e-4, rtol=1e-4)
            assert nxt[j] == pytest.approx(ref_nxt, rel=1e-4)
            same += 1
    assert same >= returns.shape[1] - 1  # a likelihood with two local optima may differ in one


def test_warm_start_and_ragged_columns(returns: np.ndarray) -> None:
    """A warm start reaches the same optimum; a column with a late listing fits its finite part."""
    cold, llf, _, _ = garch_kernel.fit(returns, True)
    _, llf_w, _, _ = garch_kernel.fit(returns, True, start=cold * [1.0, 1.2, 0.8, 1.02, 1.2])
    np.testing.assert_allclose(llf_w, llf, atol=1e-9)
    ragged = returns.copy()
    ragged[:200, 0] = np.nan
    theta, _, _, _ = garch_kernel.fit(ragged, True)
    alone, _, _, _ = garch_kernel.fit(returns[200:, :1], True)
    np.testing.assert_allclose(theta[0], alone[0], atol=1e-6)
    assert np.all(theta[:, 2] + theta[:, 3] <= 1) and np.all(theta[:, 1] > 0) and np.all(theta[:, 4] > 2.05)
