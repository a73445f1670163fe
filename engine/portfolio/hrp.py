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


def _cluster_var(cov: np.ndarray, idx: list[int]) -> float:
    sub = cov[np.ix_(idx, idx)]
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
    order = _quasi_diag(link, n)
    w = np.ones(n)
    clusters = [order]
    while clusters:
        nxt: list[list[int]] = []
        for c in clusters:
            if len(c) <= 1:
                continue
            half = len(c) // 2
            left, right = c[:half], c[half:]
            v_l, v_r = _cluster_var(cov, left), _cluster_var(cov, right)
            alpha = 1.0 - v_l / (v_l + v_r) if (v_l + v_r) > 0 else 0.5
            w[left] *= alpha
            w[right] *= 1.0 - alpha
            nxt.extend([left, right])
        clusters = nxt
    return w / w.sum()


class HRPAllocator:
    """Fits HRP weights on a returns matrix (T x N); `weights_` holds the result."""

    def __init__(self, min_obs: int = 60) -> None:
        self.min_obs = min_obs
        self.weights_: np.ndarray | None = None

    def fit(self, returns: np.ndarray) -> HRPAllocator:
        """Fit on returns (T x N) without NaNs; fewer than `min_obs` rows gives 1/N."""
        returns = np.asarray(returns, dtype=float)
        n = returns.shape[1]
        if returns.shape[0] < self.min_obs or n < 2:
            self.weights_ = np.full(n, 1.0 / n) if n else np.zeros(0)
        else:
            self.weights_ = hrp_weights(np.cov(returns, rowvar=False, ddof=1))
        return self
