"""Hierarchical risk parity (López de Prado, 2016) as a pure numpy/scipy kernel.

`hrp_weights(cov)` clusters assets by correlation distance (single linkage),
orders them quasi-diagonally and splits weight by inverse cluster variance.
`HRPAllocator` is the thin fitted wrapper used by the portfolio stage.
"""

from __future__ import annotations

import numpy as np


def _cov_to_corr(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.clip(np.diag(cov), 1e-18, None))
    corr = cov / np.outer(sd, sd)
    return np.clip(corr, -1.0, 1.0)


def _quasi_diag(link: np.ndarray, n: int) -> list[int]:
    """Leaf order of the linkage tree (iterative, so deep trees cannot recurse)."""
    order: list[int] = []
    stack = [2 * n - 2]
    while stack:
        node = stack.pop()
        if node < n:
            order.append(node)
        else:
            left, right = int(link[node - n, 0]), int(link[node - n, 1])
            stack.append(right)
            stack.append(left)
    return order


def _cluster_var(cov: np.ndarray, a: int, b: int) -> float:
    """Inverse-variance-portfolio variance of the contiguous block [a, b) of `cov`."""
    if b - a == 1:
        return float(cov[a, a])
    sub = cov[a:b, a:b]
    ivp = 1.0 / np.clip(np.diag(sub), 1e-18, None)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def hrp_weights(cov: np.ndarray) -> np.ndarray:
    """Long-only HRP weights summing to 1 for a covariance matrix (N x N).

    Args:
        cov: a symmetric positive semi-definite covariance matrix.

    Returns:
        weights (N,), non-negative, summing to one; N == 1 gives [1.0].
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    corr = _cov_to_corr(cov)
    dist = np.sqrt(np.clip(0.5 * (1.0 - corr), 0.0, None))
    np.fill_diagonal(dist, 0.0)
    link = linkage(squareform(dist, checks=False), method="single")
    order = np.array(_quasi_diag(link, n))
    # In quasi-diagonal order every cluster of the bisection is a contiguous block.
    cs = cov[np.ix_(order, order)]
    w = np.ones(n)
    spans = [(0, n)]
    while spans:
        nxt: list[tuple[int, int]] = []
        for a, b in spans:
            if b - a <= 1:
                continue
            m = a + (b - a) // 2
            v_l, v_r = _cluster_var(cs, a, m), _cluster_var(cs, m, b)
            alpha = 1.0 - v_l / (v_l + v_r) if (v_l + v_r) > 0 else 0.5
            w[a:m] *= alpha
            w[m:b] *= 1.0 - alpha
            nxt.extend([(a, m), (m, b)])
        spans = nxt
    out = np.empty(n)
    out[order] = w
    return out / out.sum()


class HRPAllocator:
    """Fits HRP weights on a returns matrix (T x N); `weights_` holds the result."""

    def __init__(self, min_obs: int = 60) -> None:
        self.min_obs = min_obs
        self.weights_: np.ndarray  # set by fit(), as a fitted attribute is

    def fit(self, returns: np.ndarray) -> HRPAllocator:
        """Fit on returns (T x N) without NaNs; fewer than `min_obs` rows gives 1/N."""
        returns = np.asarray(returns, dtype=float)
        n = returns.shape[1]
        if returns.shape[0] < self.min_obs or n < 2:
            self.weights_ = np.full(n, 1.0 / n) if n else np.zeros(0)
        else:
            self.weights_ = hrp_weights(np.cov(returns, rowvar=False, ddof=1))
        return self
