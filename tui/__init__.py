"""pmax's user interfaces: the `pmax` command line and the Textual app."""
