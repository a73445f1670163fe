"""Causal features and forward targets on a `Panel`.

Every feature at session t uses bars dated ≤ t only (the look-ahead suite checks
this by recomputing on truncated panels). Targets (forward h-session log returns
and direction) look into the future by construction, so they are only built for
training rows whose whole target window ends at or before the training cutoff,
minus a purge gap and an embargo (`training_mask`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.forecast.base import Panel

#: Sessions of history the slowest feature needs before it is defined (MA 200).
FEATURE_WARMUP = 200
#: Rows a causal feature computation should be given for stable recursive features.
FEATURE_LOOKBACK = 320

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


def _df(a: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(a, copy=False)


def _ewm(a: pd.DataFrame, alpha: float) -> pd.DataFrame:
    return a.ewm(alpha=alpha, adjust=False, ignore_na=True).mean()


def _momentum(p: Panel) -> dict[str, np.ndarray]:
    lc = _df(np.log(p.close))
    out = {f"mom_{k}": (lc - lc.shift(k)).to_numpy() for k in (5, 21, 63, 126)}
    out["ret_1"] = (lc - lc.shift(1)).to_numpy()
    return out


def _oscillators(p: Panel) -> dict[str, np.ndarray]:
    close = _df(p.close)
    diff = close.diff()
    gain = _ewm(diff.clip(lower=0.0), 1 / 14)
    loss = _ewm((-diff).clip(lower=0.0), 1 / 14)
    total = (gain + loss).to_numpy()
    rsi = np.divide(gain.to_numpy(), total, out=np.full_like(total, 0.5), where=total > 0)
    rsi[np.isnan(total)] = np.nan
    macd = (close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()) / close
    macd_hist = macd - macd.ewm(span=9, adjust=False).mean()
    ma20 = close.rolling(20, min_periods=20).mean()
    sd20 = close.rolling(20, min_periods=20).std()
    bb = ((close - ma20) / (2.0 * sd20)).to_numpy()
    prev = close.shift(1).to_numpy()
    tr = np.fmax(p.high - p.low, np.fmax(np.abs(p.high - prev), np.abs(p.low - prev)))
    atr = (_ewm(_df(tr), 1 / 14) / close).to_numpy()
    return {"rsi_14": rsi, "macd": macd.to_numpy(), "macd_hist": macd_hist.to_numpy(),
            "bb_pos_20": bb, "atr_14": atr}


def _volatility(p: Panel) -> dict[str, np.ndarray]:
    r = _df(p.log_returns())
    rv = {k: r.rolling(k, min_periods=k).std() for k in (10, 21, 63)}
    var252 = r.rolling(252, min_periods=63).var().to_numpy()
    garch = _garch_filter(r.to_numpy(), var252)
    return {"rv_21": rv[21].to_numpy(), "rv_63": rv[63].to_numpy(), "garch_vol": garch,
            "vol_ratio": (rv[10] / rv[63]).to_numpy()}


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
    lv = _df(np.log1p(p.volume))
    m = lv.rolling(21, min_periods=21).mean()
    s = lv.rolling(21, min_periods=21).std()
    return {"volume_z": ((lv - m) / s.where(s > 0)).to_numpy()}


def _memory(p: Panel) -> dict[str, np.ndarray]:
    lc = _df(np.log(p.close))
    window = 126
    logsd = []
    for k in _HURST_LAGS:
        d = lc - lc.shift(k)
        logsd.append(np.log(d.rolling(window, min_periods=window).std().to_numpy()))
    x = np.log(np.array(_HURST_LAGS, dtype=float))
    xc = x - x.mean()
    hurst = sum(xc[i] * logsd[i] for i in range(len(x))) / float((xc**2).sum())
    r1 = (lc - lc.shift(1)).rolling(window, min_periods=window).var()
    r5 = (lc - lc.shift(5)).rolling(window, min_periods=window).var()
    vr = (r5 / (5.0 * r1)).to_numpy()
    return {"hurst_126": hurst, "vr_5": vr}


def _trend(p: Panel) -> dict[str, np.ndarray]:
    close = _df(p.close)
    lc = np.log(p.close)
    out = {}
    for k in (50, 200):
        ma = close.rolling(k, min_periods=k).mean().to_numpy()
        out[f"dist_ma_{k}"] = lc - np.log(ma)
    return out


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


def training_mask(n_sessions: int, h: int, test_start: int | None = None,
                  test_stop: int | None = None, embargo: int = 0) -> np.ndarray:
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
