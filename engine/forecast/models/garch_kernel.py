"""Batched GARCH(1,1) maximum likelihood: every ticker's fit at once, in numpy.

The model is `arch`'s `arch_model(y, mean="Constant", vol="GARCH", p=1, q=1)` with
Normal or standardised Student-t innovations, written so that one pass evaluates the
log-likelihood *and its analytic gradient* for all tickers:

    e_t = y_t - mu,   s_t = omega + alpha e²_{t-1} + beta s_{t-1},   e²_{-1} = s_{-1} = backcast

with arch's backcast (0.94-weighted mean of the first 75 squared residuals at the
sample mean, fixed during the fit). The variance and its derivatives share the
recursion's denominator, so each column is one C-level IIR filter (`lfilter`) over
time. Estimation: BFGS per ticker, vectorised across tickers, on an unconstrained
transform (omega = e^u, alpha + beta = sigmoid, alpha / (alpha + beta) = sigmoid,
nu = 2.05 + e^u) with a per-ticker Armijo line search, so the constraints arch gives
SLSQP (omega > 0, alpha, beta ≥ 0, alpha + beta < 1, nu > 2.05) always hold.
Unlike arch, the variance is not clipped to data-driven bounds (they only bind far
from an optimum). Series may have different lengths: each column's finite values
are fitted, as arch fits `y[isfinite(y)]`.
"""

from __future__ import annotations

import numpy as np

NU_MIN = 2.05
_MAX_ITER = 200
_GTOL = 1e-7


def backcast(e: np.ndarray) -> float:
    """arch's backcast: the 0.94-weighted mean of the first (≤ 75) squared residuals."""
    tau = min(75, e.shape[0])
    w = 0.94 ** np.arange(tau)
    return float(np.sum(e[:tau] ** 2 * (w / w.sum())))


def _to_theta(u: np.ndarray, t_dist: bool) -> np.ndarray:
    """Unconstrained u (N, k) → (mu, omega, alpha, beta[, nu])."""
    pers = 1.0 / (1.0 + np.exp(-u[:, 2]))
    share = 1.0 / (1.0 + np.exp(-u[:, 3]))
    cols = [u[:, 0], np.exp(u[:, 1]), pers * share, pers * (1.0 - share)]
    if t_dist:
        cols.append(NU_MIN + np.exp(u[:, 4]))
    return np.stack(cols, axis=1)


def _to_u(theta: np.ndarray, t_dist: bool) -> np.ndarray:
    # Kept off the flat ends of the sigmoids, where a start would find no gradient.
    alpha = np.clip(theta[:, 2], 1e-6, None)
    beta = np.clip(theta[:, 3], 1e-6, None)
    pers = np.clip(alpha + beta, 1e-3, 0.999)
    share = np.clip(alpha / (alpha + beta), 1e-3, 1.0 - 1e-3)
    cols = [
        theta[:, 0],
        np.log(np.clip(theta[:, 1], 1e-12, None)),
        np.log(pers / (1.0 - pers)),
        np.log(share / (1.0 - share)),
    ]
    if t_dist:
        cols.append(np.log(np.clip(theta[:, 4] - NU_MIN, 1e-6, None)))
    return np.stack(cols, axis=1)


def _chain(u: np.ndarray, theta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradient in theta (N, k) → gradient in u."""
    pers = theta[:, 2] + theta[:, 3]
    share = np.divide(theta[:, 2], pers, out=np.zeros_like(pers), where=pers > 0)
    dpers, dshare = pers * (1.0 - pers), share * (1.0 - share)
    out = np.empty_like(g)
    out[:, 0] = g[:, 0]
    out[:, 1] = g[:, 1] * theta[:, 1]
    out[:, 2] = (g[:, 2] * share + g[:, 3] * (1.0 - share)) * dpers
    out[:, 3] = (g[:, 2] - g[:, 3]) * pers * dshare
    if g.shape[1] > 4:
        out[:, 4] = g[:, 4] * (theta[:, 4] - NU_MIN)
    return out


def _column(
    y: np.ndarray, bc: float, th: np.ndarray, t_dist: bool, grad: bool
) -> tuple[float, np.ndarray | None, float, float]:
    """Mean log-likelihood of one series, its gradient in theta, the last residual and s_T."""
    from scipy.signal import lfilter  # lazily: scipy.signal costs ~0.3 s to import
    from scipy.special import digamma, gammaln

    mu, omega, alpha, beta = th[0], th[1], th[2], th[3]
    e = y - mu
    prev_e2 = np.empty_like(e)
    prev_e2[0], prev_e2[1:] = bc, e[:-1] ** 2
    den = np.array([1.0, -beta])
    s = lfilter([1.0], den, omega + alpha * prev_e2, zi=[beta * bc])[0]
    if not np.all(s > 0):
        return -np.inf, None, float(e[-1]), float(s[-1])
    n = e.shape[0]
    if t_dist:
        nu = th[4]
        q = e * e / (s * (nu - 2.0))
        ll = (
            (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(np.pi * (nu - 2.0))) * n
            - 0.5 * np.sum(np.log(s))
            - (nu + 1) / 2 * np.sum(np.log1p(q))
        )
    else:
        ll = -0.5 * (n * np.log(2 * np.pi) + np.sum(np.log(s)) + np.sum(e * e / s))
    if not grad:
        return ll / n, None, float(e[-1]), float(s[-1])
    prev_s = np.empty_like(s)
    prev_s[0], prev_s[1:] = bc, s[:-1]
    prev_e = np.zeros_like(e)
    prev_e[1:] = e[:-1]
    drive = np.stack([-2.0 * alpha * prev_e, np.ones_like(e), prev_e2, prev_s], axis=1)
    ds = lfilter([1.0], den, drive, axis=0)  # d s_t / d(mu, omega, alpha, beta)
    if t_dist:
        nu = th[4]
        dl_ds = -0.5 / s + (nu + 1) / 2 * q / (s * (1.0 + q))
        dl_de = -(nu + 1) * e / (s * (nu - 2.0) * (1.0 + q))
        dnu = (
            n * (0.5 * digamma((nu + 1) / 2) - 0.5 * digamma(nu / 2) - 0.5 / (nu - 2.0))
            - 0.5 * np.sum(np.log1p(q))
            + (nu + 1) / (2 * (nu - 2.0)) * np.sum(q / (1.0 + q))
        )
    else:
        dl_ds = -0.5 / s + 0.5 * e * e / (s * s)
        dl_de = -e / s
    g = dl_ds @ ds
    g[0] -= np.sum(dl_de)
    if t_dist:
        g = np.append(g, dnu)
    return ll / n, g / n, float(e[-1]), float(s[-1])


class _Batch:
    """The series of a batch, compacted to their finite values, with arch's backcasts."""

    def __init__(self, y: np.ndarray, t_dist: bool) -> None:
        self.t_dist = t_dist
        self.series = [col[np.isfinite(col)] for col in y.T]
        self.backcasts = [backcast(s - s.mean()) for s in self.series]

    def evaluate(self, cols: np.ndarray, u: np.ndarray, grad: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Negative mean log-likelihood (n,) and its gradient in u (n, k) for columns `cols`."""
        theta = _to_theta(u, self.t_dist)
        f = np.empty(len(cols))
        g = np.zeros_like(u)
        for i, j in enumerate(cols):
            ll, gj, _, _ = _column(self.series[j], self.backcasts[j], theta[i], self.t_dist, grad)
            f[i] = -ll if np.isfinite(ll) else np.inf
            if gj is not None:
                g[i] = -gj
        return f, (_chain(u, theta, g) if grad else g)

    def last_state(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last residual and last conditional variance s_T of each column."""
        out = [_column(s, bc, th, self.t_dist, False)[2:] for s, bc, th in zip(self.series, self.backcasts, theta)]
        arr = np.array(out, dtype=float).reshape(len(out), 2)
        return arr[:, 0], arr[:, 1]


def default_start(y: np.ndarray, t_dist: bool, batch: _Batch | None = None) -> np.ndarray:
    """Starting values per column: the sample mean, nu 8, and as arch does, the best of a
    small grid of (alpha, alpha + beta) with omega matching the sample variance."""
    batch = batch or _Batch(y, t_dist)
    n = y.shape[1]
    mean = np.array([s.mean() if s.size else 0.0 for s in batch.series])
    var = np.array([max(float(np.var(s)), 1e-8) if s.size > 1 else 1.0 for s in batch.series])
    best, best_f = np.zeros((n, 5 if t_dist else 4)), np.full(n, np.inf)
    for alpha in (0.01, 0.05, 0.1, 0.2):
        for pers in (0.5, 0.7, 0.9, 0.98):  # arch's grid
            theta = np.stack(
                [mean, var * (1.0 - pers), np.full(n, alpha), np.full(n, pers - alpha)]
                + ([np.full(n, 8.0)] if t_dist else []),
                axis=1,
            )
            f, _ = batch.evaluate(np.arange(n), _to_u(theta, t_dist), grad=False)
            better = f < best_f
            best[better], best_f[better] = theta[better], f[better]
    return best


def fit(
    y: np.ndarray, t_dist: bool, start: np.ndarray | None = None, max_iter: int = _MAX_ITER, gtol: float = _GTOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit every column of y (T, N; NaN = no bar).

    Returns theta (N, k: mu, omega, alpha, beta[, nu]), the mean log-likelihood at it
    (N,), the last residual and the next-session variance omega + alpha e_T² + beta s_T.
    `start` rows with a non-finite value fall back to `default_start`.

    The likelihood can have several local optima (a low-persistence one beside a
    beta ≈ 0.95–0.99 one): BFGS runs from `start`, from the grid's best point and from
    a high-persistence point (alpha 0.05, alpha + beta 0.98), and each column keeps
    the highest likelihood (on 500 tickers one start alone missed arch's optimum in 13).
    """
    if y.shape[1] == 0:
        k = 5 if t_dist else 4
        return np.empty((0, k)), np.empty(0), np.empty(0), np.empty(0)
    with np.errstate(all="ignore"):  # trial steps far out give inf/NaN: the line search rejects them
        batch = _Batch(y, t_dist)
        grid = default_start(y, t_dist, batch)
        persistent = grid.copy()
        persistent[:, 2], persistent[:, 3] = 0.05, 0.93
        persistent[:, 1] = np.array([max(float(np.var(s)), 1e-8) if s.size > 1 else 1.0 for s in batch.series]) * 0.02
        starts = [grid, persistent] if start is None else [start, grid, persistent]
        best = None
        for s0 in starts:
            out = _fit(batch, y, s0, max_iter, gtol)
            if best is None:
                best = out
                continue
            better = out[1] > best[1] + 1e-12  # ties keep the earlier start
            best = tuple(
                np.where(better[:, None] if a.ndim == 2 else better, a, b)  # type: ignore[assignment]
                for a, b in zip(out, best)
            )
        assert best is not None
        return best


def _fit(
    batch: _Batch, y: np.ndarray, start: np.ndarray | None, max_iter: int, gtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t_dist = batch.t_dist
    n = y.shape[1]
    k = 5 if t_dist else 4
    ok = np.zeros(n, dtype=bool) if start is None else np.all(np.isfinite(start), axis=1)
    theta0 = np.zeros((n, k))
    if start is not None:
        theta0[ok] = start[ok]
    if not ok.all():
        theta0[~ok] = default_start(y, t_dist, batch)[~ok]
    u = _to_u(theta0, t_dist)
    f, g = batch.evaluate(np.arange(n), u)
    bad = ~np.isfinite(f)  # a warm start outside the domain: restart from the default
    if bad.any():
        u[bad] = _to_u(default_start(y, t_dist, batch)[bad], t_dist)
        f[bad], g[bad] = batch.evaluate(np.nonzero(bad)[0], u[bad])
    H = np.tile(np.eye(k), (n, 1, 1))
    active = np.isfinite(f) & (np.abs(g).max(axis=1) > gtol)
    for _ in range(max_iter):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        d = -np.einsum("nij,nj->ni", H[idx], g[idx])
        slope = np.einsum("ni,ni->n", g[idx], d)
        uphill = slope >= 0  # a stale inverse Hessian: steepest descent, start it afresh
        if uphill.any():
            H[idx[uphill]] = np.eye(k)
            d[uphill] = -g[idx[uphill]]
            slope[uphill] = -np.einsum("ni,ni->n", g[idx[uphill]], g[idx[uphill]])
        step = np.ones(idx.size)
        todo = np.arange(idx.size)
        f_new, g_new = np.empty(idx.size), np.empty((idx.size, k))
        for _halving in range(40):
            f_try, g_try = batch.evaluate(idx[todo], u[idx[todo]] + step[todo, None] * d[todo])
            ok = f_try <= f[idx[todo]] + 1e-4 * step[todo] * slope[todo]
            f_new[todo[ok]], g_new[todo[ok]] = f_try[ok], g_try[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
            step[todo] *= 0.5
        stuck = np.zeros(idx.size, dtype=bool)
        stuck[todo] = True
        moved = idx[~stuck]
        s = step[~stuck, None] * d[~stuck]
        yv = g_new[~stuck] - g[moved]
        df = f[moved] - f_new[~stuck]
        u[moved] += s
        f[moved], g[moved] = f_new[~stuck], g_new[~stuck]
        sy = np.einsum("ni,ni->n", s, yv)
        upd = sy > 1e-12
        if upd.any():
            Hm, sm, ym, rho = H[moved[upd]], s[upd], yv[upd], 1.0 / sy[upd]
            Hy = np.einsum("nij,nj->ni", Hm, ym)
            yHy = np.einsum("ni,ni->n", ym, Hy)
            H[moved[upd]] = (
                Hm
                - rho[:, None, None] * (Hy[:, :, None] * sm[:, None, :] + sm[:, :, None] * Hy[:, None, :])
                + ((1.0 + rho * yHy) * rho)[:, None, None] * sm[:, :, None] * sm[:, None, :]
            )
        active[idx[stuck]] = False  # no descent left along the line: at the optimum to machine precision
        done = (np.abs(g[moved]).max(axis=1) <= gtol) | (np.abs(df) <= 1e-15 * np.maximum(1.0, np.abs(f[moved])))
        active[moved[done]] = False
    theta = _to_theta(u, t_dist)
    theta[~np.isfinite(f)] = np.nan
    eps, s_last = batch.last_state(np.nan_to_num(theta, nan=1.0))
    nxt = theta[:, 1] + theta[:, 2] * eps * eps + theta[:, 3] * s_last
    return theta, -f, eps, nxt
