"""The quality gate every bar passes before any stage sees it.

`QualityGate(config).check(new, history)` runs vectorised rules over the new bars
(with recent stored `history` for context) and returns the bars with repairs
applied and `quarantined`/`stale` columns, the issues found (rows for
`quality_issues`) and `requarantine`: earlier stored bars that the new session
proves were bad prints (a spike is only known to reverse one session later).

Rules: duplicate, non_session, missing, non_positive, ohlc, zero_volume, stale,
gap, spike. Actions: flag (kept, reported), repair (value fixed, reported),
quarantine (kept in `bars` with quarantined = true; no model or order sees it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.config_model import model_class
from engine.data import quality_rules as qr
from engine.data.calendar import session_array, session_positions

if TYPE_CHECKING:
    from engine.config import Config

ISSUE_COLUMNS = ["ticker", "date", "rule", "action", "detail"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
RULES = ("duplicate", "non_session", "missing", "non_positive", "ohlc", "zero_volume", "stale", "gap", "spike")


#: The typed [quality] table, derived from config/default.toml (defaults included);
#: its values are checked once by `load_config` (engine.config_rules).
GateSettings = model_class("quality")


@dataclass(frozen=True)
class GateResult:
    """What the gate decided for one batch."""

    bars: pd.DataFrame  # new bars, repaired, with quarantined and stale columns
    issues: pd.DataFrame  # ticker, date, rule, action, detail
    requarantine: pd.DataFrame  # ticker, date of earlier stored bars to quarantine now

    @property
    def n_quarantined(self) -> int:
        return int(self.bars["quarantined"].sum()) + len(self.requarantine)


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ISSUE_COLUMNS})


class QualityGate:
    """Vectorised checks on OHLCV bars; see the module docstring for the rules."""

    def __init__(self, config: Config | None = None, settings: Any | None = None) -> None:
        self.settings = settings or (config.quality.model if config is not None else GateSettings())

    @property
    def history_sessions(self) -> int:
        """How many stored sessions per ticker `check` wants as `history`."""
        return self.settings.history_sessions

    def check(self, new: pd.DataFrame, history: pd.DataFrame | None = None) -> GateResult:
        s = self.settings
        issues: list[pd.DataFrame] = []
        bars = new.reset_index(drop=True).copy()
        if bars.empty:
            out = bars.assign(quarantined=pd.Series(dtype=bool), stale=pd.Series(dtype=bool))
            return GateResult(out, empty_issues(), pd.DataFrame({"ticker": [], "date": []}))
        bars["ticker"] = bars["ticker"].astype(str)
        day = _days(bars["date"])

        # duplicate (ticker, date): keep the last delivered row.
        key = pd.DataFrame({"t": bars["ticker"].to_numpy(), "d": day})
        dup = key.duplicated(keep="last").to_numpy()
        if dup.any():
            issues.append(_issues(bars.loc[dup], "duplicate", "repair", "duplicate row for this session dropped"))
            bars, day = bars.loc[~dup].reset_index(drop=True), day[~dup]

        # Combine with history (context only), sorted by ticker then date.
        n_new = len(bars)
        hist = _history_frame(history, bars, day)
        tickers = np.concatenate([bars["ticker"].to_numpy(dtype=object), hist["ticker"].to_numpy(dtype=object)])
        days = np.concatenate([day, _days(hist["date"])]) if len(hist) else day
        group, uniq = pd.factorize(tickers)
        order = np.lexsort((days, group))
        g, d = group[order], days[order]
        src = order  # index into the concatenation: < n_new means a new row
        is_new = src < n_new

        def col(name: str, dtype: str = "float64") -> np.ndarray:
            values = bars[name].to_numpy(dtype=dtype, na_value=np.nan)
            if len(hist):
                values = np.concatenate([values, hist[name].to_numpy(dtype=dtype, na_value=np.nan)])
            return values[order]

        o, h, low, c, v = col("open"), col("high"), col("low"), col("close"), col("volume")
        quarantine = np.zeros(len(g), dtype=bool)
        found: list[tuple[np.ndarray, str, str, list[str]]] = []  # (mask, rule, action, details)

        # non_session: a bar dated on a day the exchange did not trade.
        pos, on_session = session_positions(d)
        mask = is_new & ~on_session
        found.append((mask, "non_session", "quarantine", ["not an NYSE session"] * int(mask.sum())))
        quarantine |= mask

        # missing values.
        o, h, low, repaired, bad_close = qr.missing_values(o, h, low, c)
        m = is_new & bad_close
        found.append((m, "missing", "quarantine", ["close is missing"] * int(m.sum())))
        quarantine |= m
        m = is_new & repaired
        found.append((m, "missing", "repair", [f"open/high/low missing; set from close {x:.4g}" for x in c[m]]))
        nan_v = ~np.isfinite(v)
        m = is_new & nan_v
        found.append((m, "missing", "repair", ["volume missing; set to 0"] * int(m.sum())))
        v = np.where(nan_v, 0.0, v)

        # non_positive prices or negative volume.
        with np.errstate(invalid="ignore"):
            nonpos = (np.fmin(np.fmin(o, h), np.fmin(low, c)) <= 0) | (v < 0)
        m = is_new & nonpos & ~quarantine
        found.append((m, "non_positive", "quarantine", [f"close {x:.4g}" for x in c[m]]))
        quarantine |= m

        # OHLC ordering.
        o0, h0, l0 = o, h, low
        o, h, low, fixed, far = qr.repair_ohlc(o, h, low, c, s.ohlc_repair_max)
        m = is_new & far & ~quarantine
        found.append(
            (
                m,
                "ohlc",
                "quarantine",
                [
                    f"high {hh:.4g} below low {ll:.4g}"
                    if hh < ll
                    else f"close {cc:.4g} outside low {ll:.4g}..high {hh:.4g}"
                    for cc, ll, hh in zip(c[m], l0[m], h0[m])
                ],
            )
        )
        quarantine |= m
        m = is_new & fixed & ~quarantine
        found.append(
            (
                m,
                "ohlc",
                "repair",
                [
                    f"o/h/l/c {a:.4g}/{b:.4g}/{e:.4g}/{f:.4g} -> o/h/l {a2:.4g}/{b2:.4g}/{e2:.4g}"
                    for a, b, e, f, a2, b2, e2 in zip(o0[m], h0[m], l0[m], c[m], o[m], h[m], low[m])
                ],
            )
        )

        # zero volume: reported, kept (a halt or a vendor hole).
        m = is_new & (v == 0) & ~quarantine
        found.append((m, "zero_volume", "flag", ["volume 0"] * int(m.sum())))

        # stale: the same bar repeated for stale_sessions sessions in a row.
        starts = qr.group_starts(g)
        same = np.zeros(len(g), dtype=bool)
        if len(g) > 1:
            same[1:] = (c[1:] == c[:-1]) & (h[1:] == h[:-1]) & (low[1:] == low[:-1]) & (o[1:] == o[:-1])
        run = qr.repeat_run_position(same, starts)
        stale = run >= s.stale_sessions - 1
        m = is_new & stale & ~quarantine
        found.append((m, "stale", "flag", [f"bar unchanged for {k + 1} sessions" for k in run[m]]))

        # gaps against the calendar (sessions only).
        sess = on_session & np.isfinite(c)
        idx = np.nonzero(sess)[0]
        rows, missing_pos = qr.gaps(pos[idx], g[idx], is_new[idx])
        gap_rows = idx[rows]
        cal = session_array()
        if len(gap_rows):
            issues.append(
                pd.DataFrame(
                    {
                        "ticker": uniq[g[gap_rows]].astype(str),
                        "date": cal[missing_pos].astype("datetime64[D]"),
                        "rule": "gap",
                        "action": "flag",
                        "detail": [f"no bar for this session (next bar {x})" for x in d[gap_rows].astype(str)],
                    }
                )
            )

        # spikes that reverse: judged on priced session bars.
        ok = sess & ~quarantine | (sess & is_new & far)
        idx = np.nonzero(ok)[0]
        spike, decision, r_in, r_out = qr.spike_decisions(
            c[idx], g[idx], len(uniq), s.spike_min_move, s.spike_sigma, s.spike_reversal
        )
        # Decided now when the row that settles it (the reversal, or one more) is new.
        decided = spike & (decision >= 0)
        decided[decided] = is_new[idx][decision[decided]]
        spike_rows = idx[decided]
        details = [
            f"close moved {a:+.1%} then {b:+.1%} next session"
            for a, b in zip(np.expm1(r_in[decided]), np.expm1(r_out[decided]))
        ]
        new_spike = is_new[spike_rows]
        already = quarantine[spike_rows]
        quarantine[spike_rows[new_spike]] = True
        if len(spike_rows):
            issues.append(
                pd.DataFrame(
                    {
                        "ticker": uniq[g[spike_rows]].astype(str),
                        "date": d[spike_rows].astype("datetime64[D]"),
                        "rule": "spike",
                        "action": "quarantine",
                        "detail": details,
                    }
                )
            )
        old_rows = spike_rows[~new_spike & ~already]
        requarantine = pd.DataFrame(
            {
                "ticker": uniq[g[old_rows]].astype(str),
                "date": pd.to_datetime(d[old_rows]).date if len(old_rows) else np.array([], dtype=object),
            }
        )

        for mask, rule, action, detail in found:
            if mask.any():
                rows = np.nonzero(mask)[0]
                issues.append(
                    pd.DataFrame(
                        {
                            "ticker": uniq[g[rows]].astype(str),
                            "date": d[rows].astype("datetime64[D]"),
                            "rule": rule,
                            "action": action,
                            "detail": detail,
                        }
                    )
                )

        # Write back to the new rows, in their original order.
        back = np.empty(n_new, dtype=np.int64)
        new_pos = np.nonzero(is_new)[0]
        back[src[new_pos]] = new_pos
        bars["open"], bars["high"], bars["low"] = o[back], h[back], low[back]
        bars["volume"] = v[back].astype("int64")
        bars["quarantined"] = quarantine[back]
        prior_stale = bars["stale"].fillna(False).astype(bool).to_numpy() if "stale" in bars else False
        bars["stale"] = stale[back] | prior_stale
        return GateResult(bars, _finish_issues(issues), requarantine)


def _days(values: pd.Series) -> np.ndarray:
    """A date-like column as datetime64[D] (fast path through pandas)."""
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]")


def _history_frame(history: pd.DataFrame | None, bars: pd.DataFrame, day: np.ndarray) -> pd.DataFrame:
    """Stored bars for the new tickers, minus any (ticker, date) the batch replaces."""
    cols = ["ticker", "date", *PRICE_COLUMNS, "volume"]
    if history is None or history.empty:
        return pd.DataFrame(columns=cols)
    hist = history[cols]
    hist = hist[hist["ticker"].isin(bars["ticker"].unique())]
    if hist.empty:
        return pd.DataFrame(columns=cols)
    hday = _days(hist["date"])
    new_keys = pd.MultiIndex.from_arrays([bars["ticker"].to_numpy(), day])
    hist_keys = pd.MultiIndex.from_arrays([hist["ticker"].astype(str).to_numpy(), hday])
    return hist.loc[~hist_keys.isin(new_keys)].reset_index(drop=True)


def _issues(rows: pd.DataFrame, rule: str, action: str, detail: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": rows["ticker"].astype(str).to_numpy(),
            "date": _days(rows["date"]),
            "rule": rule,
            "action": action,
            "detail": detail,
        }
    )


def _finish_issues(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_issues()
    out = pd.concat(parts, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"]).dt.date
    out = out.sort_values(["ticker", "date", "rule"], kind="stable").reset_index(drop=True)
    return out[ISSUE_COLUMNS]


def summarise(issues: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts by rule and action, e.g. {"ohlc": {"repair": 11, "quarantine": 1}}."""
    out: dict[str, dict[str, int]] = {}
    if issues.empty:
        return out
    counts = issues.groupby(["rule", "action"]).size()
    for (rule, action), n in counts.items():
        out.setdefault(str(rule), {})[str(action)] = int(n)
    return out
