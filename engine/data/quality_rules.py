"""Pure numpy kernels behind the quality gate: one function per rule, no pandas.

Every function takes flat arrays for rows sorted by (ticker, date), with `group`
the ticker's integer code, and returns masks or repaired arrays. `engine.data.quality`
wraps them; `tests/test_data_quality.py` checks them against slow per-row oracles.
"""

from __future__ import annotations

import numpy as np

# Robust scale of daily log returns below which a ticker's own volatility is not
# trusted (too few or too flat returns); keeps the spike threshold sane.
MIN_SIGMA = 0.005
MIN_RETURNS_FOR_SIGMA = 20


def group_starts(group: np.ndarray) -> np.ndarray:
    """True on the first row of each group (rows sorted by group)."""
    start = np.ones(len(group), dtype=bool)
    if len(group) > 1:
        start[1:] = group[1:] != group[:-1]
    return start


def missing_values(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """Fill NaN open/high/low from the close when the close is known.

    Returns (open, high, low, repaired_mask, unrepairable_mask): a NaN close cannot
    be repaired and the bar must be quarantined.
    """
    bad_close = ~np.isfinite(c)
    nan_o, nan_h, nan_l = ~np.isfinite(o), ~np.isfinite(h), ~np.isfinite(low)
    repaired = (nan_o | nan_h | nan_l) & ~bad_close
    o2 = np.where(nan_o & ~bad_close, c, o)
    h2 = np.where(nan_h & ~bad_close, np.fmax(o2, c), h)
    l2 = np.where(nan_l & ~bad_close, np.fmin(o2, c), low)
    return o2, h2, l2, repaired, bad_close


def ohlc_violations(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    """high < max(open, close), low > min(open, close) or high < low."""
    with np.errstate(invalid="ignore"):
        return (h < np.fmax(o, c)) | (low > np.fmin(o, c)) | (h < low)


def repair_ohlc(
    o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, max_repair: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repair small OHLC-ordering violations; mark large ones for quarantine.

    A close outside [low, high] by more than `max_repair` (relative), or a high below
    the low, is a bad print: quarantine. An open outside a consistent [low, high] that holds the close is a
    bad open: clip it into the range. Anything else widens high/low to cover open
    and close. Returns (open, high, low, repaired_mask, quarantine_mask).
    """
    bad = ohlc_violations(o, h, low, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        over = np.where(c > h, (c - h) / np.abs(h), 0.0)
        under = np.where(c < low, (low - c) / np.abs(low), 0.0)
    # An inverted bar (high below low) has no trustworthy range to repair into.
    far = bad & ((np.maximum(over, under) > max_repair) | (h < low))
    close_inside = (c >= low) & (c <= h)
    open_only = bad & ~far & close_inside & (h >= low)
    widen = bad & ~far & ~open_only
    o2 = np.where(open_only, np.clip(o, low, h), o)
    hi = np.fmax(np.fmax(o, h), np.fmax(low, c))
    lo = np.fmin(np.fmin(o, h), np.fmin(low, c))
    h2 = np.where(widen, hi, h)
    l2 = np.where(widen, lo, low)
    return o2, h2, l2, open_only | widen, far


def repeat_run_position(same_as_prev: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """0 for a bar that differs from the previous one, k for the k-th repeat in a row."""
    same = same_as_prev & ~starts
    idx = np.arange(len(same))
    # Index of the last row that was *not* a repeat, carried forward.
    anchor = np.maximum.accumulate(np.where(same, 0, idx))
    return idx - anchor


def log_returns(c: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return into each row (r_in) and out of it (r_out) within its group; NaN at edges."""
    n = len(c)
    r_in = np.full(n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if n > 1:
            r_in[1:] = np.log(c[1:] / c[:-1])
    r_in[starts] = np.nan
    r_out = np.full(n, np.nan)
    if n > 1:
        r_out[:-1] = r_in[1:]
    return r_in, r_out


def robust_sigma(r: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group 1.4826·median(|r|), broadcast to rows; MIN_SIGMA where too few returns."""
    ok = np.isfinite(r)
    sigma_g = np.full(n_groups, np.nan)
    if ok.any():
        g = group[ok]
        a = np.abs(r[ok])
        order = np.lexsort((a, g))
        g_sorted, a_sorted = g[order], a[order]
        bounds = np.searchsorted(g_sorted, np.arange(n_groups + 1))
        counts = np.diff(bounds)
        has = counts >= MIN_RETURNS_FOR_SIGMA
        lo = bounds[:-1] + (counts - 1) // 2
        hi = bounds[:-1] + counts // 2
        lo_c = np.minimum(lo, max(len(a_sorted) - 1, 0))
        hi_c = np.minimum(hi, max(len(a_sorted) - 1, 0))
        med = 0.5 * (a_sorted[lo_c] + a_sorted[hi_c])
        sigma_g = np.where(has, 1.4826 * med, np.nan)
    sigma_g = np.where(np.isfinite(sigma_g), np.maximum(sigma_g, MIN_SIGMA), np.nan)
    return sigma_g[group]


def spikes(
    c: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    min_move: float,
    k_sigma: float,
    reversal: float,
    default_sigma: float = 0.02,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Single-session moves that reverse the next session (one pass).

    A row t is a spike when |r_t| >= max(min_move, k_sigma·sigma_ticker) and the next
    session brings the price back near where it was: |r_t + r_t+1| <= (1 - reversal)·|r_t|.
    A real move (earnings gap, crash, spin-off) persists and is left alone.
    Returns (spike_mask, r_in, r_out, threshold).
    """
    starts = group_starts(group)
    r_in, r_out = log_returns(c, starts)
    sigma = robust_sigma(r_in, group, n_groups)
    sigma = np.where(np.isfinite(sigma), sigma, default_sigma)
    threshold = np.maximum(min_move, k_sigma * sigma)
    with np.errstate(invalid="ignore"):
        big = np.abs(r_in) >= threshold
        back = np.abs(r_in + r_out) <= (1.0 - reversal) * np.abs(r_in)
    return big & back, r_in, r_out, threshold


def spike_decisions(
    c: np.ndarray, group: np.ndarray, n_groups: int, min_move: float, k_sigma: float, reversal: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spikes with chains resolved, and the row at which each one is decided.

    Two spikes in a row (a real drop followed by a bad print that "reverses" it) are
    resolved by keeping the last spike of the chain and judging the rest again without
    it. A spike whose reversal is itself a large move is ambiguous until one more
    session is known, so it is decided two rows later. Returns (spike_mask,
    decision_row (-1: not decidable yet), r_in, r_out).
    """
    n = len(c)
    first, r_in, r_out, threshold = spikes(c, group, n_groups, min_move, k_sigma, reversal)
    same_next = np.zeros(n, dtype=bool)
    if n > 1:
        same_next[:-1] = group[1:] == group[:-1]
    nxt_spike = np.zeros(n, dtype=bool)
    nxt_spike[:-1] = first[1:]
    terminal = first & ~(nxt_spike & same_next)
    final = terminal.copy()
    rest = np.nonzero(~terminal)[0]
    if (first & ~terminal).any() and len(rest):
        again, _, _, _ = spikes(c[rest], group[rest], n_groups, min_move, k_sigma, reversal)
        final[rest[again]] = True
    idx = np.arange(n)
    same_next2 = np.zeros(n, dtype=bool)
    if n > 2:
        same_next2[:-2] = group[2:] == group[:-2]
    with np.errstate(invalid="ignore"):
        ambiguous = np.abs(r_out) >= threshold
    decision = np.where(ambiguous, np.where(same_next2, idx + 2, -1), np.where(same_next, idx + 1, -1))
    decision = np.where(final, decision, -1)
    return final, decision, r_in, r_out


def gaps(pos: np.ndarray, group: np.ndarray, is_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calendar sessions missing between consecutive bars of a ticker.

    `pos` is each row's position in the exchange calendar. Only gaps that end at a
    new row are reported (older ones were reported when they arrived). Returns
    (row index of the bar after the gap, calendar position of the missing session),
    one entry per missing session.
    """
    if len(pos) < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = group_starts(group)
    step = np.zeros(len(pos), dtype=np.int64)
    step[1:] = pos[1:] - pos[:-1]
    missing = np.where(starts | ~is_new, 0, np.maximum(step - 1, 0))
    rows = np.nonzero(missing)[0]
    counts = missing[rows]
    row_rep = np.repeat(rows, counts)
    # Offsets 1..count before the row's position.
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    missing_pos = pos[row_rep] - counts.repeat(counts) + within
    return row_rep, missing_pos
