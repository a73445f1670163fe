"""Portfolio additions: the kill-switch state carried from one session to the next.

`risk.ks_peak` is the high-water mark the drawdown switches measure from (reset
when trading re-arms after a flatten) and `risk.ks_cooldown` the sessions left
flat after a drawdown stop; a resumed run reads them from the last committed row.
"""

VERSION = 30

SQL = """
ALTER TABLE risk ADD COLUMN ks_peak DOUBLE;
ALTER TABLE risk ADD COLUMN ks_cooldown INTEGER;
"""
