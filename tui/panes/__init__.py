"""The five panes of the app and the read-only queries behind them."""
