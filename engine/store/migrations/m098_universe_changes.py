"""Watchlist changes made while a run goes on (`engine.universe`), one row per ticker.

`action` is what the change did at the start of `session`: `add` (joined, history
backfilled), `remove` (left, not held), `keep` (left the watchlist but held: still
managed), `liquidate` (held: target 0, sold at the next open through the normal order
path) or `left` (a kept or liquidated name that is now flat left the universe). A
restart keeps managing held names whose last action was `add`, `keep` or `liquidate`.
"""

VERSION = 98

SQL = """
CREATE TABLE universe_changes (
    account VARCHAR,
    session DATE,               -- the cycle that applied the change
    ticker VARCHAR,
    action VARCHAR,             -- add | remove | keep | liquidate | left
    requested_at TIMESTAMP,
    PRIMARY KEY (account, session, ticker)
);
"""
