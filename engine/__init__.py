"""pmax's headless core: config, store, market data, forecasting, trading and risk.

Nothing here imports Textual; heavy numeric libraries are imported where used.
"""
