"""Market data: providers (local files, yfinance, Finnhub) with failover, the
quality gate, the NYSE calendar, file import into the store and the live feed.

Nothing here imports yfinance, finnhub or exchange_calendars at module level.
"""
