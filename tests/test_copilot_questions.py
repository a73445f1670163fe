"""The questions people ask, answered offline from a real replayed store: every
figure is checked against an independent SQL computation over the same store, and
every number in each answer is found in its sources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.checks import check_text
from copilot.session import CopilotSession
from copilot.settings import CopilotSettings
from engine.store import Store

FOUR = (
    "What is the latest signal for AAPL, and why?",
    "Why did the portfolio lose money in February 2016?",
    "Which model has been most accurate for MSFT?",
    "What is my biggest risk right now?",
)


@pytest.fixture(scope="module")
def store(copilot_replay_db: Path) -> Iterator[Store]:
    s = Store.open(copilot_replay_db, read_only=True)
    yield s
    s.close()


def ask(store: Store, question: str):
    return CopilotSession(store.cursor, CopilotSettings(backend="offline", persist=False)).ask(question)


def test_february_pnl_and_detractors_match_the_books(store: Store) -> None:
    con = store.con
    before, end = con.execute(
        "SELECT (SELECT equity FROM equity WHERE as_of < DATE '2016-02-01' ORDER BY as_of DESC "
        "LIMIT 1), (SELECT equity FROM equity WHERE as_of <= DATE '2016-02-29' ORDER BY as_of "
        "DESC LIMIT 1)"
    ).fetchall()[0]
    pnl = end - before
    answer = ask(store, FOUR[1])
    assert pnl < 0 and f"lost ${abs(pnl):,.0f} ({pnl / before * 100:+.2f}%)" in answer.text
    payload = answer.to_dict()
    attribution = next(s for s in payload["sources"] if s["table"] == "positions")["rows"]
    worst = min((r for r in attribution if not r["ticker"].endswith("others")), key=lambda r: r["pnl"])
    assert f"were {worst['ticker']} (-${abs(worst['pnl']) / 1000:,.1f}k)" in answer.text
    rows = answer.source_rows
    assert {s["table"] for s in rows} >= {"equity", "positions"}
    assert answer.checks["unverified"] == 0 and answer.checks["numbers"] >= 10


def test_attribution_sums_to_the_change_in_equity(store: Store) -> None:
    from copilot.tools import run_tool

    res = run_tool(store.con, "paper", "pnl_period", {"start": "2016-02-01", "end": "2016-02-29"})
    head = res.records()[0]
    parts = res.children[0].records()
    assert abs(sum(p["pnl"] for p in parts) - head["pnl"]) < 0.05  # cents, summed
    assert head["equity_end"] - head["equity_before"] == pytest.approx(head["pnl"], abs=0.01)


def test_most_accurate_model_is_named_from_out_of_sample_skill(store: Store) -> None:
    rows = store.con.execute(
        "SELECT model, horizon, 1 - avg(error * error) / avg(naive_error * naive_error) AS skill, "
        "count(*) AS n FROM model_scores WHERE ticker = 'MSFT' AND model <> 'naive' "
        "GROUP BY model, horizon HAVING count(*) >= 20 ORDER BY skill DESC"
    ).fetchall()
    best_model, best_h, skill, _ = rows[0]
    answer = ask(store, FOUR[2])
    lead = answer.text.split("\n\n")[0]
    assert f"{best_model} at h = {best_h}" in lead and f"{skill:.4f}" in lead
    if skill <= 0:
        assert "No model has beaten the naive random walk" in lead
    assert answer.checks["unverified"] == 0


def test_biggest_risk_names_the_worst_stress_scenario_and_var_parts_add_up(store: Store) -> None:
    from copilot.tools import run_tool

    stress, var = store.con.execute("SELECT stress, var_hist_95 FROM risk ORDER BY as_of DESC LIMIT 1").fetchall()[0]
    worst = min(json.loads(stress).items(), key=lambda kv: kv[1])
    answer = ask(store, FOUR[3])
    assert f"a repeat of **{worst[0]}**" in answer.text and f"{worst[1] * 100:+.2f}%" in answer.text
    res = run_tool(store.con, "paper", "risk_breakdown")
    assert res.records()[0]["var_hist_95"] == pytest.approx(var, abs=1e-6)  # engine code, same inputs
    assert answer.checks["unverified"] == 0


def test_the_four_questions_print_only_numbers_from_their_sources(store: Store) -> None:
    sess = CopilotSession(store.cursor, CopilotSettings(backend="offline", persist=False))
    texts = [sess.ask(q) for q in FOUR]
    for answer in texts:
        assert answer.checks["numbers"] > 0 and answer.checks["unverified"] == 0, answer.question
    signal = store.con.execute(
        "SELECT action, as_of FROM signals WHERE ticker = 'AAPL' ORDER BY as_of DESC LIMIT 1"
    ).fetchall()[0]
    assert f"is **{signal[0]}**" in texts[0].text and signal[1].isoformat() in texts[0].text
    assert sum("Answered from the store without a language model" in a.text for a in texts) == 1
    for answer in texts:  # narrow tables: they fit the copilot pane
        widths = [line.count("|") - 1 for line in answer.text.splitlines() if line.startswith("|")]
        assert max(widths, default=0) <= 6, answer.question


def test_what_if_is_hypothetical_and_uses_the_engine_risk_code(store: Store) -> None:
    qty, close = store.con.execute(
        "SELECT qty, close FROM positions WHERE ticker = 'NVDA' ORDER BY as_of DESC LIMIT 1"
    ).fetchall()[0]
    cash, var = store.con.execute(
        "SELECT e.cash, r.var_hist_95 FROM equity e JOIN risk r USING (account, as_of) ORDER BY as_of DESC LIMIT 1"
    ).fetchall()[0]
    answer = ask(store, "What if I sold all NVDA?")
    rows = {r["measure"]: r for r in answer.source_rows[0]["rows"]} if answer.source_rows else {}
    assert "**Hypothetical**" in answer.text and "nothing is traded" in answer.text
    assert rows["cash"]["hypothetical"] == pytest.approx(cash + qty * close, abs=0.01)
    assert rows["var_hist_95"]["now"] == pytest.approx(var, abs=1e-6)
    assert answer.checks["unverified"] == 0


def test_dates_resolve_against_the_store_calendar(store: Store) -> None:
    day = ask(store, "What happened on 2016-02-11?")
    eq = store.con.execute("SELECT equity FROM equity WHERE as_of = DATE '2016-02-11'").fetchall()[0][0]
    assert "on 2016-02-11" in day.text and f"${eq:,.0f}" in day.text
    weekend = ask(store, "How did we do on February 13, 2016?")
    assert "2016-02-12" in weekend.text  # a Saturday means the Friday session
    outside = ask(store, "What happened in 2019?")
    assert outside.backend == "uncovered" and "covers 2016-01-04 to 2016-03-01" in outside.text
    other = ask(store, "What is the capital of France?")
    assert "The store does not cover that" in other.text and "biggest risk" in other.text


def test_compare_forecasts_is_one_compact_table(store: Store) -> None:
    answer = ask(store, "Compare the forecasts for AAPL, MSFT and NVDA")
    assert answer.text.count("###") == 1 and "| ticker | horizon | mean | prob_up | action |" in answer.text
    assert check_text(answer.text.split("**Sources**")[0], [], "").numbers > 0
    assert answer.checks["unverified"] == 0
