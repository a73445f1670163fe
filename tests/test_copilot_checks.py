"""The number check: what counts as a number, what verifies it (within its printed
rounding), and what the user sees when it does not verify."""

from __future__ import annotations

import datetime as dt

from copilot.checks import MARK, NumberGuard, check_text, extract
from copilot.tools.base import result
from copilot.types import Citation

ROWS = result(
    "pnl_period",
    "P&L 2016-02-01..2016-02-29",
    ["ticker", "pnl", "return", "last"],
    [
        ("MCD", -2997.38, -0.010278, dt.date(2016, 2, 29)),
        ("BAC", -2321.45, 0.0043680985244242965, dt.date(2016, 2, 26)),
    ],
    [Citation("positions", "account=paper", dt.date(2016, 2, 29))],
)


def test_extracts_numbers_with_units_and_skips_labels() -> None:
    found = extract(
        "VaR(95%) is -0.98% (−$3.0k, $1.2 million, 8.8e-05); 1-day; var_hist_95; on 2016-02-11 and February 12, 2016"
    )
    assert [n.text for n in found] == ["-0.98%", "−$3.0k", "$1.2 million", "8.8e-05", "2016-02-11", "February 12, 2016"]
    assert found[0].value is not None and (found[0].value == -0.98 * 0.01 or abs(found[0].value - 0.0098) < 1e-12)
    assert found[1].value == 3000.0 and found[1].tolerance == 50.0
    assert found[4].day == dt.date(2016, 2, 11) and found[5].day == dt.date(2016, 2, 12)


def test_verifies_within_printed_rounding_only() -> None:
    ok = check_text("MCD lost $2,997 (-$3.0k, -1.03%, 0.0044, 0.004368) on 2016-02-29.", [ROWS])
    assert (ok.numbers, ok.unverified) == (6, [])
    bad = check_text("MCD lost $2,990, -1.1%, 0.00438 on 2016-02-28.", [ROWS])
    assert bad.unverified == ["$2,990", "-1.1%", "0.00438", "2016-02-28"]


def test_guard_rewrites_numbers_split_across_chunks_and_names_the_rows_used() -> None:
    guard = NumberGuard([ROWS], "question")
    text = "".join(guard.feed(c) for c in ["MCD lost $2,9", "97 (-1.", "03%) and 99.9", "9% more. "])
    text += guard.finish()
    assert text == f"MCD lost $2,997 (-1.03%) and {MARK} more. "
    assert guard.report.action == "rewritten"  # 1 of 3 unverified: marked, no fallback
    assert guard.report.numbers == 3 and guard.report.unverified == ["99.99%"]
    assert guard.report.used == {0: {0}}  # MCD's row


def test_fallback_when_half_or_more_are_unverified() -> None:
    assert check_text("It made 12.5% in 2023 and $1,234.", [ROWS]).needs_fallback
    assert not check_text("MCD lost $2,997 and -1.03%; the model says 7.7%.", [ROWS]).needs_fallback


def test_quoted_stored_text_verifies_against_text_values() -> None:
    rows = result("rejections", "Rejected", ["reason"], [("max position weight 0.10 exceeded",)], [])
    assert check_text('Reason: `"max position weight 0.10 exceeded"`', [rows]).unverified == []
    assert check_text('Reason: `"max position weight 0.25 exceeded"`', [rows]).unverified == ["0.25"]


def test_a_bare_small_integer_only_matches_a_whole_value() -> None:
    rows = result("t", "t", ["horizon", "x"], [(5, 1.7)], [])
    assert check_text("over 5 sessions", [rows]).unverified == []
    assert check_text("the answer is 2", [rows]).unverified == ["2"]  # not 1.7 rounded
    assert check_text("x is 1.7", [rows]).unverified == []


def test_a_text_date_split_across_chunks_is_checked_whole() -> None:
    whole = check_text("On February 12, 2016 it fell.", [ROWS])
    guard = NumberGuard([ROWS], "q", rewrite=False)
    for chunk in ["On February", " 12,", " 2016 it", " fell."]:
        guard.feed(chunk)
    guard.finish()
    assert guard.report.unverified == whole.unverified == ["February 12, 2016"]


def test_the_tables_own_footer_count_is_not_checked_but_a_model_sentence_is() -> None:
    """render_table's "… and N more rows (ask about one ticker …)" is pmax's count of rows
    it did not print, not a stored value: it must reach the user, not become [?]."""
    footer = "_… and 4 more rows (ask about one ticker to narrow it down)._"
    assert extract(footer) == []
    assert check_text("There are 4 more rows.", [ROWS]).unverified == ["4"]
