"""Monte-Carlo portfolio VaR and CVaR: a batched torch path (CUDA or CPU) and a numpy reference.

`mc_var_cvar` fits a model of tomorrow's joint asset returns to a window of daily
simple returns (`engine.portfolio.mc_models`), simulates `n_paths` joint draws in chunks that
fit in memory, turns each into a portfolio return and reports VaR and CVaR as
negative return fractions (empyrical's convention: the 5% quantile of returns is the
95% VaR).

Both kernels compute the same thing from the same draws, so tests feed them one set
of draws and compare to rounding. By default each path is reduced before it is
formed: the portfolio return w.(mu + L z / sqrt(g)) equals w.mu + z.(L'w) / sqrt(g)
(and w.(z[day] * sigma) equals (z @ (sigma * w))[day]), so the same draws give the
same VaR/CVaR to rounding without the (paths x N x N) product. `joint=True` forms every
joint asset return first (the GPU benchmark, and anything that needs the asset paths).
Seed semantics: the Student-t mixing variables come from
`numpy.random.default_rng(seed)` on every backend; the normal draws (or bootstrap day
indices) come from that numpy generator on the numpy backend and from
`torch.Generator(device).manual_seed(seed)` on the torch backend, so backends agree
in distribution, and each backend repeats itself exactly for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.device import DeviceInfo, select_device
from engine.errors import UsageError
from engine.portfolio.mc_models import (
    Filtered,
    StudentT,
    clean_returns,
    fit_filtered,
    fit_student_t,
    tail_stats,
    tails_of_sorted,
)

if TYPE_CHECKING:
    import torch

METHODS = ("t", "bootstrap")
BACKENDS = ("auto", "torch", "numpy")
# Bytes of draws held at once per chunk: the (chunk x N) normals and their product.
CHUNK_BYTES = {"cpu": 256 * 2**20, "cuda": 1024 * 2**20}


@dataclass(frozen=True)
class McResult:
    """Monte-Carlo risk of one portfolio over the next session.

    Attributes:
        var: level -> VaR as a return fraction (negative is a loss), e.g. {0.95: -0.021}.
        cvar: level -> CVaR (mean return beyond the VaR), same sign convention.
        n_paths: number of simulated paths.
        device: where the paths ran ("cpu" or "cuda:N").
        method: "t" or "bootstrap".
        dof: the Student-t degrees of freedom used (None for bootstrap).
        backend: "torch" or "numpy".
    """

    var: dict[float, float]
    cvar: dict[float, float]
    n_paths: int
    device: str
    method: str
    dof: float | None = None
    backend: str = "torch"


Draws = tuple[np.ndarray, np.ndarray] | np.ndarray


def chunk_rows(n_assets: int, kind: str, itemsize: int) -> int:
    """Paths per chunk so that two (chunk x N) arrays fit the memory budget."""
    return max(1024, CHUNK_BYTES.get(kind, CHUNK_BYTES["cpu"]) // (2 * max(n_assets, 1) * itemsize))


def mixing(dof: float, n_paths: int, seed: int) -> np.ndarray:
    """The Student-t mixing variables g ~ chi2(dof)/dof, shared by every backend."""
    return np.random.default_rng(seed).chisquare(dof, n_paths) / dof


# --- numpy reference ---------------------------------------------------------------


def t_paths_numpy(
    model: StudentT, weights: np.ndarray, z: np.ndarray, g: np.ndarray, joint: bool = False
) -> np.ndarray:
    """Portfolio returns from given draws: w . (mu + L z / sqrt(g)) (reduced unless `joint`)."""
    if joint:
        x = model.mu + (z @ model.chol.T) / np.sqrt(g)[:, None]
        return x @ weights
    return float(model.mu @ weights) + (z @ (model.chol.T @ weights)) / np.sqrt(g)


def bootstrap_paths_numpy(model: Filtered, weights: np.ndarray, idx: np.ndarray, joint: bool = False) -> np.ndarray:
    """Portfolio returns from given day indices: w . (z[day] * sigma_next) (reduced unless `joint`)."""
    if joint:
        x = model.z[idx] * model.sigma_next
        return x @ weights
    return (model.z @ (model.sigma_next * weights))[idx]


def _simulate_numpy(
    model: StudentT | Filtered, weights: np.ndarray, n_paths: int, seed: int, joint: bool = False
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = weights.shape[0]
    rows = chunk_rows(n, "cpu", 8)
    out = np.empty(n_paths)
    if isinstance(model, StudentT):
        g = rng.chisquare(model.dof, n_paths) / model.dof  # same stream as `mixing`
        for start in range(0, n_paths, rows):
            stop = min(start + rows, n_paths)
            z = rng.standard_normal((stop - start, n))
            out[start:stop] = t_paths_numpy(model, weights, z, g[start:stop], joint)
    else:
        idx = rng.integers(0, model.z.shape[0], n_paths)
        out[:] = bootstrap_paths_numpy(model, weights, idx, joint)
    return out


# --- torch batched path ------------------------------------------------------------


def _simulate_torch(
    model: StudentT | Filtered,
    weights: np.ndarray,
    n_paths: int,
    seed: int,
    info: DeviceInfo,
    draws: Draws | None = None,
    joint: bool = False,
) -> torch.Tensor:
    import torch

    dev = torch.device(info.name)
    dtype = torch.float32 if info.is_cuda else torch.float64
    n = weights.shape[0]
    rows = chunk_rows(n, info.kind, 4 if info.is_cuda else 8)
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    w = torch.as_tensor(weights, dtype=dtype, device=dev)
    out = torch.empty(n_paths, dtype=dtype, device=dev)

    def put(arr: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(arr, device=dev).to(dtype)

    if isinstance(model, StudentT):
        # w . (mu + L z / sqrt(g)) = w.mu + (z L') w / sqrt(g); with `joint` the joint draw
        # z L' is formed per chunk (a full joint simulation), else z (L' w) from the same z.
        lt = put(model.chol.T)
        ltw = lt @ w
        wmu = float(model.mu @ weights)
        g_all = draws[1] if draws is not None else mixing(model.dof, n_paths, seed)
        inv_sqrt_g = put(1.0 / np.sqrt(g_all))
        for start in range(0, n_paths, rows):
            stop = min(start + rows, n_paths)
            if draws is not None:
                z = put(draws[0][start:stop])
            else:
                z = torch.randn((stop - start, n), generator=gen, device=dev, dtype=dtype)
            port = (z @ lt) @ w if joint else z @ ltw
            out[start:stop] = wmu + port * inv_sqrt_g[start:stop]
    else:
        zhist = put(model.z)
        scaled_w = w * put(model.sigma_next)
        zw = zhist @ scaled_w  # per-day portfolio return of the filtered history (reduced path)
        for start in range(0, n_paths, rows):
            stop = min(start + rows, n_paths)
            if draws is not None:
                idx = torch.as_tensor(np.asarray(draws)[start:stop], device=dev, dtype=torch.long)
            else:
                idx = torch.randint(0, model.z.shape[0], (stop - start,), generator=gen, device=dev)
            out[start:stop] = zhist.index_select(0, idx) @ scaled_w if joint else zw.index_select(0, idx)
    return out


def tail_stats_torch(port: torch.Tensor, levels: Sequence[float]) -> tuple[dict[float, float], dict[float, float]]:
    """`mc_models.tail_stats` on the device: sort once, read quantiles and tail means."""
    import torch

    sorted_ = torch.sort(port).values
    return tails_of_sorted(sorted_, int(sorted_.shape[0]), levels, lambda tail: tail.to(torch.float64).mean())


# --- public entry ------------------------------------------------------------------


def fit_model(
    returns: np.ndarray, weights: np.ndarray, method: str = "t", dof: float | None = None
) -> StudentT | Filtered:
    """Fit the chosen return model to a clean (T, N) window."""
    if method == "t":
        return fit_student_t(returns, weights, dof=dof)
    if method == "bootstrap":
        return fit_filtered(returns)
    raise UsageError(f"unknown Monte-Carlo method {method!r}", f"use one of {', '.join(METHODS)}")


def simulate(
    model: StudentT | Filtered,
    weights: np.ndarray,
    n_paths: int,
    *,
    backend: str = "torch",
    device: str | DeviceInfo = "cpu",
    seed: int = 0,
    draws: Draws | None = None,
    joint: bool = False,
) -> np.ndarray:
    """Simulated portfolio returns (n_paths,) as float64 numpy; `draws` overrides the RNG.

    `draws` is (z (n_paths, N), g (n_paths,)) for the t model or day indices
    (n_paths,) for the bootstrap; used by the equivalence tests. `joint` forms each
    joint asset return before weighting it (same result to rounding, N times the work).
    """
    w = np.asarray(weights, dtype=np.float64)
    if backend == "numpy":
        if draws is None:
            return _simulate_numpy(model, w, n_paths, seed, joint)
        if isinstance(model, StudentT):
            return t_paths_numpy(model, w, draws[0], draws[1], joint)
        return bootstrap_paths_numpy(model, w, np.asarray(draws), joint)
    info = device if isinstance(device, DeviceInfo) else select_device(device)
    return _simulate_torch(model, w, n_paths, seed, info, draws, joint).double().cpu().numpy()


def _resolve_backend(backend: str, info: DeviceInfo) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown Monte-Carlo backend {backend!r}", f"use one of {', '.join(BACKENDS)}")
    if backend == "numpy" and info.is_cuda:
        raise UsageError("the numpy Monte-Carlo backend runs on the CPU only", 'use device "cpu" or backend "torch"')
    if backend != "auto":
        return backend
    # On the CPU the numpy kernel is as fast as torch's and spares the torch import.
    return "torch" if info.is_cuda else "numpy"


def mc_var_cvar(
    returns: np.ndarray,
    weights: np.ndarray,
    n_paths: int,
    levels: Sequence[float] = (0.95, 0.99),
    method: str = "t",
    device: str | DeviceInfo = "cpu",
    seed: int = 0,
    *,
    backend: str = "auto",
    dof: float | None = None,
    joint: bool = False,
) -> McResult:
    """One-session Monte-Carlo VaR and CVaR of a portfolio.

    Args:
        returns: (T, N) daily simple returns, one column per holding; days with a
            missing value are dropped.
        weights: (N,) holdings as fractions of equity (the rest is cash, return 0).
        n_paths: simulated joint returns (>= 100_000 for stable 99% tails).
        levels: confidence levels, e.g. (0.95, 0.99).
        method: "t" (multivariate Student-t) or "bootstrap" (EWMA-filtered historical).
        device: "cpu", "cuda", "cuda:N", "auto" or a DeviceInfo.
        seed: seeds every random draw (see the module docstring).
        backend: "torch", "numpy" (CPU only) or "auto" (torch on CUDA, numpy on the CPU).
        dof: fix the Student-t degrees of freedom instead of fitting them.
        joint: simulate every joint asset return before weighting (the GPU benchmark's
            workload); the default reduces each draw to the portfolio first, which gives
            the same VaR/CVaR from the same draws to rounding, about N times cheaper.

    Raises:
        InputError: bad shapes or too little history. UsageError: bad method/device.
    """
    if method not in METHODS:
        raise UsageError(f"unknown Monte-Carlo method {method!r}", f"use one of {', '.join(METHODS)}")
    if n_paths < 2:
        raise UsageError(f"Monte-Carlo needs at least 2 paths, got {n_paths}")
    for level in levels:
        if not 0.0 < float(level) < 1.0:
            raise UsageError(f"VaR level must lie in (0, 1), got {level}")
    info = device if isinstance(device, DeviceInfo) else select_device(device)
    chosen = _resolve_backend(backend, info)
    r, w = clean_returns(returns, weights)
    active = w != 0.0
    if not active.any():
        zero = {float(level): 0.0 for level in levels}
        return McResult(dict(zero), dict(zero), n_paths, info.name, method, None, chosen)
    # Zero-weight holdings cannot move the portfolio; the fit still sees all of them.
    model = fit_model(r, w, method, dof)
    model, w = _restrict(model, w, active)
    if chosen == "numpy":
        var, cvar = tail_stats(_simulate_numpy(model, w, n_paths, seed, joint), levels)
    else:
        var, cvar = tail_stats_torch(_simulate_torch(model, w, n_paths, seed, info, joint=joint), levels)
    dof_used = model.dof if isinstance(model, StudentT) else None
    return McResult(var, cvar, n_paths, info.name, method, dof_used, chosen)


def _restrict(model: StudentT | Filtered, w: np.ndarray, active: np.ndarray) -> tuple[Any, np.ndarray]:
    if active.all():
        return model, w
    if isinstance(model, StudentT):
        scale = model.chol @ model.chol.T
        sub = scale[np.ix_(active, active)]
        chol = np.linalg.cholesky(sub)
        return StudentT(model.mu[active], chol, model.dof, model.shrinkage), w[active]
    return Filtered(model.z[:, active], model.sigma_next[active]), w[active]
