"""Forecast additions: the fitted state of each model at its last refit.

One row per (account, model): the pickled forecaster right after its last fit,
so a resumed run continues from exactly the state an uninterrupted run had
(warm-started refits chain from one refit to the next).
"""

VERSION = 20

SQL = """
CREATE TABLE forecast_state (
    account VARCHAR,
    model VARCHAR,
    as_of DATE,                 -- session whose data the fit used (last row)
    payload BLOB,               -- pickled Forecaster
    PRIMARY KEY (account, model)
);
"""
