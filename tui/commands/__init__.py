"""Subcommands of `pmax`, loaded lazily by `tui.cli` so start-up stays fast."""
