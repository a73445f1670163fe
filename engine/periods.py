"""Return periods and their annualisation factors (empyrical's names), shared by the metrics.

`engine.metrics` and `engine.sharpe_stats` both annualise; the factor table lives
here so neither imports the other for it.
"""

from __future__ import annotations

from engine.errors import UsageError

DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY = "daily", "weekly", "monthly", "quarterly", "yearly"
ANNUALIZATION_FACTORS: dict[str, int] = {DAILY: 252, WEEKLY: 52, MONTHLY: 12, QUARTERLY: 4, YEARLY: 1}
APPROX_BDAYS_PER_YEAR = 252


def annualization_factor(period: str = DAILY, annualization: float | None = None) -> float:
    """Periods per year: `annualization` if given, else the factor for `period`."""
    if annualization is not None:
        return annualization
    try:
        return ANNUALIZATION_FACTORS[period]
    except KeyError:
        raise UsageError(
            f"unknown period {period!r}",
            hint="use one of " + ", ".join(ANNUALIZATION_FACTORS) + " or pass annualization=",
        ) from None
