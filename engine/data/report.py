"""The data-quality report behind `pmax data check`: counts by rule and action,
the worst tickers, what is quarantined or stale, read from the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.store.connection import Queryable


def quality_report(con: Queryable, worst: int = 10) -> dict[str, Any]:
    """A JSON-ready summary of `bars` and `quality_issues`."""
    n_bars, n_tickers, first, last, n_q, n_stale = con.execute(
        "SELECT count(*), count(DISTINCT ticker), CAST(min(date) AS VARCHAR), CAST(max(date) AS VARCHAR), "
        "count(*) FILTER (WHERE quarantined), count(*) FILTER (WHERE stale) FROM bars"
    ).fetchall()[0]
    by_rule: dict[str, dict[str, int]] = {}
    for rule, action, n in con.execute(
        "SELECT rule, action, count(*) FROM quality_issues GROUP BY ALL ORDER BY rule, action"
    ).fetchall():
        by_rule.setdefault(rule, {})[action] = int(n)
    by_action = {
        a: int(n)
        for a, n in con.execute("SELECT action, count(*) FROM quality_issues GROUP BY ALL ORDER BY action").fetchall()
    }
    worst_rows = con.execute(
        "SELECT ticker, count(*) AS issues, count(*) FILTER (WHERE action = 'quarantine') AS quarantined, "
        "string_agg(DISTINCT rule, ',' ORDER BY rule) AS rules FROM quality_issues "
        "GROUP BY ticker ORDER BY issues DESC, quarantined DESC, ticker LIMIT ?",
        [worst],
    ).fetchall()
    quarantined = con.execute(
        "SELECT b.ticker, CAST(b.date AS VARCHAR), coalesce(string_agg(DISTINCT q.rule, ',' ORDER BY q.rule), '') "
        "FROM bars b LEFT JOIN quality_issues q ON q.ticker = b.ticker AND q.date = b.date "
        "AND q.action = 'quarantine' WHERE b.quarantined GROUP BY ALL ORDER BY 1, 2 LIMIT 200"
    ).fetchall()
    sources = {
        s: int(n)
        for s, n in con.execute("SELECT coalesce(source, '?'), count(*) FROM bars GROUP BY ALL ORDER BY 1").fetchall()
    }
    return {
        "bars": int(n_bars),
        "tickers": int(n_tickers),
        "first": first,
        "last": last,
        "quarantined": int(n_q),
        "stale": int(n_stale),
        "sources": sources,
        "issues": int(sum(by_action.values())),
        "by_rule": by_rule,
        "by_action": by_action,
        "worst_tickers": [
            {"ticker": t, "issues": int(i), "quarantined": int(q), "rules": r} for t, i, q, r in worst_rows
        ],
        "quarantined_bars": [{"ticker": t, "date": d, "rules": r} for t, d, r in quarantined],
    }


def format_report(report: dict[str, Any]) -> str:
    """Plain-text rendering for the terminal."""
    lines = [
        f"bars: {report['bars']:,} for {report['tickers']} tickers, {report['first']} .. {report['last']}"
        f"  (quarantined {report['quarantined']}, stale {report['stale']})",
        f"sources: {', '.join(f'{k} {v:,}' for k, v in report['sources'].items()) or '-'}",
        f"issues: {report['issues']}",
    ]
    if report["by_rule"]:
        lines.append(f"  {'rule':<13}{'flag':>7}{'repair':>8}{'quarantine':>12}")
        for rule, acts in report["by_rule"].items():
            lines.append(
                f"  {rule:<13}{acts.get('flag', 0):>7}{acts.get('repair', 0):>8}{acts.get('quarantine', 0):>12}"
            )
    if report["worst_tickers"]:
        lines.append(
            "worst tickers: "
            + ", ".join(f"{w['ticker']} {w['issues']} ({w['rules']})" for w in report["worst_tickers"])
        )
    if report["quarantined_bars"]:
        lines.append(
            "quarantined: "
            + ", ".join(f"{q['ticker']} {q['date']} ({q['rules'] or '?'})" for q in report["quarantined_bars"][:20])
        )
    return "\n".join(lines)
