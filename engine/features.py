"""Causal features and forward targets on a `Panel`.

Every feature at session t uses bars dated ≤ t only (the look-ahead suite checks
this by recomputing on truncated panels). Targets (forward h-session log returns
and direction) look into the future by construction, so they are only built for
training rows whose whole target window ends at or before the training cutoff,
minus a purge gap and an embargo (`training_mask`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.panel import Panel

#: Sessions of history the slowest feature needs before it is defined (MA 200).
FEATURE_WARMUP = 200

#: Serialises the first `features_of` computation per panel (threads share a panel; the
#: computation is CPU-bound numpy, so waiting costs nothing on a busy machine).
_FEATURES_LOCK = threading.Lock()

_GARCH_ALPHA, _GARCH_BETA = 0.06, 0.91
_HURST_LAGS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class FeatureSet:
    """Feature values of a panel: `values[t, i, k]` is feature `names[k]` of ticker i at t."""

    names: tuple[str, ...]
    values: np.ndarray  # (T, N, F) float64
    dates: np.ndarray
    tickers: tuple[str, ...]

    def at(self, row: int) -> np.ndarray:
        """Feature matrix (N, F) of one session (by position)."""
        return self.values[row]

    def frame(self, row: int = -1) -> pd.DataFrame:
        """One session's features as a DataFrame indexed by ticker."""
        return pd.DataFrame(self.values[row], index=list(self.tickers), columns=list(self.names))


FeatureFn = Callable[[Panel], dict[str, np.ndarray]]


def rolling_sum(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing k-row sums along axis 0 (NaN unless all k values are finite), and a valid mask.

    Cumulative sums keep this causal (row t uses rows ≤ t) and vectorised over tickers.
    """
    ok = np.isfinite(a)
    c = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    n = np.zeros_like(c)
    np.cumsum(np.where(ok, a, 0.0), axis=0, out=c[1:])
    np.cumsum(ok, axis=0, out=n[1:])
    out = np.full(a.shape, np.nan)
    valid = np.zeros(a.shape, dtype=bool)
    if a.shape[0] >= k:
        valid[k - 1 :] = (n[k:] - n[:-k]) == k
        out[k - 1 :] = np.where(valid[k - 1 :], c[k:] - c[:-k], np.nan)
    return out, valid


def rolling_mean(a: np.ndarray, k: int) -> np.ndarray:
    return rolling_sum(a, k)[0] / k


def rolling_std(a: np.ndarray, k: int) -> np.ndarray:
    """Trailing sample std (ddof=1), centred on each column's first finite value for precision."""
    first = np.argmax(np.isfinite(a), axis=0)
    centre = a[first, np.arange(a.shape[1])] if a.ndim == 2 and a.shape[0] else 0.0
    d = a - np.where(np.isfinite(centre), centre, 0.0)
    s1 = rolling_sum(d, k)[0]
    s2 = rolling_sum(d * d, k)[0]
    var = np.maximum(s2 - s1 * s1 / k, 0.0) / (k - 1)
    return np.sqrt(var)


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full(a.shape, np.nan)
    if k < a.shape[0]:
        out[k:] = a[: a.shape[0] - k] if k else a
    return out


def ewm(a: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average (adjust=False), started at each column's first value; gaps hold."""
    from scipy.signal import lfilter

    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    first = np.argmax(ok, axis=0)
    b = 1.0 - alpha
    for j in range(a.shape[1]):
        f = int(first[j])
        if not ok[f, j]:
            continue
        seg = a[f:, j]
        if ok[f:, j].all():  # the usual case: one C-level IIR pass
            out[f:, j] = lfilter([alpha], [1.0, -b], seg, zi=[b * seg[0]])[0]
            continue
        prev = seg[0]
        for t in range(len(seg)):  # gaps: hold the last value
            x = seg[t]
            if x == x:
                prev = alpha * x + b * prev
            out[f + t, j] = prev
    return out


def _momentum(p: Panel) -> dict[str, np.ndarray]:
    lc = np.log(p.close)
    out = {f"mom_{k}": lc - _shift(lc, k) for k in (5, 21, 63, 126)}
    out["ret_1"] = lc - _shift(lc, 1)
    return out


def _oscillators(p: Panel) -> dict[str, np.ndarray]:
    close = p.close
    diff = close - _shift(close, 1)
    gain = ewm(np.where(np.isnan(diff), np.nan, np.maximum(diff, 0.0)), 1 / 14)
    loss = ewm(np.where(np.isnan(diff), np.nan, np.maximum(-diff, 0.0)), 1 / 14)
    total = gain + loss
    rsi = np.where(total > 0, gain / np.where(total > 0, total, 1.0), 0.5)
    rsi[np.isnan(total)] = np.nan
    macd_line = ewm(close, 2 / 13) - ewm(close, 2 / 27)
    macd = macd_line / close
    macd_hist = (macd_line - ewm(macd_line, 2 / 10)) / close
    bb = (close - rolling_mean(close, 20)) / (2.0 * rolling_std(close, 20))
    prev = _shift(close, 1)
    tr = np.fmax(p.high - p.low, np.fmax(np.abs(p.high - prev), np.abs(p.low - prev)))
    atr = ewm(tr, 1 / 14) / close
    return {"rsi_14": rsi, "macd": macd, "macd_hist": macd_hist, "bb_pos_20": bb, "atr_14": atr}


def _volatility(p: Panel) -> dict[str, np.ndarray]:
    r = p.log_returns()
    rv = {k: rolling_std(r, k) for k in (10, 21, 63)}
    var252 = rolling_std(r, 252) ** 2
    var63 = rv[63] ** 2
    long_var = np.where(np.isfinite(var252), var252, var63)
    garch = _garch_filter(r, long_var)
    return {"rv_21": rv[21], "rv_63": rv[63], "garch_vol": garch, "vol_ratio": rv[10] / rv[63]}


def _garch_filter(r: np.ndarray, long_var: np.ndarray) -> np.ndarray:
    """GARCH(1,1) variance recursion with fixed α, β and a rolling long-run variance."""
    out = np.full_like(r, np.nan)
    s2 = np.full(r.shape[1], np.nan)
    a, b = _GARCH_ALPHA, _GARCH_BETA
    for t in range(1, r.shape[0]):
        lv, e = long_var[t - 1], r[t - 1]
        nxt = (1.0 - a - b) * lv + a * e * e + b * s2
        start = np.isnan(s2) & np.isfinite(lv)
        nxt = np.where(start, lv, nxt)
        # a missing return (gap) carries the variance forward instead of poisoning it
        nxt = np.where(np.isnan(e) & np.isfinite(s2), s2, nxt)
        s2 = nxt
        out[t] = np.sqrt(s2)
    return out


def _volume(p: Panel) -> dict[str, np.ndarray]:
    lv = np.log1p(p.volume)
    s = rolling_std(lv, 21)
    return {"volume_z": (lv - rolling_mean(lv, 21)) / np.where(s > 0, s, np.nan)}


def _memory(p: Panel) -> dict[str, np.ndarray]:
    lc = np.log(p.close)
    window = 126
    logsd = [np.log(rolling_std(lc - _shift(lc, k), window)) for k in _HURST_LAGS]
    x = np.log(np.array(_HURST_LAGS, dtype=float))
    xc = x - x.mean()
    hurst = sum(xc[i] * logsd[i] for i in range(len(x))) / float((xc**2).sum())
    sd1 = np.exp(logsd[0])
    sd5 = rolling_std(lc - _shift(lc, 5), window)
    return {"hurst_126": hurst, "vr_5": sd5**2 / (5.0 * sd1**2)}


def _trend(p: Panel) -> dict[str, np.ndarray]:
    lc = np.log(p.close)
    return {f"dist_ma_{k}": lc - np.log(rolling_mean(p.close, k)) for k in (50, 200)}


def _calendar(p: Panel) -> dict[str, np.ndarray]:
    dow = ((p.dates.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(float)
    return {"dow": np.repeat(dow[:, None], p.n_tickers, axis=1)}


#: The feature blocks, in column order. Tests may append a block to plant a leak.
FEATURE_BLOCKS: list[FeatureFn] = [_momentum, _oscillators, _volatility, _volume, _memory, _trend, _calendar]


def compute_features(panel: Panel, blocks: Sequence[FeatureFn] | None = None) -> FeatureSet:
    """All features of `panel`, each at t from bars ≤ t. Missing inputs give NaN."""
    names: list[str] = []
    cols: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for block in FEATURE_BLOCKS if blocks is None else blocks:
            for name, arr in block(panel).items():
                names.append(name)
                cols.append(np.asarray(arr, dtype=np.float64))
    values = np.stack(cols, axis=-1) if cols else np.empty((panel.n_sessions, panel.n_tickers, 0))
    values[~np.isfinite(values)] = np.nan
    return FeatureSet(tuple(names), values, panel.dates, panel.tickers)


def features_of(panel: Panel) -> FeatureSet:
    """The causal feature set of `panel`, computed once and cached on the panel.

    Models running side by side on threads (LightGBM, neural) ask for the same
    panel's features at once: the first computes them, the others wait for it.
    """
    got = panel._cache.get("features")
    if got is None:
        with _FEATURES_LOCK:
            got = panel._cache.get("features")
            if got is None:
                got = panel._cache["features"] = compute_features(panel)
    return got


def forward_returns(panel: Panel, h: int) -> np.ndarray:
    """Target: log(close[t+h] / close[t]) (T, N); NaN where t+h is past the panel."""
    lc = np.log(panel.close)
    out = np.full_like(lc, np.nan)
    if h < lc.shape[0]:
        out[:-h] = lc[h:] - lc[:-h]
    return out


def direction(target: np.ndarray) -> np.ndarray:
    """Target direction: 1.0 up, 0.0 down or flat, NaN where the return is unknown."""
    out = (target > 0).astype(float)
    out[np.isnan(target)] = np.nan
    return out


def training_mask(
    n_sessions: int, h: int, test_start: int | None = None, test_stop: int | None = None, embargo: int = 0
) -> np.ndarray:
    """Rows (by position) whose h-session target may be used for training.

    With no test block, rows must have their whole target window inside the panel
    (t + h ≤ last row). With a test block [test_start, test_stop), rows whose
    target window [t, t+h] overlaps it are purged, and rows within `embargo`
    sessions after it are dropped too.
    """
    t = np.arange(n_sessions)
    ok = t + h <= n_sessions - 1
    if test_start is not None and test_stop is not None:
        overlaps = (t + h >= test_start) & (t < test_stop)
        embargoed = (t >= test_stop) & (t < test_stop + embargo)
        ok &= ~overlaps & ~embargoed
    return ok
