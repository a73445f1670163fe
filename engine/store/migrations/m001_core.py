"""Core schema: every table the loop writes, keyed as DESIGN.md says.

JSON payloads are VARCHAR columns holding JSON text. Later migrations (other
number blocks, see docs/ARCHITECTURE.md) add columns or tables; this one never
changes once released.
"""

VERSION = 1

SQL = """
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    mode VARCHAR,               -- replay | live | tui
    account VARCHAR,
    first_session DATE,
    last_session DATE,
    sessions INTEGER,
    status VARCHAR,             -- running | finished | failed | interrupted
    pid INTEGER,
    detail VARCHAR
);

CREATE TABLE cycles (
    account VARCHAR,
    session DATE,
    session_index INTEGER,
    run_id VARCHAR,
    n_bars INTEGER,
    committed_at TIMESTAMP,
    PRIMARY KEY (account, session)
);

CREATE TABLE bars (
    ticker VARCHAR,
    date DATE,
    open DOUBLE,
    high DOUBLE,
    low DOUBLE,
    close DOUBLE,
    volume BIGINT,
    source VARCHAR,             -- sample | file:<name> | yfinance | finnhub
    quarantined BOOLEAN DEFAULT FALSE,
    stale BOOLEAN DEFAULT FALSE,
    PRIMARY KEY (ticker, date)
);

CREATE TABLE quality_issues (
    ticker VARCHAR,
    date DATE,
    rule VARCHAR,
    action VARCHAR,             -- flag | repair | quarantine
    detail VARCHAR,
    found_session DATE
);

CREATE TABLE forecasts (
    account VARCHAR,
    as_of DATE,
    ticker VARCHAR,
    model VARCHAR,              -- naive | drift | arima | garch | ssa | lightgbm | neural | ensemble
    horizon INTEGER,            -- sessions ahead
    mean DOUBLE,                -- forecast h-session forward log return
    lower DOUBLE,
    upper DOUBLE,
    level DOUBLE,               -- interval level, e.g. 0.9
    prob_up DOUBLE,
    vol DOUBLE,                 -- forecast h-session volatility (log-return std)
    target_date DATE,           -- session at which the forecast matures
    drivers VARCHAR,            -- JSON: top SHAP drivers [{feature, value, shap}]
    PRIMARY KEY (account, as_of, ticker, model, horizon)
);

CREATE TABLE model_scores (
    account VARCHAR,
    as_of DATE,                 -- session at which the forecast matured and was scored
    forecast_as_of DATE,        -- the forecast's cutoff
    ticker VARCHAR,
    model VARCHAR,
    horizon INTEGER,
    actual DOUBLE,
    mean DOUBLE,
    error DOUBLE,               -- actual - mean
    naive_error DOUBLE,
    covered BOOLEAN,
    hit BOOLEAN,                -- sign(mean) == sign(actual)
    prob_up DOUBLE,
    PRIMARY KEY (account, forecast_as_of, ticker, model, horizon)
);

CREATE TABLE model_weights (
    account VARCHAR,
    as_of DATE,
    model VARCHAR,
    horizon INTEGER,
    weight DOUBLE,
    skill DOUBLE,               -- 1 - MSE(model)/MSE(naive), out-of-sample
    dm_stat DOUBLE,
    dm_pvalue DOUBLE,
    n_scored INTEGER,
    demoted BOOLEAN,
    reason VARCHAR,
    PRIMARY KEY (account, as_of, model, horizon)
);

CREATE TABLE feature_importance (
    account VARCHAR,
    as_of DATE,                 -- refit session
    model VARCHAR,
    horizon INTEGER,
    feature VARCHAR,
    importance DOUBLE,          -- mean |SHAP|
    PRIMARY KEY (account, as_of, model, horizon, feature)
);

CREATE TABLE regimes (
    as_of DATE PRIMARY KEY,
    regime VARCHAR,             -- bull | bear | sideways | crisis
    trend DOUBLE,
    volatility DOUBLE,
    avg_correlation DOUBLE,
    exposure_scale DOUBLE
);

CREATE TABLE signals (
    account VARCHAR,
    as_of DATE,
    ticker VARCHAR,
    action VARCHAR,             -- BUY | SELL | HOLD
    confidence DOUBLE,
    expected_return DOUBLE,
    horizon INTEGER,
    prob_up DOUBLE,
    validated BOOLEAN,          -- passed every layer
    layers VARCHAR,             -- JSON: [{layer, passed, reason}]
    drivers VARCHAR,            -- JSON: SHAP drivers from the forecast
    target_weight DOUBLE,
    base_weight DOUBLE,
    tilt DOUBLE,
    reason VARCHAR,
    PRIMARY KEY (account, as_of, ticker)
);

CREATE TABLE orders (
    order_id VARCHAR PRIMARY KEY,
    account VARCHAR,
    as_of DATE,                 -- session at whose close the order was decided
    ticker VARCHAR,
    side VARCHAR,               -- BUY | SELL
    qty BIGINT,
    type VARCHAR,               -- market | limit
    limit_price DOUBLE,
    status VARCHAR,             -- new | filled | partially_filled | rejected | cancelled
    reason VARCHAR,
    intent VARCHAR,             -- rebalance | signal | flatten | ...
    filled_qty BIGINT DEFAULT 0,
    updated_session DATE
);

CREATE TABLE fills (
    fill_id VARCHAR PRIMARY KEY,
    order_id VARCHAR,
    account VARCHAR,
    date DATE,
    ticker VARCHAR,
    side VARCHAR,
    qty BIGINT,
    price DOUBLE,
    commission DOUBLE,
    slippage DOUBLE
);

CREATE TABLE positions (
    account VARCHAR,
    as_of DATE,
    ticker VARCHAR,
    qty BIGINT,
    avg_cost DOUBLE,
    close DOUBLE,
    market_value DOUBLE,
    weight DOUBLE,
    PRIMARY KEY (account, as_of, ticker)
);

CREATE TABLE equity (
    account VARCHAR,
    as_of DATE,
    cash DOUBLE,
    equity DOUBLE,
    gross DOUBLE,
    net DOUBLE,
    drawdown DOUBLE,
    daily_return DOUBLE,
    PRIMARY KEY (account, as_of)
);

CREATE TABLE risk (
    account VARCHAR,
    as_of DATE,
    var_hist_95 DOUBLE, var_hist_99 DOUBLE, cvar_hist_95 DOUBLE, cvar_hist_99 DOUBLE,
    var_param_95 DOUBLE, var_param_99 DOUBLE, cvar_param_95 DOUBLE, cvar_param_99 DOUBLE,
    var_mc_95 DOUBLE, var_mc_99 DOUBLE, cvar_mc_95 DOUBLE, cvar_mc_99 DOUBLE,
    mc_paths BIGINT, mc_device VARCHAR,
    realised_vol DOUBLE, forecast_vol DOUBLE, beta DOUBLE, drawdown DOUBLE,
    gross DOUBLE, net DOUBLE, concentration DOUBLE,
    regime VARCHAR,
    halted BOOLEAN, halt_reason VARCHAR,
    limit_utilisation VARCHAR,  -- JSON {limit: fraction used}
    stress VARCHAR,             -- JSON {window: portfolio return}
    PRIMARY KEY (account, as_of)
);

CREATE TABLE copilot_messages (
    conversation_id VARCHAR,
    seq INTEGER,
    role VARCHAR,               -- user | assistant
    content VARCHAR,
    sources VARCHAR,            -- JSON list of citations
    backend VARCHAR,
    created_at TIMESTAMP,
    PRIMARY KEY (conversation_id, seq)
);
"""
