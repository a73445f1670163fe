"""The trial ledger: every configuration ever tried, so a winner can be deflated by them all.

`trials` holds one row per sweep trial or `pmax --run` (config hash, parameters,
data fingerprint, period, metrics, engine, wall time, error); `trial_returns` its
daily equity and returns; `sweeps` one row per `pmax sweep` call.
"""

VERSION = 60

SQL = """
CREATE TABLE sweeps (
    sweep_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    grid VARCHAR,               -- path of the GRID.toml file
    engine VARCHAR,             -- local | ray
    workers INTEGER,
    n_trials INTEGER,           -- trials in the grid
    status VARCHAR              -- running | finished | interrupted | failed
);

CREATE TABLE trials (
    trial_id VARCHAR PRIMARY KEY,
    sweep_id VARCHAR,           -- NULL for a `pmax --run`
    source VARCHAR,             -- sweep | run
    engine VARCHAR,             -- local | ray | replay | live
    recorded_at TIMESTAMP,
    config_hash VARCHAR,        -- sha256 of every setting that can change the result
    params VARCHAR,             -- JSON {dotted key: value}: the grid point, or the run's non-default settings
    config VARCHAR,             -- JSON {dotted key: value}: every setting that differs from default.toml
    data_fingerprint VARCHAR,   -- sha256 of the replayed file (replay) or of the stored bars (live)
    first_session DATE,
    last_session DATE,
    sessions INTEGER,
    status VARCHAR,             -- finished | failed
    error VARCHAR,
    wall_s DOUBLE,
    sharpe DOUBLE,              -- annualised (252 sessions)
    sharpe_period DOUBLE,       -- per session: what the deflated Sharpe ratio needs
    total_return DOUBLE,
    psr DOUBLE,
    max_drawdown DOUBLE,
    turnover DOUBLE,            -- one-way, annualised (the run summary's benchmark report)
    costs DOUBLE,               -- commission + slippage paid, in account currency
    metrics VARCHAR             -- JSON: the full run summary
);

CREATE TABLE trial_returns (
    trial_id VARCHAR,
    as_of DATE,
    equity DOUBLE,
    daily_return DOUBLE,
    PRIMARY KEY (trial_id, as_of)
);
"""
