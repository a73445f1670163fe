"""The quality gate: each rule on small synthetic series, incremental (one session per
cycle) requarantine, vectorised kernels against slow per-row oracles, and the clean
bundled sample."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.data import quality_rules as qr
from engine.data.calendar import sessions_between
from engine.data.quality import GateSettings, QualityGate, summarise
from engine.errors import ConfigError

SESSIONS = sessions_between(dt.date(2017, 1, 3), dt.date(2017, 6, 30))


def series(ticker: str, closes: list[float] | np.ndarray, start: int = 0) -> pd.DataFrame:
    c = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {
            "date": SESSIONS[start : start + len(c)],
            "ticker": ticker,
            "open": c * 0.999,
            "high": c * 1.01,
            "low": c * 0.99,
            "close": c,
            "volume": 1_000_000,
        }
    )


def walk(n: int, seed: int, vol: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))


def issue_set(issues: pd.DataFrame) -> set[tuple[str, dt.date, str, str]]:
    return set(zip(issues["ticker"], issues["date"], issues["rule"], issues["action"]))


def test_bad_print_quarantined_real_jump_kept() -> None:
    c = walk(60, 1)
    bad = c.copy()
    bad[30] = c[29] * 0.5  # LNT-style: one close at half, back the next day
    jump = c.copy()
    jump[30:] *= 1.52  # AMD-style: +52% that persists
    crash = c.copy()
    crash[40:] *= 0.43  # EBAY-style spin-off: -57% that persists
    df = pd.concat([series("BAD", bad), series("JUMP", jump), series("CRASH", crash)])
    res = QualityGate().check(df)
    q = res.bars[res.bars["quarantined"]]
    assert list(zip(q["ticker"], q["date"])) == [("BAD", SESSIONS[30])]
    assert ("BAD", SESSIONS[30], "spike", "quarantine") in issue_set(res.issues)
    assert not (res.issues["ticker"].isin(["JUMP", "CRASH"])).any()


def test_spike_in_replay_is_requarantined_next_cycle() -> None:
    c = walk(40, 2)
    c[35] = c[34] * 1.6
    full = series("X", c)
    gate = QualityGate()
    at_spike = gate.check(full.iloc[[35]], full.iloc[:35])
    assert not at_spike.bars["quarantined"].any()  # not knowable yet
    # The reversal is itself a large move, so it could start a chain: one more session settles it.
    nxt = gate.check(full.iloc[[36]], full.iloc[:36])
    assert not nxt.bars["quarantined"].any() and nxt.requarantine.empty
    settled = gate.check(full.iloc[[37]], full.iloc[:37])
    assert list(zip(settled.requarantine["ticker"], settled.requarantine["date"])) == [("X", SESSIONS[35])]
    assert ("X", SESSIONS[35], "spike", "quarantine") in issue_set(settled.issues)
    # The following cycle (history without the quarantined bar) does not report it again.
    later = gate.check(full.iloc[[38]], full.iloc[:38].drop(index=35))
    assert later.requarantine.empty and later.issues.empty


def test_chain_keeps_the_bad_print_not_the_real_drop() -> None:
    # EFX 2017-09: a real -15% day followed by a bogus bar back near the old level.
    c = list(walk(40, 3, 0.005))
    c += [c[-1] * 0.85, c[-1] * 1.02, c[-1] * 0.80, c[-1] * 0.81, c[-1] * 0.815]
    res = QualityGate().check(series("EFX", c))
    q = res.bars[res.bars["quarantined"]]
    assert list(q["date"]) == [SESSIONS[41]]


def test_missing_ohlc_zero_volume_nonpositive_duplicate_nonsession() -> None:
    df = series("A", walk(12, 4))
    df.loc[2, ["open", "high", "low"]] = np.nan  # NaN open/high/low: repair
    df.loc[3, "volume"] = 0  # zero volume: flag
    df.loc[4, "open"] = df.loc[4, "low"] * 0.5  # bad open: clip
    df.loc[5, "close"] = df.loc[5, "low"] * 0.98  # close a bit under low: widen
    df.loc[6, "close"] = df.loc[6, "low"] * 0.5  # close far under low: quarantine
    df.loc[7, "close"] = np.nan  # no close: quarantine
    df.loc[8, "low"] = -1.0  # non-positive: quarantine
    dup = df.iloc[[9]].assign(close=df.loc[9, "close"] * 1.001)  # duplicate: keep last
    weekend = df.iloc[[10]].assign(date=dt.date(2017, 1, 7))  # a Saturday
    res = QualityGate().check(pd.concat([df, dup, weekend], ignore_index=True))
    got = issue_set(res.issues)
    d = SESSIONS
    for expected in [
        ("A", d[2], "missing", "repair"),
        ("A", d[3], "zero_volume", "flag"),
        ("A", d[4], "ohlc", "repair"),
        ("A", d[5], "ohlc", "repair"),
        ("A", d[6], "ohlc", "quarantine"),
        ("A", d[7], "missing", "quarantine"),
        ("A", d[8], "non_positive", "quarantine"),
        ("A", d[9], "duplicate", "repair"),
        ("A", dt.date(2017, 1, 7), "non_session", "quarantine"),
    ]:
        assert expected in got, expected
    b = res.bars.set_index("date")
    assert b.loc[d[2], "open"] == b.loc[d[2], "close"] and b.loc[d[2], "high"] >= b.loc[d[2], "close"]
    assert b.loc[d[4], "open"] == b.loc[d[4], "low"]
    assert b.loc[d[5], "low"] == b.loc[d[5], "close"]
    assert set(b.index[b["quarantined"]]) == {d[6], d[7], d[8], dt.date(2017, 1, 7)}
    assert b.loc[d[9], "close"] == pytest.approx(df.loc[9, "close"] * 1.001)
    assert len(res.bars) == 13  # 12 sessions + the weekend bar; the duplicate is gone
    ok = res.bars[~res.bars["quarantined"]]
    assert (ok["high"] >= ok[["open", "close"]].max(axis=1)).all()
    assert (ok["low"] <= ok[["open", "close"]].min(axis=1)).all()


def test_gaps_and_stale() -> None:
    df = series("G", walk(30, 5)).drop(index=[10, 11, 20]).reset_index(drop=True)
    flat = series("S", np.r_[walk(10, 6), np.full(8, 50.0)])
    res = QualityGate().check(pd.concat([df, flat]))
    gaps = res.issues[res.issues["rule"] == "gap"]
    assert list(gaps["date"]) == [SESSIONS[10], SESSIONS[11], SESSIONS[20]]
    stale = res.bars[res.bars["stale"]]
    assert set(stale["ticker"]) == {"S"} and len(stale) == 8 - 4  # 5th identical bar onwards
    # Incremental: the gap is reported when the bar after it arrives, and only then.
    full = series("H", walk(15, 7))
    inc = QualityGate().check(full.iloc[[12]], full.iloc[:9])
    assert list(inc.issues["date"]) == SESSIONS[9:12]


def test_vectorised_kernels_match_slow_oracles() -> None:
    rng = np.random.default_rng(11)
    n, groups = 3000, 7
    g = np.sort(rng.integers(0, groups, n))
    c = np.exp(np.cumsum(rng.normal(0, 0.02, n))) * 50
    spikes_at = rng.choice(np.arange(2, n - 2), 25, replace=False)
    c[spikes_at] *= rng.choice([0.5, 1.8], 25)
    s = GateSettings()
    got, _, _, _ = qr.spikes(c, g, groups, s.spike_min_move, s.spike_sigma, s.spike_reversal)
    want = np.zeros(n, dtype=bool)
    for k in range(groups):
        rows = np.nonzero(g == k)[0]
        r = np.diff(np.log(c[rows]))
        sigma = max(1.4826 * np.median(np.abs(r)), qr.MIN_SIGMA) if len(r) >= qr.MIN_RETURNS_FOR_SIGMA else 0.02
        thr = max(s.spike_min_move, s.spike_sigma * sigma)
        for j in range(1, len(rows) - 1):
            r1, r2 = r[j - 1], r[j]
            want[rows[j]] = abs(r1) >= thr and abs(r1 + r2) <= (1 - s.spike_reversal) * abs(r1)
    assert (got == want).all() and got.sum() >= 10
    pos = np.sort(rng.choice(np.arange(5000), n, replace=False))
    is_new = rng.random(n) < 0.7
    rows, missing = qr.gaps(pos, g, is_new)
    oracle = [(i, p) for i in range(1, n) if g[i] == g[i - 1] and is_new[i] for p in range(pos[i - 1] + 1, pos[i])]
    assert list(zip(rows.tolist(), missing.tolist())) == oracle
    o, h, low = c * 1.001, c * 1.01, c * 0.99
    o[::50] = c[::50] * 0.5
    bad = qr.ohlc_violations(o, h, low, c)
    assert (bad == np.array([h[i] < max(o[i], c[i]) or low[i] > min(o[i], c[i]) for i in range(n)])).all()


def test_sample_is_clean() -> None:
    sample = pd.read_parquet("data/watchlist_sample.parquet")
    res = QualityGate().check(sample)
    counts = summarise(res.issues)
    assert "ohlc" not in counts and "missing" not in counts and "gap" not in counts
    assert res.bars["quarantined"].sum() <= 2  # at most a known IEX bad print, never real moves
    assert len(res.bars) == len(sample)


def test_bad_settings_are_config_errors() -> None:
    from engine.config import load_config

    with pytest.raises(ConfigError, match=r"quality\.spike_reversal"):
        load_config(env={"PMAX_QUALITY__SPIKE_REVERSAL": "1.5"})
    assert GateSettings() == load_config(env={}).quality.model  # defaults come from default.toml
