"""Benchmark-relative portfolio: the benchmark's drifted weights and the pre-overlay base.

`benchmark_weights` holds the declared benchmark's weights at each session's close
(equal-weight buy-and-hold drifts with prices and resets only when the universe
changes), so a resumed run drifts from exactly where it stopped. `signals.core_weight`
is the base before overlays (the benchmark's weight, or HRP's when that overlay is
on); with `base_weight` (after overlays) and `tilt` it lets the report attribute
active return to base, overlays and tilts. `portfolio_setup` records the benchmark
and overlays each session ran with, so every report names them from the store.
"""

VERSION = 31

SQL = """
CREATE TABLE benchmark_weights (
    account VARCHAR,
    as_of DATE,
    ticker VARCHAR,
    weight DOUBLE,
    PRIMARY KEY (account, as_of, ticker)
);
ALTER TABLE signals ADD COLUMN core_weight DOUBLE;
CREATE TABLE portfolio_setup (
    account VARCHAR,
    as_of DATE,
    benchmark VARCHAR,          -- equal_weight | cash
    overlays VARCHAR,           -- comma-separated overlays on this session ('' = none)
    PRIMARY KEY (account, as_of)
);
"""
