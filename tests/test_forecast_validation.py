"""Walk-forward CV (cutoffs, no peeking) and purged k-fold / CPCV (purge + embargo), and `pmax validate`."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from engine.forecast.validation import combinatorial_purged_cv, purged_kfold, walk_forward
from engine.panel import Panel


@pytest.fixture(scope="module")
def panel(request: pytest.FixtureRequest) -> Panel:
    df = pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet")
    return Panel.from_long(df[df["ticker"].isin(["AAPL", "KO"])])


def test_walk_forward_cutoffs_steps_and_actuals(panel: Panel) -> None:
    cv = walk_forward(panel, "drift", h=[1, 5], n_windows=6, step_size=5, refit=2)
    cutoffs = sorted(cv["cutoff"].unique())
    assert len(cutoffs) == 6
    pos = [int(np.searchsorted(panel.dates, np.datetime64(c))) for c in cutoffs]
    assert np.diff(pos).tolist() == [5] * 5 and pos[-1] == panel.n_sessions - 1 - 5
    lc = np.log(panel.close)
    row = cv[(cv["cutoff"] == cutoffs[0]) & (cv["ticker"] == "KO") & (cv["horizon"] == 5)].iloc[0]
    assert row["actual"] == pytest.approx(lc[pos[0] + 5, 1] - lc[pos[0], 1])
    r = panel.log_returns()
    assert row["mean"] == pytest.approx(5 * np.mean(r[pos[0] - 251 : pos[0] + 1, 1]))  # data ≤ cutoff only


def test_rolling_window_refits_on_the_last_sessions_only(panel: Panel) -> None:
    a = walk_forward(panel, "arima", h=1, n_windows=2, step_size=5, refit=1, window="rolling", window_size=300)
    b = walk_forward(
        panel.rows(panel.n_sessions, panel.n_sessions - 400),
        "arima",
        h=1,
        n_windows=2,
        step_size=5,
        refit=1,
        window="rolling",
        window_size=300,
    )
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_purged_kfold_drops_overlapping_targets_and_embargo() -> None:
    for train, test in purged_kfold(60, 3, h=4, embargo=3):
        for t in train:
            # label spans [t, t+4] and [test.min(), test.max()+4] are disjoint: purged on both sides
            assert t + 4 < test.min() or t > test.max() + 4
            assert not (test.max() + 4 < t <= test.max() + 4 + 3)  # embargo after the purged zone
            assert t + 4 <= 59


@pytest.mark.parametrize(("h", "embargo"), [(21, 5), (5, 0), (10, 2)])
def test_cpcv_with_h_above_embargo_leaves_zero_overlapping_training_rows(h: int, embargo: int) -> None:
    """Every (train, test) pair of every split: the h-session label spans never overlap.

    The old purge (before each test block only, then `embargo` rows) left training
    rows right after a block whose labels reach back into it whenever h > embargo."""
    n = 500
    overlapping = 0
    for train, test, _ in combinatorial_purged_cv(n, 6, 2, h=h, embargo=embargo):
        assert len(train) and len(test)
        # [t, t+h] ∩ [s, s+h] ≠ ∅  ⇔  |t - s| ≤ h
        gaps = np.abs(train[:, None] - test[None, :])
        overlapping += int(np.any(gaps <= h, axis=1).sum())
        for a in np.split(test, np.flatnonzero(np.diff(test) > 1) + 1):
            after = train[train > a[-1]]
            if len(after):
                assert after.min() >= a[-1] + 1 + h + embargo  # purge, then the embargo
    assert overlapping == 0


def test_cpcv_enumerates_every_pair_of_test_groups() -> None:
    splits = list(combinatorial_purged_cv(120, 6, 2, h=2, embargo=2))
    assert [s[2] for s in splits] == list(combinations(range(6), 2))
    for train, test, _ in splits:
        assert len(np.intersect1d(train, test)) == 0 and len(test) == 40


def test_validate_command_reports_models_beside_naive(tmp_path, sample_path) -> None:
    from engine.store import Store, append
    from tui.commands.validate import validate

    df = pd.read_parquet(sample_path)
    df = df[df["ticker"].isin(["AAPL", "KO"])].assign(source="sample")
    db = tmp_path / "v.duckdb"
    store = Store.open(db)
    append(store.con, "bars", df)
    store.close()
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[validation]\nmodels = ["drift", "arima"]\nn_windows = 8\nstep_size = 10\n[forecast]\nhorizons = [1, 5]\n'
    )
    res = CliRunner().invoke(validate, ["--db", str(db), "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["source"] == "walk_forward"
    got = {(r["model"], r["horizon"]) for r in out["rows"]}
    assert got == {(m, h) for m in ("naive", "drift", "arima") for h in (1, 5)}
    arima = next(r for r in out["rows"] if r["model"] == "arima" and r["horizon"] == 5)
    assert 0 <= arima["dm_pvalue"] <= 1 and arima["n"] == 8 and arima["n_rows"] == 16
    assert 0 <= arima["coverage"] <= 1
    for r in out["rows"]:  # the status is the row's own verdict
        if r["model"] != "naive" and r["skill"] is not None:
            want = (
                "worse than naive"
                if r["skill"] <= 0
                else ("skilled" if r["dm_pvalue"] is not None and r["dm_pvalue"] < out["alpha"] else "not significant")
            )
            assert r["status"] == want
        assert {"ljung_box_median_p", "ljung_box_reject_share", "ljung_box_tickers"} <= set(r)
    levels = {(c["model"], c["horizon"], round(c["level"], 2)) for c in out["coverage"]}
    assert ("arima", 5, 0.8) in levels and ("arima", 5, 0.9) in levels and ("arima", 5, 0.95) in levels
    assert all(0 <= c["pvalue"] <= 1 for c in out["coverage"])
    assert out["var_backtest"] == [] and "walk-forward run" in out["weights_rule"]
    res = CliRunner().invoke(validate, ["--db", str(db), "--config", str(cfg), "--json", "--cv", "cpcv"])
    assert res.exit_code == 0, res.output
    cp = json.loads(res.output)
    assert [c["horizon"] for c in cp["cpcv"]] == [1, 5] and all(c["splits"] == 15 for c in cp["cpcv"])
    assert {"skill_vs_drift", "n_train", "n_test"} <= set(cp["cpcv_splits"][0])
    res = CliRunner().invoke(validate, ["--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2
