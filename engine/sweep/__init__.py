"""Sweeps: a grid of configurations replayed as independent trials, and the trial ledger.

`grid` reads and validates GRID.toml; `trial` runs one replay in a worker on its
own temporary database; `runners` runs trials on a local process pool or a Ray
cluster; `ledger` writes every trial (and every `pmax --run`, via `run_ledger`) to the
main database; `stats` judges the winner (deflated Sharpe, PBO by CSCV);
`driver` ties them together. Never imports Textual.
"""
