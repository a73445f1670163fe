"""Read models over the store: the questions the TUI and the copilot both ask, written once.

Each function returns a `Query` (SQL and its parameters) rather than running it: the
TUI runs it on its cursor as a DataFrame (`frame`), the copilot through its
SELECT-only helper as rows, so both read the same rows and neither writes its own
SQL for the same question.

Skill and hit rate here are the SQL twins of `engine.forecast_metrics.skill_score`
and `hit_flags` (a test checks they agree): skill is 1 - MSE/MSE_naive, NULL when
the naive error is 0; a forecast or an actual of exactly 0 is a tie, neither hit nor
miss. The hit is recomputed from `mean` and `actual` rather than read from the stored
`hit` column, which databases scored before ties were left out hold as misses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb

if TYPE_CHECKING:
    import pandas as pd

#: Skill against the naive random walk over the grouped `model_scores` rows.
SKILL_SQL = "1 - avg(error * error) / nullif(avg(naive_error * naive_error), 0)"


def hit_sql(alias: str = "") -> str:
    """One scored row's directional hit as a DOUBLE (1/0): NULL for a tie (forecast or
    actual exactly 0). `alias` qualifies the columns in a join."""
    m, a = (f"{alias}.mean", f"{alias}.actual") if alias else ("mean", "actual")
    return f"CAST(CASE WHEN {m} = 0 OR {a} = 0 THEN NULL ELSE sign({m}) = sign({a}) END AS DOUBLE)"


#: One scored row's directional hit (1/0, NULL for a tie).
HIT_SQL = hit_sql()
#: Share of directional calls that were right, ties left out.
HIT_RATE_SQL = f"avg({HIT_SQL})"
#: Share of actuals inside the forecast interval.
COVERAGE_SQL = "avg(CAST(covered AS DOUBLE))"


class Query(NamedTuple):
    """A read-only SELECT and its parameters (`select(con, *query)` unpacks it)."""

    sql: str
    params: list[Any]

    def frame(self, cur: Any) -> pd.DataFrame:
        """The rows as a DataFrame; empty when a table does not exist yet (a fresh store)."""
        try:
            return cur.execute(self.sql, list(self.params)).df()
        except duckdb.CatalogException:
            import pandas as pd

            return pd.DataFrame()


def _filters(alias: str, account: str, **eq: Any) -> tuple[str, list[Any]]:
    """`alias.account = ? AND alias.k = ? …` for the given (non-None) equality filters."""
    prefix = f"{alias}." if alias else ""
    where, params = [f"{prefix}account = ?"], [account]
    for col, value in eq.items():
        if value is not None:
            where.append(f"{prefix}{col} = ?")
            params.append(value)
    return " AND ".join(where), params


def latest_forecasts(account: str, ticker: str, *, model: str | None = None, horizon: int | None = None) -> Query:
    """A ticker's forecasts at its latest forecast session (matching the filters), one row
    per model and horizon, with the ensemble weight and skill in force then (the latest
    `model_weights` row at or before that session; `weights_as_of` names it)."""
    cond, params = _filters("f", account, ticker=ticker, model=model, horizon=horizon)
    sql = (
        "SELECT f.as_of, f.ticker, f.model, f.horizon, f.mean, f.lower, f.upper, f.level, "
        "f.prob_up, f.vol, f.target_date, f.drivers, w.skill, w.weight, w.as_of AS weights_as_of "
        "FROM forecasts f "
        "LEFT JOIN LATERAL (SELECT skill, weight, as_of FROM model_weights mw "
        "  WHERE mw.account = f.account AND mw.model = f.model AND mw.horizon = f.horizon "
        "  AND mw.as_of <= f.as_of ORDER BY mw.as_of DESC LIMIT 1) w ON TRUE "
        f"WHERE {cond} AND f.as_of = (SELECT max(as_of) FROM forecasts f WHERE {cond}) "
        "ORDER BY f.horizon, f.model"
    )
    return Query(sql, params + params)


def weights_as_of(account: str, as_of: Any) -> Query:
    """The ensemble's weights in force at `as_of`: the latest row per model and horizon."""
    return Query(
        "SELECT model, horizon, weight, skill, dm_pvalue, n_scored, demoted, reason, as_of "
        "FROM model_weights WHERE account = ? AND as_of <= ? "
        "QUALIFY row_number() OVER (PARTITION BY model, horizon ORDER BY as_of DESC) = 1 "
        "ORDER BY horizon, model",
        [account, as_of],
    )


def scores_by_model(account: str, *, ticker: str | None = None, model: str | None = None) -> Query:
    """Out-of-sample scores of matured forecasts per model and horizon, best skill first.

    Columns: model, horizon, sessions (forecast origins), n_scored (ticker-rows), rmse,
    naive_rmse, skill, hit_rate (ties out), coverage, first/last_cutoff (forecast
    origins) and first/last_as_of (sessions they were scored).
    """
    cond, params = _filters("", account, ticker=ticker, model=model)
    return Query(
        "SELECT model, horizon, count(DISTINCT forecast_as_of) AS sessions, count(*) AS n_scored, "
        "sqrt(avg(error * error)) AS rmse, sqrt(avg(naive_error * naive_error)) AS naive_rmse, "
        f"{SKILL_SQL} AS skill, {HIT_RATE_SQL} AS hit_rate, {COVERAGE_SQL} AS coverage, "
        "min(forecast_as_of) AS first_cutoff, max(forecast_as_of) AS last_cutoff, "
        "min(as_of) AS first_as_of, max(as_of) AS last_as_of "
        f"FROM model_scores WHERE {cond} "
        "GROUP BY model, horizon ORDER BY horizon, skill DESC NULLS LAST, model",
        params,
    )


def current_positions(account: str, *, ticker: str | None = None) -> Query:
    """Open positions at the latest marked session, largest first."""
    cond, params = _filters("", account, ticker=ticker)
    return Query(
        "SELECT as_of, ticker, qty, avg_cost, close, market_value, weight FROM positions "
        f"WHERE {cond} AND qty <> 0 "
        "AND as_of = (SELECT max(as_of) FROM positions WHERE account = ?) "
        "ORDER BY abs(market_value) DESC, ticker",
        [*params, account],
    )


def recent_fills(account: str, limit: int, *, ticker: str | None = None) -> Query:
    """The latest paper fills, newest first."""
    cond, params = _filters("", account, ticker=ticker)
    return Query(
        "SELECT date, ticker, side, qty, price, commission, slippage, order_id FROM fills "
        f"WHERE {cond} ORDER BY date DESC, fill_id DESC LIMIT ?",
        [*params, int(limit)],
    )


def orders_with_status(account: str, statuses: tuple[str, ...], limit: int, *, ticker: str | None = None) -> Query:
    """The latest orders in the given statuses (rejected, cancelled, …), newest first."""
    cond, params = _filters("", account, ticker=ticker)
    return Query(
        "SELECT as_of, ticker, side, qty, status, reason, order_id FROM orders "
        f"WHERE {cond} AND status IN (SELECT unnest(?)) ORDER BY as_of DESC, order_id DESC LIMIT ?",
        [*params, list(statuses), int(limit)],
    )
