"""Each run records its setup, so a resumed run can tell what changed.

`config_hash` is a SHA-256 of the settings with secrets blanked, `universe` the
comma-joined tickers the feed trades, `data_source` the replay file (name and content
hash) or the live sources. `runs.status` gains `crashed`: a run found `running` by a
later start whose process is gone.
"""

VERSION = 2

SQL = """
ALTER TABLE runs ADD COLUMN config_hash VARCHAR;
ALTER TABLE runs ADD COLUMN universe VARCHAR;
ALTER TABLE runs ADD COLUMN data_source VARCHAR;
"""
