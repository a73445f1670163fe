"""Unit tests of the TUI's pure parts: text renderers, TOML writer, keymap, queries,
watchlist ordering, signal reading, export and validation scoring."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from test_tui_support import ACCOUNT, TICKERS
from textual.binding import Binding

from tui.export import target_path, write_table, write_text
from tui.keymap import BY_ID, SPECS, bindings, display_key, effective_keys, unknown_ids
from tui.panes.queries import load_forecast, load_risk, load_signals, load_snapshot
from tui.panes.reading import layers_summary, reading
from tui.panes.userconfig import dumps, set_user_value
from tui.panes.validation import validation_frame
from tui.panes.views import WatchRow
from tui.panes.watch_rows import load_watchlist
from tui.panes.watchlist import order_rows
from tui.widgets.charts import chart_to_text, draw_equity, draw_forecast, forecast_legend
from tui.widgets.text import hbar, sparkline


def test_sparkline_maps_min_and_max_to_end_blocks() -> None:
    line = sparkline([1.0, 2.0, 3.0, 2.0, float("nan"), 1.0])
    assert line == "▁▅█▅▁"
    assert sparkline([5.0] * 4) == "▄▄▄▄"
    assert sparkline(list(range(30)), width=20)[0] == "▁" and len(sparkline(list(range(30)), width=20)) == 20
    assert sparkline([]) == ""


def test_hbar_fills_proportionally_and_clips() -> None:
    assert hbar(0.5, 10) == "█████░░░░░"
    assert hbar(2.0, 4) == "████"
    assert hbar(None, 3) == "···"
    assert len(hbar(0.33, 7)) == 7


def test_toml_writer_round_trips_through_tomllib() -> None:
    data = {
        "top": 1,
        "data": {"watchlist": ["AAPL", "MSFT"], "x": 1.5},
        "keymap": {"quit": "ctrl+q", "odd key": 'a"b'},
        "replay": {"start": dt.date(2016, 3, 1), "on": True},
    }
    assert tomllib.loads(dumps(data)) == data


def test_set_user_value_keeps_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "pmax" / "config.toml"
    path.parent.mkdir()
    path.write_text('[replay]\nstart = 2016-03-01\n[keymap]\nquit = "ctrl+q"\n')
    set_user_value("data.watchlist", ["AAPL", "NVDA"], path)
    set_user_value("tui.theme", "nord", path)
    got = tomllib.loads(path.read_text())
    assert got == {
        "replay": {"start": dt.date(2016, 3, 1)},
        "keymap": {"quit": "ctrl+q"},
        "data": {"watchlist": ["AAPL", "NVDA"]},
        "tui": {"theme": "nord"},
    }


def test_set_user_value_uses_xdg_config_home(isolated_home: Path) -> None:
    written = set_user_value("tui.theme", "gruvbox")
    assert written == isolated_home / ".config" / "pmax" / "config.toml"
    assert tomllib.loads(written.read_text())["tui"]["theme"] == "gruvbox"


def test_keymap_ids_are_unique_and_remap() -> None:
    assert len(BY_ID) == len(SPECS)
    ids = {b.id for b in bindings("app") if isinstance(b, Binding)}
    assert ids >= {"quit", "pause", "step", "help", "next_pane", "palette"}
    keys = effective_keys({"quit": "ctrl+q"})
    assert keys["quit"] == "ctrl+q" and keys["step"] == "n"
    assert unknown_ids({"quit": "x", "nonsense": "y"}) == ["nonsense"]
    assert display_key("question_mark") == "?"


def test_default_toml_documents_every_tui_key() -> None:
    from engine.config import load_defaults

    tui = load_defaults()["tui"]
    assert {
        "theme",
        "start_paused",
        "cursor_blink",
        "batch_ms",
        "sparkline_sessions",
        "chart_sessions",
        "export_dir",
    } <= set(tui)


def test_watchlist_query_marks_stale_and_quarantine(filled) -> None:
    store, last = filled
    rows = {r.ticker: r for r in load_watchlist(store.cursor(), [], ACCOUNT, 20)}
    assert set(rows) == set(TICKERS)
    assert rows["CCC"].stale and not rows["AAA"].stale
    assert rows["BBB"].quarantined and not rows["AAA"].quarantined
    closes = store.con.execute("SELECT close FROM bars WHERE ticker='AAA' ORDER BY date DESC LIMIT 2").fetchall()
    assert rows["AAA"].last == pytest.approx(closes[0][0])
    assert rows["AAA"].change == pytest.approx(closes[0][0] / closes[1][0] - 1)
    assert len(rows["AAA"].spark) == 20 and rows["AAA"].date == last
    assert rows["AAA"].signal == "BUY" and rows["BBB"].signal == "SELL"


def test_watchlist_query_keeps_order_and_unknown_tickers(filled) -> None:
    store, _ = filled
    rows = load_watchlist(store.cursor(), ["FFF", "ZZZ", "AAA"], ACCOUNT)
    assert [r.ticker for r in rows] == ["FFF", "ZZZ", "AAA"]
    assert rows[1].last is None and rows[0].last is not None


def test_forecast_risk_signal_queries(filled) -> None:
    store, last = filled
    cur = store.cursor()
    view = load_forecast(cur, ACCOUNT, "AAA", 30)
    assert view.as_of == last and view.horizons == (1, 5) and len(view.closes) == 30
    assert set(view.weights["model"]) == {"naive", "arima", "lightgbm", "ensemble"}
    sig = load_signals(cur, ACCOUNT)
    assert list(sig["action"][:2]) == ["BUY", "BUY"] and len(sig) == len(TICKERS)
    risk = load_risk(cur, ACCOUNT)
    assert risk.risk is not None and risk.risk["var_hist_95"] == pytest.approx(0.012)
    assert list(risk.rejections["reason"]) == ["gross exposure limit"]
    assert risk.regime == "bull" and len(risk.positions) == 3
    snap = load_snapshot(cur, ACCOUNT, [])
    assert snap.as_of == last and snap.sessions == 70


def test_order_rows_sorts_filters_and_puts_missing_last() -> None:
    rows = [WatchRow("B", last=2.0, change=0.1), WatchRow("A", last=None), WatchRow("C", last=1.0, change=-0.1)]
    assert [r.ticker for r in order_rows(rows, 0, False, "")] == ["A", "B", "C"]
    assert [r.ticker for r in order_rows(rows, 1, False, "")] == ["C", "B", "A"]
    assert [r.ticker for r in order_rows(rows, 1, True, "")] == ["B", "C", "A"]
    assert [r.ticker for r in order_rows(rows, 0, False, "c")] == ["C"]


def test_reading_uses_the_row_and_names_failed_layers() -> None:
    row = {
        "ticker": "AAA",
        "action": "BUY",
        "confidence": 0.6,
        "expected_return": 0.012,
        "horizon": 5,
        "prob_up": 0.58,
        "layers": json.dumps(
            [{"layer": "cost", "passed": False, "reason": "edge too small"}, {"layer": "regime", "passed": True}]
        ),
        "drivers": json.dumps(
            [{"feature": "mom_21", "value": 0.1, "shap": 0.003}, {"feature": "vol", "value": 0.2, "shap": -0.001}]
        ),
    }
    text = reading(row)
    assert "AAA: BUY with 60% confidence" in text and "1.20%" in text and "5 sessions" in text
    assert "mom_21" in text and "vol" in text and "failed the cost check: edge too small" in text
    assert layers_summary(row["layers"]) == "✗ $"
    assert layers_summary(None) == "—"
    every = [{"layer": n, "passed": False} for n in ("statistical", "regime", "size", "correlation", "cost")]
    assert layers_summary(json.dumps(every)) == "✗ SRZC$"
    assert layers_summary(json.dumps([{"layer": "cost", "passed": True}])) == "✓"


def test_export_never_overwrites(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    day = dt.date(2016, 1, 4)
    p1 = write_table(df, tmp_path, "watchlist", day, "csv")
    p2 = write_table(df, tmp_path, "watchlist", day, "csv")
    p3 = write_table(df, tmp_path, "watchlist", day, "parquet")
    assert p1.name == "watchlist-2016-01-04.csv" and p2.name == "watchlist-2016-01-04-2.csv"
    assert pd.read_parquet(p3).equals(df) and pd.read_csv(p1).equals(df)
    assert write_text("x\n", tmp_path, "risk", None).read_text() == "x\n"
    assert target_path(tmp_path, "a/b", None, "txt").name == "a_b-latest.txt"
    with pytest.raises(ValueError):
        write_table(df, tmp_path, "w", day, "xlsx")


def test_charts_render_to_text(filled) -> None:
    store, _ = filled
    cur = store.cursor()
    view = load_forecast(cur, ACCOUNT, "AAA", 30)
    text = chart_to_text(draw_forecast, view, 5, width=80, height=20, legend=forecast_legend(view))
    assert "AAA: closes and forecasts" in text and "\x1b[" not in text and len(text.splitlines()) >= 19
    first = str(view.closes["date"].iloc[0])[:10]
    assert first in text  # a real date axis
    legend = text.splitlines()[-1]
    assert legend.startswith("legend: ") and "ensemble" in legend and "arima" in legend
    markers = [m for m, _c, _l in forecast_legend(view)]
    assert len(markers) == len(set(markers))  # every series has its own marker
    assert chart_to_text(draw_equity, pd.DataFrame(), width=40, height=10) == "(no data to chart)\n"


def test_validation_frame_scores_models(filled) -> None:
    store, _ = filled
    df = validation_frame(store.cursor(), ACCOUNT)
    naive = df[(df.model == "naive") & (df.horizon == 1)].iloc[0]
    assert naive["n_scored"] == 3 and naive["sessions"] == 3 and naive["skill"] == pytest.approx(0.0)
    best = df[(df.model == "ensemble") & (df.horizon == 1)].iloc[0]
    # hit rate from the signs of mean and actual (0.003, -0.004, -0.011 vs +0.01), ties left out
    assert best["skill"] == pytest.approx(1 - 0.7**2) and best["hit_rate"] == pytest.approx(1 / 3)
